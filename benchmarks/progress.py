"""Progress lines of the benchmarks, on stderr (stdout carries only the results)."""

from __future__ import annotations

import sys


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)
