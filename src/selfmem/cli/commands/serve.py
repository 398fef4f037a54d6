"""``selfmem serve-mcp``: the MCP server over stdio (default) or streamable HTTP."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from ..args import SubParsers
from ..common import EXIT_OK, EXIT_USAGE, CommandError, Context

__all__ = ["TOKEN_VARIABLE", "register"]

#: The bearer token HTTP clients must send (``--token-file`` overrides it).
TOKEN_VARIABLE = "SELFMEM_MCP_TOKEN"


def _token(args: argparse.Namespace) -> str | None:
    if args.token_file:
        try:
            token = Path(args.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CommandError(f"cannot read {args.token_file}: {exc.strerror}") from None
        if not token:
            raise CommandError(f"{args.token_file} is empty", EXIT_USAGE)
        return token
    return os.environ.get(TOKEN_VARIABLE) or None


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


@contextmanager
def _graceful_sigterm() -> Iterator[None]:
    """Turn SIGTERM into ``SystemExit(0)``, so the memory is closed (buffered steps written,
    queued learning finished) when a client or a supervisor stops the server. uvicorn
    re-raises the signal after its own graceful shutdown, which lands here too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_serve(ctx: Context) -> int:
    args = ctx.args
    try:
        from ...mcp import build_server, run_http, run_stdio
    except ImportError as exc:
        raise CommandError(str(exc)) from None
    token = _token(args)
    if args.transport == "stdio" and args.token_file:
        raise CommandError("--token-file applies to --transport http only", EXIT_USAGE)
    memory = ctx.memory(create=not args.read_only)  # a read-only server needs a store
    server = build_server(memory, read_only=args.read_only, log_level=args.log_level)
    with _graceful_sigterm():
        if args.transport == "stdio":
            run_stdio(server)
        else:
            run_http(server, host=args.host, port=args.port, path=args.http_path, token=token,
                     log_level=args.log_level.lower())  # fmt: skip
    return EXIT_OK


def register(commands: SubParsers, common: argparse.ArgumentParser) -> None:
    serve = commands.add_parser(
        "serve-mcp",
        parents=[common],
        help="serve the memory to agents over MCP (needs selfmem[mcp])",
        description="Serve the memory over the Model Context Protocol. stdio by default; "
        f"with --transport http, clients must send 'Authorization: Bearer <token>' when "
        f"${TOKEN_VARIABLE} or --token-file gives a token.",
    )
    serve.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    serve.add_argument("--host", default="127.0.0.1", help="HTTP bind address (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="HTTP port (8765)")
    serve.add_argument("--http-path", default="/mcp", help="HTTP endpoint path (/mcp)")
    serve.add_argument("--token-file", metavar="PATH",
                       help=f"file holding the bearer token (else ${TOKEN_VARIABLE})")  # fmt: skip
    serve.add_argument("--read-only", action="store_true",
                       help="leave out the tools that write (start, log, complete...)")  # fmt: skip
    serve.add_argument("--log-level", default="WARNING",
                       choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))  # fmt: skip
    serve.set_defaults(handler=run_serve)
