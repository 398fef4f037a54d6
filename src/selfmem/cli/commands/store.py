"""``selfmem stats``, ``demo``, ``backup`` and ``restore``."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from ...config import is_remote
from ...memory import BackupInfo, backup_store, restore_store
from ..args import SubParsers
from ..common import EXIT_OK, CommandError, Context, confirm
from ..output import count

__all__ = ["register"]


def run_stats(ctx: Context) -> int:
    stats = ctx.memory().stats()
    if ctx.out.json_mode:
        ctx.out.json(asdict(stats))
    else:
        for key, value in asdict(stats).items():
            ctx.out.line(f"{key:<18} {value}")
    return EXIT_OK


def run_demo(ctx: Context) -> int:
    from ..demo import next_commands
    from ..demo import run_demo as demo

    memory = ctx.memory(create=True)
    demo(memory, echo=ctx.out.line)
    ctx.out.line("\nLook at what it recorded:")
    for command in next_commands(ctx.args.path, ctx.args.url, ctx.args.namespace):
        ctx.out.line(f"  {command}")
    return EXIT_OK


def _local_store(ctx: Context, what: str) -> Path:
    location = ctx.location
    if is_remote(location):
        raise CommandError(
            f"{what} works on a local store; for a libSQL server use 'selfmem export' / "
            "'selfmem import', or the server's own backups"
        )
    return Path(location)


def _report(ctx: Context, verb: str, info: BackupInfo) -> None:
    if ctx.out.json_mode:
        ctx.out.json(asdict(info))
    else:
        episodes = count(info.episodes, "episode")
        ctx.out.line(f"{verb} {info.path}: {episodes}, {info.bytes:,} bytes, "
                     f"schema {info.schema_version}")  # fmt: skip


def run_backup(ctx: Context) -> int:
    store_dir = _local_store(ctx, "backup")
    info = backup_store(store_dir, Path(ctx.args.destination), overwrite=ctx.args.force)
    _report(ctx, "backed up to", info)
    return EXIT_OK


def run_restore(ctx: Context) -> int:
    store_dir = _local_store(ctx, "restore")
    if not confirm(f"Replace the store in {store_dir} with {ctx.args.source}?", ctx.args.yes):
        ctx.out.note("nothing restored")
        return EXIT_OK
    info = restore_store(Path(ctx.args.source), store_dir)
    _report(ctx, "restored from", info)
    return EXIT_OK


def register(commands: SubParsers, common: argparse.ArgumentParser) -> None:
    stats = commands.add_parser("stats", parents=[common], help="episode counts")
    stats.set_defaults(handler=run_stats)

    demo = commands.add_parser(
        "demo", parents=[common], help="record a few scripted episodes and retrieve from them"
    )
    demo.set_defaults(handler=run_demo)

    backup = commands.add_parser(
        "backup", parents=[common], help="snapshot the store's database into one file"
    )
    backup.add_argument("destination", help="the backup file to write")
    backup.add_argument("--force", action="store_true", help="replace an existing file")
    backup.set_defaults(handler=run_backup)

    restore = commands.add_parser(
        "restore", parents=[common], help="replace the store's database with a backup"
    )
    restore.add_argument("source", help="a file written by 'selfmem backup'")
    restore.add_argument("-y", "--yes", action="store_true", help="do not ask")
    restore.set_defaults(handler=run_restore)
