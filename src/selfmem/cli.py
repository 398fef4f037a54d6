"""The ``selfmem`` command line: ``selfmem demo``, ``selfmem stats``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict

from .errors import SelfMemError
from .memory import SelfLearningMemory

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="selfmem", description="Self-learning episodic memory for agents."
    )
    parser.add_argument("--path", help="store directory (default ./.selfmem or $SELFMEM_PATH)")
    parser.add_argument("--url", help="libSQL server URL (default $SELFMEM_DATABASE_URL)")
    parser.add_argument("--namespace", help="namespace to use (default 'default')")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="record a few scripted episodes and retrieve from them")
    demo.set_defaults(namespace_default="demo")
    stats = commands.add_parser("stats", help="episode counts")
    stats.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``selfmem`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    namespace = args.namespace or getattr(args, "namespace_default", None)
    try:
        with SelfLearningMemory.open(args.url or args.path, namespace=namespace) as memory:
            if args.command == "demo":
                from .demo import run_demo

                run_demo(memory)
            else:
                stats = memory.stats()
                if args.json:
                    print(json.dumps(asdict(stats)))
                else:
                    for key, value in asdict(stats).items():
                        print(f"{key:<18} {value}")
    except SelfMemError as exc:
        print(f"selfmem: error: {exc}", file=sys.stderr)
        return 1
    return 0
