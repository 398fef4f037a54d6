"""``selfmem pattern list | show``, ``heuristic list``, ``recommend``, ``relearn``, ``reembed``."""

from __future__ import annotations

import argparse

from ...config import MAX_PAGE
from ..args import KINDS, SubParsers, add_context_options, context_from, positive_int
from ..common import EXIT_OK, Context
from ..output import count
from ..progress import Progress
from ..render import pattern_record, show_pattern

__all__ = ["register"]


def run_pattern_list(ctx: Context) -> int:
    args = ctx.args
    patterns = ctx.memory().list_patterns(args.kind, include_unserved=args.all, limit=args.limit)
    if ctx.out.json_mode:
        ctx.out.json([pattern_record(p) for p in patterns])
    else:
        rows = [(p.id, p.kind.value, p.support, p.successes, p.confidence, p.describe())
                for p in patterns]  # fmt: skip
        headers = ("id", "kind", "support", "successes", "confidence", "pattern")
        ctx.out.table(headers, rows, empty="no patterns learned yet")
    return EXIT_OK


def run_pattern_show(ctx: Context) -> int:
    pattern = ctx.memory().get_pattern(ctx.args.pattern_id)
    if ctx.out.json_mode:
        ctx.out.json(pattern_record(pattern))
    else:
        show_pattern(ctx.out, pattern)
    return EXIT_OK


def run_heuristic_list(ctx: Context) -> int:
    heuristics = ctx.memory().list_heuristics(limit=ctx.args.limit)
    if ctx.out.json_mode:
        ctx.out.json([h.model_dump(mode="json") for h in heuristics])
    else:
        rows = [(h.id, h.kind.value, h.confidence, h.evidence, h.explain()) for h in heuristics]
        ctx.out.table(("id", "kind", "confidence", "evidence", "rule"), rows,
                      empty="no heuristics learned yet")  # fmt: skip
    return EXIT_OK


def run_recommend(ctx: Context) -> int:
    args = ctx.args
    ranked = ctx.memory().recommend_patterns(
        args.task, context_from(args), args.limit, task_type=args.task_type,
        include_partial=args.include_partial,
    )  # fmt: skip
    if ctx.out.json_mode:
        ctx.out.json([
            {"score": s.score, "signals": s.signals, "pattern": pattern_record(s.pattern),
             "heuristic": s.heuristic.model_dump(mode="json")}
            for s in ranked
        ])  # fmt: skip
        return EXIT_OK
    if not ranked:
        ctx.out.note("nothing learned applies to this task yet")
        return EXIT_OK
    rows = [(s.score, s.pattern.kind.value, s.pattern.confidence, s.heuristic
             .explain()) for s in ranked]  # fmt: skip
    ctx.out.table(("score", "kind", "confidence", "recommendation"), rows, empty="")
    return EXIT_OK


def run_relearn(ctx: Context) -> int:
    memory = ctx.memory()
    with Progress("relearning") as bar:
        seen = memory.relearn(progress=bar.update)
    patterns = len(memory.list_patterns(include_unserved=True, limit=MAX_PAGE))
    heuristics = len(memory.list_heuristics(limit=MAX_PAGE))
    if ctx.out.json_mode:
        ctx.out.json({"episodes": seen, "patterns": patterns, "heuristics": heuristics})
    else:
        ctx.out.line(f"relearned from {count(seen, 'episode')}: {count(patterns, 'pattern')}, "
                     f"{count(heuristics, 'heuristic')}")  # fmt: skip
    return EXIT_OK


def run_reembed(ctx: Context) -> int:
    if not ctx.args.embeddings:
        ctx.args.embeddings = True  # re-embedding means the embedding model, always
    memory = ctx.memory()
    with Progress("embedding") as bar:
        embedded = memory.reembed(progress=bar.update)
    if ctx.out.json_mode:
        ctx.out.json({"embedded": embedded})
    else:
        ctx.out.line(f"embedded {count(embedded, 'episode')} that had no vector of the current "
                     "model")  # fmt: skip
    return EXIT_OK


def register(commands: SubParsers, common: argparse.ArgumentParser) -> None:
    pattern = commands.add_parser("pattern", parents=[common], help="learned patterns")
    actions = pattern.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[common], help="patterns, most effective first")
    listing.add_argument("--kind", choices=KINDS)
    listing.add_argument("--all", action="store_true", help="also patterns not served yet")
    listing.add_argument("--limit", type=positive_int, default=50)
    listing.set_defaults(handler=run_pattern_list)
    show = actions.add_parser("show", parents=[common], help="one pattern and its evidence")
    show.add_argument("pattern_id")
    show.set_defaults(handler=run_pattern_show)

    heuristic = commands.add_parser(
        "heuristic", parents=[common], help="rules derived from patterns"
    )
    h_actions = heuristic.add_subparsers(dest="action", required=True, metavar="ACTION")
    h_list = h_actions.add_parser("list", parents=[common], help="rules, most confident first")
    h_list.add_argument("--limit", type=positive_int, default=50)
    h_list.set_defaults(handler=run_heuristic_list)

    recommend = commands.add_parser(
        "recommend", parents=[common], help="what to try for a task, from learned patterns"
    )
    recommend.add_argument("task", help="the task, in words")
    add_context_options(recommend)
    recommend.add_argument("--limit", type=positive_int, default=5)
    partial = recommend.add_mutually_exclusive_group()
    partial.add_argument(
        "--include-partial", dest="include_partial", action="store_true", default=True,
        help="when no similar run succeeded yet, show how far the most similar runs got "
        "(the default)",
    )  # fmt: skip
    partial.add_argument(
        "--no-partial", dest="include_partial", action="store_false",
        help="show only what has worked: nothing when no similar run succeeded yet",
    )  # fmt: skip
    recommend.set_defaults(handler=run_recommend)

    relearn = commands.add_parser(
        "relearn", parents=[common], help="rebuild patterns and heuristics from all episodes"
    )
    relearn.set_defaults(handler=run_relearn)

    reembed = commands.add_parser(
        "reembed",
        parents=[common],
        help="embed every episode without a vector of the current model (MiniLM)",
    )
    reembed.set_defaults(handler=run_reembed)
