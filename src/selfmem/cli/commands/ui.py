"""``selfmem ui``: the local web dashboard (needs selfmem[ui])."""

from __future__ import annotations

import argparse
import os

from ...config import is_remote
from ..args import SubParsers
from ..common import EXIT_OK, EXIT_USAGE, CommandError, Context

__all__ = ["TOKEN_VARIABLE", "register"]

#: The bearer token the dashboard asks for (``--token`` overrides it).
TOKEN_VARIABLE = "SELFMEM_UI_TOKEN"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def run_ui(ctx: Context) -> int:
    args = ctx.args
    try:
        from ...ui import serve
    except ImportError as exc:
        raise CommandError(str(exc)) from None
    token = args.token or os.environ.get(TOKEN_VARIABLE) or None
    if args.host not in _LOOPBACK and not token:
        raise CommandError(
            f"--host {args.host} needs a bearer token: --token or ${TOKEN_VARIABLE}", EXIT_USAGE
        )
    memory = ctx.memory()
    location = None if is_remote(ctx.location) else ctx.location
    mode = "writes allowed" if args.allow_writes else "read-only"
    ctx.out.note(f"selfmem ui: http://{args.host}:{args.port}/ ({mode}; Ctrl-C stops)")
    serve(memory, host=args.host, port=args.port, allow_writes=args.allow_writes, token=token,
          location=location, log_level=args.log_level.lower(),
          charts_max_age_s=args.charts_max_age)  # fmt: skip
    return EXIT_OK


def register(commands: SubParsers, common: argparse.ArgumentParser) -> None:
    ui = commands.add_parser(
        "ui",
        parents=[common],
        help="browse the memory in a local web dashboard (needs selfmem[ui])",
        description="Serve a web dashboard of the memory: episodes, patterns, learning, ask, "
        "health. Read-only and on 127.0.0.1 unless told otherwise; another --host needs a "
        f"token (--token or ${TOKEN_VARIABLE}).",
    )
    ui.add_argument("--host", default="127.0.0.1", help="bind address (127.0.0.1)")
    ui.add_argument("--port", type=int, default=8766, help="port (8766)")
    ui.add_argument("--allow-writes", action="store_true",
                    help="allow deleting episodes and recording feedback")  # fmt: skip
    ui.add_argument("--token", help=f"bearer token to require (else ${TOKEN_VARIABLE})")
    ui.add_argument("--charts-max-age", type=float, default=30.0, metavar="SECONDS",
                    help="reuse the learning charts this long (30; 0: always fresh)")  # fmt: skip
    ui.add_argument("--log-level", default="WARNING",
                    choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))  # fmt: skip
    ui.set_defaults(handler=run_ui)
