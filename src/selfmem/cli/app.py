"""The ``selfmem`` command: the parser, the dispatch, and the mapping of errors to exit codes.

Exit codes: 0 success, 1 the operation failed, 2 bad arguments or invalid input,
3 an id that does not exist, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from ..errors import InvalidInputError, NotFoundError, SelfMemError
from .args import add_global_options
from .commands import episodes, learning, serve, store, transfer, ui
from .common import EXIT_ERROR, EXIT_NOT_FOUND, EXIT_USAGE, CommandError, Context
from .output import Output

__all__ = ["build_parser", "main"]

Handler = Callable[[Context], int]

_EPILOG = """\
The store is --url or --path, else $SELFMEM_DATABASE_URL (token in $SELFMEM_AUTH_TOKEN),
else $SELFMEM_PATH, else ./.selfmem. The namespace is --namespace, else $SELFMEM_NAMESPACE,
else 'default'. Exit codes: 0 ok, 1 failed, 2 bad input, 3 not found.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="selfmem",
        description="Self-learning episodic memory for agents.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"selfmem {__version__}")
    add_global_options(parser, after_command=False)
    # Every subcommand takes the global options too (``selfmem serve-mcp --path X``).
    common = argparse.ArgumentParser(add_help=False)
    add_global_options(common, after_command=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (episodes, learning, store, transfer, serve, ui):
        module.register(commands, common)
    return parser


def _fail(out: Output, message: str, code: int) -> int:
    out.note(f"selfmem: error: {message}")
    return code


def _run(handler: Handler, ctx: Context) -> int:
    try:
        return handler(ctx)
    finally:
        ctx.close()


def _quiet_broken_pipe() -> None:
    """The reader of stdout went away (``selfmem export | head``): stop writing there."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``selfmem`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.path is not None and args.url is not None:
        parser.error("argument --url: not allowed with argument --path")
    out = Output(args.json)
    handler: Handler = args.handler
    try:
        return _run(handler, Context(args, out))
    except CommandError as exc:
        return _fail(out, str(exc), exc.code)
    except NotFoundError as exc:
        return _fail(out, str(exc), EXIT_NOT_FOUND)
    except InvalidInputError as exc:
        return _fail(out, str(exc), EXIT_USAGE)
    except SelfMemError as exc:
        return _fail(out, str(exc), EXIT_ERROR)
    except BrokenPipeError:
        _quiet_broken_pipe()
        return EXIT_ERROR
    except OSError as exc:
        return _fail(out, str(exc), EXIT_ERROR)
    except KeyboardInterrupt:
        out.note("selfmem: interrupted")
        return 130
