"""``selfmem episode start | log-step | complete``: record episodes from a shell.

Each call is its own process: ``start`` prints the id, ``log-step`` writes the step before
it exits, and ``complete`` finds the open episode in the store::

    eid=$(selfmem episode start "Fix the flaky test" --domain ci)
    pytest 2>&1 | selfmem episode log-step "$eid" --tool pytest --observation-file -
    selfmem episode complete "$eid" --status success --verdict "green again"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ...records.episodes import TaskType
from ..args import SubParsers, add_context_options, context_from
from ..common import EXIT_OK, EXIT_USAGE, CommandError, Context, parse_json_object
from ..render import show_episode

__all__ = ["register"]

_STATUS = {"success": "success", "partial": "partial_success",
           "partial_success": "partial_success", "failure": "failure",
           "abandoned": "abandoned"}  # fmt: skip


def run_start(ctx: Context) -> int:
    args = ctx.args
    memory = ctx.memory(create=True)
    episode_id = memory.start_episode(
        args.description,
        context_from(args),
        args.task_type or TaskType.OTHER,
        metadata=parse_json_object(args.metadata, "--metadata"),
    )
    if ctx.out.json_mode:
        ctx.out.json({"episode_id": episode_id, "namespace": memory.namespace})
    else:
        ctx.out.line(episode_id)
    return EXIT_OK


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None


def run_log_step(ctx: Context) -> int:
    args = ctx.args
    step: dict[str, Any] = {"tool": args.tool, "action": args.action or "",
                            "latency_ms": args.latency_ms}  # fmt: skip
    parameters = parse_json_object(args.parameters, "--parameters")
    if parameters is not None:
        step["parameters"] = parameters
    if args.observation_file is not None:
        step["observation"] = _read_text(args.observation_file)
    elif args.observation is not None:
        step["observation"] = args.observation
    for name in ("error", "tokens", "success"):
        if getattr(args, name) is not None:
            step[name] = getattr(args, name)
    stored = ctx.memory().log_step(args.episode_id, step)
    if ctx.out.json_mode:
        ctx.out.json({"episode_id": args.episode_id, "step_number": stored.step_number,
                      "success": stored.success,
                      "truncated": stored.metadata.get("truncated", [])})  # fmt: skip
    else:
        state = "ok" if stored.success else "failed"
        ctx.out.line(f"step {stored.step_number} logged ({stored.tool}, {state})")
    return EXIT_OK


def run_complete(ctx: Context) -> int:
    args = ctx.args
    status = _STATUS[args.status]
    reason = args.reason or (args.verdict if status in ("failure", "abandoned") else None)
    if status == "failure" and not reason:
        raise CommandError("a failure needs --reason (or --verdict)", EXIT_USAGE)
    outcome = {"status": status, "verdict": args.verdict or "", "reason": reason,
               "error_details": args.error_details, "artifacts": args.artifacts or [],
               "completed": args.done or [], "failed": args.not_done or []}  # fmt: skip
    episode = ctx.memory().complete_episode(args.episode_id, outcome)
    if ctx.out.json_mode:
        ctx.out.json(episode.model_dump(mode="json"))
    else:
        show_episode(ctx.out, episode, steps=False)
    return EXIT_OK


def register(actions: SubParsers, common: argparse.ArgumentParser) -> None:
    start = actions.add_parser("start", parents=[common], help="start an episode; prints its id")
    start.add_argument("description", help="the task, in words")
    add_context_options(start, complexity=True)
    start.add_argument("--metadata", metavar="JSON", help="a JSON object kept with the episode")
    start.set_defaults(handler=run_start)

    log = actions.add_parser("log-step", parents=[common], help="add a step to an open episode")
    log.add_argument("episode_id")
    log.add_argument("--tool", required=True, help="the tool (or action) used")
    log.add_argument("--action", help="what was done, briefly")
    log.add_argument("--parameters", metavar="JSON", help="the tool's arguments, a JSON object")
    text = log.add_mutually_exclusive_group()
    text.add_argument("--observation", help="the tool's result")
    text.add_argument("--observation-file", metavar="PATH",
                      help="read the result from a file ('-' for stdin)")  # fmt: skip
    log.add_argument("--error", help="the error, if the step failed")
    ok = log.add_mutually_exclusive_group()
    ok.add_argument("--success", dest="success", action="store_const", const=True)
    ok.add_argument("--failed", dest="success", action="store_const", const=False)
    log.add_argument("--latency-ms", type=float, default=0.0)
    log.add_argument("--tokens", type=int)
    log.set_defaults(handler=run_log_step, success=None)

    done = actions.add_parser("complete", parents=[common], help="finish an episode")
    done.add_argument("episode_id")
    done.add_argument("--status", required=True, choices=sorted(_STATUS))
    done.add_argument("--verdict", help="one line on the result")
    done.add_argument("--reason", help="why it failed (needed for a failure)")
    done.add_argument("--error-details")
    done.add_argument("--artifact", dest="artifacts", action="append", metavar="PATH")
    done.add_argument("--done", action="append", metavar="ITEM", help="sub-goal done (partial)")
    done.add_argument("--not-done", action="append", metavar="ITEM", help="sub-goal not done")
    done.set_defaults(handler=run_complete)
