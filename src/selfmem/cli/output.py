"""Output: aligned tables and key-value blocks for people, ``--json`` for scripts.

Results go to stdout; notes, warnings and errors to stderr, so ``--json`` output can
always be piped into a JSON parser.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TextIO

__all__ = ["Output", "cell", "count", "render_table"]

MAX_CELL = 60


def cell(value: Any, width: int = MAX_CELL) -> str:
    """One table cell: ``-`` for None, floats to 3 places, datetimes to the second,
    text on one line and cut to ``width`` with an ellipsis."""
    if value is None:
        text = "-"
    elif isinstance(value, float):
        text = f"{value:.3f}"
    elif isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
    else:
        text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def count(number: int, noun: str, plural: str | None = None) -> str:
    """``1 episode``, ``2 episodes``, ``0 episodes``: a number and its noun, agreeing."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def render_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Left-aligned columns separated by two spaces, with a rule under the header.

    Cells are cut to ``MAX_CELL`` characters except in the last column, which is kept whole.
    """
    last = len(headers) - 1
    body = [[cell(v, 10_000 if i == last else MAX_CELL) for i, v in enumerate(row)] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(headers)]
    widths[last] = 0  # the last column is not padded
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in [*widths[:last], len(headers[last])]))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in body]
    return "\n".join(lines)


class Output:
    """Where a command writes; ``json_mode`` selects the machine-readable form."""

    def __init__(
        self, json_mode: bool, stdout: TextIO | None = None, stderr: TextIO | None = None
    ) -> None:
        self.json_mode = json_mode
        self._out = stdout
        self._err = stderr

    @property
    def stdout(self) -> TextIO:
        return self._out or sys.stdout

    @property
    def stderr(self) -> TextIO:
        return self._err or sys.stderr

    def line(self, text: str = "") -> None:
        print(text, file=self.stdout)

    def note(self, text: str) -> None:
        """A message for people, on stderr (never mixed into results)."""
        print(text, file=self.stderr)

    def json(self, value: Any) -> None:
        print(json.dumps(value, ensure_ascii=False, default=str), file=self.stdout)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]], empty: str) -> None:
        if rows:
            self.line(render_table(headers, rows))
        else:
            self.note(empty)

    def fields(self, pairs: Iterable[tuple[str, Any]], width: int = 18) -> None:
        """``key   value`` lines; long values are kept whole."""
        for key, value in pairs:
            self.line(f"{key:<{width}} {cell(value, width=10_000)}")
