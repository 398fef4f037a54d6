"""Argument helpers several commands share: the task context options and choices."""

from __future__ import annotations

import argparse
from typing import Any, TypeAlias

from ..records.episodes import MAX_TASK_TYPE_CHARS, ComplexityLevel, OutcomeStatus, TaskType
from ..records.learned import PatternKind

__all__ = [
    "KINDS",
    "OUTCOMES",
    "TASK_TYPES",
    "SubParsers",
    "add_context_options",
    "add_global_options",
    "context_from",
    "positive_int",
    "task_type",
]

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

TASK_TYPES = [t.value for t in TaskType]
OUTCOMES = [o.value for o in OutcomeStatus]
KINDS = [k.value for k in PatternKind]


def add_global_options(parser: argparse.ArgumentParser, *, after_command: bool) -> None:
    """``--path`` / ``--url``, ``--namespace``, ``--json`` and ``--embeddings``.

    Added to the top-level parser and, with ``after_command``, to every subcommand, so
    ``selfmem --path X stats`` and ``selfmem stats --path X`` are the same. After the command
    the defaults are suppressed: an option given there never resets one given before it.
    """
    unset: Any = argparse.SUPPRESS if after_command else None
    off: Any = argparse.SUPPRESS if after_command else False
    group = parser.add_argument_group("global options (before or after the command)")
    where = group.add_mutually_exclusive_group()
    where.add_argument(
        "--path", default=unset, help="store directory (default ./.selfmem or $SELFMEM_PATH)"
    )
    where.add_argument(
        "--url", default=unset, help="libSQL server URL (default $SELFMEM_DATABASE_URL)"
    )
    group.add_argument(
        "--namespace", default=unset, help="namespace (default $SELFMEM_NAMESPACE or 'default')"
    )
    group.add_argument("--json", action="store_true", default=off, help="machine-readable output")
    group.add_argument(
        "--embeddings",
        action="store_true",
        default=off,
        help="semantic retrieval with the offline MiniLM model (needs selfmem[embeddings])",
    )


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def task_type(text: str) -> TaskType:
    """An argparse type: a known task type or a custom one (``planning``, ``code-review``)."""
    try:
        return TaskType(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid task type {text!r}: a lowercase letter followed by at most "
            f"{MAX_TASK_TYPE_CHARS - 1} lowercase letters, digits, '_' or '-' "
            f"(known: {', '.join(TASK_TYPES)})"
        ) from None


def add_context_options(parser: argparse.ArgumentParser, *, complexity: bool = False) -> None:
    """``--domain``, ``--language``, ``--framework``, ``--tag`` (repeatable), ``--task-type``."""
    group = parser.add_argument_group("task context")
    group.add_argument("--domain", help="area of work, e.g. web")
    group.add_argument("--language", help="programming language, e.g. python")
    group.add_argument("--framework", help="framework, e.g. fastapi")
    group.add_argument("--tag", action="append", dest="tags", metavar="TAG", help="repeatable")
    group.add_argument(
        "--task-type",
        type=task_type,
        metavar="TYPE",
        help=f"kind of work: {', '.join(TASK_TYPES)}, or your own (e.g. planning)",
    )
    if complexity:
        group.add_argument("--complexity", choices=[c.value for c in ComplexityLevel])


def context_from(args: argparse.Namespace) -> dict[str, Any] | None:
    """The task context the options describe, or None when no option was given."""
    fields = {
        "domain": args.domain,
        "language": args.language,
        "framework": args.framework,
        "tags": args.tags,
        "complexity": getattr(args, "complexity", None),
    }
    given = {key: value for key, value in fields.items() if value is not None}
    return given or None
