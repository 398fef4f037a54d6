"""``selfmem export [FILE]`` and ``selfmem import [FILE]`` (JSON Lines, ``-`` for stdio)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from ...config import resolve_location
from ...memory import SelfLearningMemory
from .. import import_learning
from ..args import SubParsers
from ..common import EXIT_OK, EXIT_USAGE, CommandError, Context
from ..import_learning import LearningBeside
from ..output import count as plural
from ..progress import Progress
from ..transfer import CheckedEpisodes, ImportScan, export_episodes, import_checked, scan_lines

__all__ = ["register"]

_SHOWN = 20  # bad lines listed before "... and N more"


@contextmanager
def _sink(target: str) -> Iterator[TextIO]:
    """stdout, or a file written next to its final name and renamed when complete."""
    if target == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    path = Path(target)
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as handle:
            yield handle
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)


def run_export(ctx: Context) -> int:
    memory = ctx.memory()
    stats = memory.stats()
    total = stats.episodes - (stats.open_episodes if ctx.args.completed_only else 0)
    with _sink(ctx.args.file) as sink, Progress("exporting", total) as bar:
        count = export_episodes(
            memory, sink, completed_only=ctx.args.completed_only, progress=bar.update
        )
    message = f"exported {plural(count, 'episode')} from namespace {memory.namespace!r}"
    if ctx.args.file == "-":
        ctx.out.note(message)
    elif ctx.out.json_mode:
        ctx.out.json({"exported": count, "file": ctx.args.file, "namespace": memory.namespace})
    else:
        ctx.out.line(f"{message} to {ctx.args.file}")
    return EXIT_OK


@contextmanager
def _source(name: str) -> Iterator[Iterable[bytes]]:
    """The lines of the file, or of stdin. They are read once: the checking pass keeps
    the episodes it accepted for the write pass."""
    if name == "-":
        stdin = getattr(sys.stdin, "buffer", None)
        # a text-only stream (e.g. replaced in tests) is encoded line by line
        yield stdin if stdin is not None else (line.encode() for line in sys.stdin)
        return
    path = Path(name)
    if not path.is_file():
        raise CommandError(f"no such file: {name}")
    with path.open("rb") as lines:
        yield lines


def _report_bad(ctx: Context, scan: ImportScan, skip_existing: bool) -> None:
    problems = [str(bad) for bad in scan.bad]
    if not skip_existing:
        problems += [f"line {n}: an episode with this id exists already" for n in scan.existing]
    for problem in problems[:_SHOWN]:
        ctx.out.note(f"selfmem: {problem}")
    if len(problems) > _SHOWN:
        ctx.out.note(f"selfmem: ... and {len(problems) - _SHOWN} more")


def run_import(ctx: Context) -> int:
    args = ctx.args
    memory = ctx.memory(create=True)
    beside = _learns_beside(ctx)
    with (
        _source(args.file) as lines,
        CheckedEpisodes(named=beside) as checked,
        _learning(ctx, memory, checked, beside) as learning,
    ):
        with Progress("checking") as bar:
            scan = scan_lines(memory, lines, progress=bar.update, keep=checked)
        blocking = len(scan.bad) + (0 if args.skip_existing else len(scan.existing))
        _report_bad(ctx, scan, args.skip_existing)
        if blocking and not args.skip_bad:
            raise CommandError(
                f"{plural(blocking, 'bad line')}; nothing was imported "
                "(fix them, or pass --skip-bad to import the good lines)",
                EXIT_USAGE,
            )
        with Progress("importing", scan.good) as bar:
            count = import_checked(memory, checked, progress=bar.update)
        relearned = None
        if count and not args.no_relearn:
            with Progress("relearning") as bar:
                if learning is not None:
                    relearned = learning.finish(progress=bar.update)
                if relearned is None:
                    relearned = memory.relearn(progress=bar.update)
    skipped = {"bad": len(scan.bad), "existing": len(scan.existing)}
    if ctx.out.json_mode:
        ctx.out.json({"imported": count, "skipped": skipped, "relearned": relearned,
                      "namespace": memory.namespace})  # fmt: skip
    else:
        imported = plural(count, "episode")
        ctx.out.line(f"imported {imported} into namespace {memory.namespace!r} (skipped "
                     f"{skipped['bad']} bad, {skipped['existing']} existing)")  # fmt: skip
    return EXIT_OK


def _learns_beside(ctx: Context) -> bool:
    """Whether to relearn in a second process beside the import (see
    :mod:`..import_learning`): a large file, relearning wanted, a store another process can
    open."""
    args = ctx.args
    if args.no_relearn or args.file == "-":
        return False
    try:
        size = Path(args.file).stat().st_size
    except OSError:
        return False  # the import reports it
    return size >= import_learning.MIN_BYTES


@contextmanager
def _learning(
    ctx: Context, memory: SelfLearningMemory, checked: CheckedEpisodes, beside: bool
) -> Iterator[LearningBeside | None]:
    if not beside:
        yield None
        return
    location, token = resolve_location(ctx.args.url or ctx.args.path, None)
    with LearningBeside(memory, location, token, checked) as learning:
        yield learning


def register(commands: SubParsers, common: argparse.ArgumentParser) -> None:
    export = commands.add_parser(
        "export", parents=[common], help="write every episode as JSON Lines"
    )
    export.add_argument("file", nargs="?", default="-", help="output file (default: stdout)")
    export.add_argument("--completed-only", action="store_true", help="leave open episodes out")
    export.set_defaults(handler=run_export)

    imp = commands.add_parser(
        "import", parents=[common], help="read episodes from JSON Lines (ids kept)"
    )
    imp.add_argument("file", nargs="?", default="-", help="input file (default: stdin)")
    imp.add_argument("--skip-bad", action="store_true",
                     help="import the good lines even if some are bad")  # fmt: skip
    imp.add_argument("--skip-existing", action="store_true",
                     help="skip episodes whose id is already stored (not an error)")  # fmt: skip
    imp.add_argument("--no-relearn", action="store_true",
                     help="do not rebuild patterns afterwards")  # fmt: skip
    imp.set_defaults(handler=run_import)
