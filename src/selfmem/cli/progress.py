"""A progress bar on stderr, drawn only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]

_WIDTH = 30
_INTERVAL_S = 0.1


class Progress:
    """``with Progress("export", total) as bar: bar.advance()``.

    Silent when the stream is not a TTY (pipes, files, CI logs), so it never pollutes
    captured output. ``total`` may be unknown (``None``): then only the count is shown.
    """

    def __init__(
        self,
        label: str,
        total: int | None = None,
        stream: TextIO | None = None,
        enabled: bool | None = None,
    ) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream or sys.stderr
        self.enabled = self._stream.isatty() if enabled is None else enabled
        self._drawn_at = 0.0
        self._visible = False

    def update(self, done: int, total: int | None = None) -> None:
        """Set the absolute count (and the total, if it became known)."""
        self.done = done
        if total is not None:
            self.total = total
        self._draw(force=False)

    def advance(self, step: int = 1) -> None:
        self.update(self.done + step)

    def render(self) -> str:
        if not self.total:
            return f"{self.label}: {self.done}"
        fraction = min(self.done / self.total, 1.0)
        filled = int(fraction * _WIDTH)
        bar = "#" * filled + "-" * (_WIDTH - filled)
        return f"{self.label} [{bar}] {fraction:4.0%} {self.done}/{self.total}"

    def _draw(self, force: bool) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._drawn_at < _INTERVAL_S:
            return
        self._drawn_at = now
        self._stream.write("\r" + self.render())
        self._stream.flush()
        self._visible = True

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self.enabled:
            self._draw(force=True)
            if self._visible:
                self._stream.write("\n")
                self._stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
