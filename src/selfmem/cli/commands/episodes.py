"""``selfmem episode list | show | search | delete`` (and the lifecycle commands)."""

from __future__ import annotations

import argparse
from typing import Any

from ...errors import NotFoundError
from ...records.episodes import Episode
from ..args import (
    OUTCOMES,
    TASK_TYPES,
    SubParsers,
    add_context_options,
    context_from,
    positive_int,
    task_type,
)
from ..common import EXIT_NOT_FOUND, EXIT_OK, Context, confirm
from ..output import count
from ..render import episode_header, show_episode
from . import lifecycle

__all__ = ["register"]

_LIST_HEADERS = ("id", "started", "type", "domain", "outcome", "reward", "task")


def _row(episode: Episode) -> tuple[Any, ...]:
    outcome = episode.outcome.status.value if episode.outcome else "open"
    reward = episode.reward.total if episode.reward else None
    return (episode.id, episode.start_time, episode.task_type.value, episode.context.domain,
            outcome, reward, episode.task_description)  # fmt: skip


def run_list(ctx: Context) -> int:
    args = ctx.args
    episodes = ctx.memory().list_episodes(
        domain=args.domain, task_type=args.task_type, outcome=args.outcome,
        open_only=args.status == "open", completed_only=args.status == "completed",
        limit=args.limit, offset=args.offset, include_steps=False,
    )  # fmt: skip
    if ctx.out.json_mode:
        ctx.out.json([episode_header(e) for e in episodes])
    else:
        ctx.out.table(_LIST_HEADERS, [_row(e) for e in episodes], empty="no episodes")
    return EXIT_OK


def run_show(ctx: Context) -> int:
    episode = ctx.memory().get_episode(ctx.args.episode_id)
    if ctx.out.json_mode:
        ctx.out.json(episode.model_dump(mode="json"))
    else:
        show_episode(ctx.out, episode, steps=not ctx.args.no_steps)
    return EXIT_OK


def run_search(ctx: Context) -> int:
    args = ctx.args
    result = ctx.memory().retrieve_relevant_context(
        args.query, context_from(args), args.limit,
        task_type=args.task_type, success_only=args.success_only,
    )  # fmt: skip
    rendered = result.render(max_tokens=args.max_tokens)
    if ctx.out.json_mode:
        ctx.out.json({
            "query": result.query,
            "rendered": rendered,
            "episodes": [
                {"score": s.score, "signals": s.signals, "episode": episode_header(s.episode)}
                for s in result.episodes
            ],
            "pattern_ids": result.pattern_ids(),
        })  # fmt: skip
    elif args.render:
        ctx.out.line(rendered or "nothing relevant found")
    else:
        rows = [(scored.score, *_row(scored.episode)) for scored in result.episodes]
        ctx.out.table(("score", *_LIST_HEADERS), rows, empty="no matches")
    return EXIT_OK


def run_delete(ctx: Context) -> int:
    ids: list[str] = ctx.args.episode_ids
    if not confirm(f"Delete {count(len(ids), 'episode')} for good?", ctx.args.yes):
        ctx.out.note("nothing deleted")
        return EXIT_OK
    memory = ctx.memory()
    deleted: list[str] = []
    missing: list[str] = []
    for episode_id in ids:
        try:
            memory.delete_episode(episode_id)
            deleted.append(episode_id)
        except NotFoundError as exc:
            missing.append(episode_id)
            ctx.out.note(f"selfmem: error: {exc}")
    if ctx.out.json_mode:
        ctx.out.json({"deleted": deleted, "not_found": missing})
    else:
        for episode_id in deleted:
            ctx.out.line(f"deleted {episode_id}")
    return EXIT_NOT_FOUND if missing else EXIT_OK


def register(commands: SubParsers, common: argparse.ArgumentParser) -> None:
    episode = commands.add_parser(
        "episode", parents=[common], help="list, show, search, delete and record episodes"
    )
    actions = episode.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser("list", parents=[common], help="episodes, newest first")
    listing.add_argument("--domain")
    listing.add_argument("--task-type", type=task_type, metavar="TYPE",
                         help=f"{', '.join(TASK_TYPES)}, or a custom task type")  # fmt: skip
    listing.add_argument("--outcome", choices=OUTCOMES)
    status = listing.add_mutually_exclusive_group()
    status.add_argument("--open", dest="status", action="store_const", const="open",
                        help="only episodes never completed")  # fmt: skip
    status.add_argument("--completed", dest="status", action="store_const", const="completed")
    listing.add_argument("--limit", type=positive_int, default=20)
    listing.add_argument("--offset", type=int, default=0)
    listing.set_defaults(handler=run_list, status="any")

    show = actions.add_parser("show", parents=[common], help="one episode in full")
    show.add_argument("episode_id")
    show.add_argument("--no-steps", action="store_true", help="leave the steps out")
    show.set_defaults(handler=run_show)

    search = actions.add_parser(
        "search", parents=[common], help="episodes relevant to a task, ranked and explained"
    )
    search.add_argument("query", help="the task, in words")
    add_context_options(search)
    search.add_argument("--limit", type=positive_int, default=5)
    search.add_argument("--success-only", action="store_true")
    search.add_argument("--render", action="store_true", help="print the prompt text instead")
    search.add_argument("--max-tokens", type=positive_int, default=400)
    search.set_defaults(handler=run_search)

    delete = actions.add_parser("delete", parents=[common], help="delete episodes for good")
    delete.add_argument("episode_ids", nargs="+", metavar="episode_id")
    delete.add_argument("-y", "--yes", action="store_true", help="do not ask")
    delete.set_defaults(handler=run_delete)

    lifecycle.register(actions, common)
