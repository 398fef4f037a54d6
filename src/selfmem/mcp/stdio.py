"""The stdio transport, with a filter in front of stdin so that every request is answered.

The SDK parses each incoming line with a strict JSON parser that refuses a lone surrogate
escape (``"report-\\udcff.txt"``), which Python's ``json`` and other clients write for
undecodable text such as a file name. The line is then dropped without a reply, and the
client waits forever. Here each line passes through a thread on its way in: an escape of a
lone surrogate becomes ``\\ufffd`` (U+FFFD, the replacement character), surrogate pairs and
everything else are left byte for byte, and the request is served like any other.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer

__all__ = ["fix_line", "run_stdio"]

logger = logging.getLogger(__name__)

# In order: a valid pair (kept), a lone surrogate (replaced), any other escape (kept; this
# consumes an escaped backslash, so "\\\\udcff" is not mistaken for an escape).
_ESCAPES = re.compile(
    rb"(\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(\\u[dD][89a-fA-F][0-9a-fA-F]{2})"
    rb"|\\[^u]|\\u"
)


def _escape(match: re.Match[bytes]) -> bytes:
    return rb"\ufffd" if match.group(2) else match.group(0)


def fix_line(line: bytes) -> bytes:
    """``line`` with every JSON escape of a lone surrogate replaced by ``\\ufffd``."""
    if b"\\u" not in line or (b"\\ud" not in line and b"\\uD" not in line):
        return line
    return _ESCAPES.sub(_escape, line)


def _pump(source_fd: int, sink_fd: int) -> None:
    with os.fdopen(source_fd, "rb") as source, os.fdopen(sink_fd, "wb") as sink:
        try:
            for line in source:
                sink.write(fix_line(line))
                sink.flush()
        except (BrokenPipeError, ValueError):  # the server closed its end: stop quietly
            logger.debug("stdin filter stopped", exc_info=True)


@contextmanager
def _filtered_stdin() -> Iterator[None]:
    """Point fd 0 at a pipe fed by :func:`_pump` from the real stdin; restore it after."""
    saved, source = os.dup(0), os.dup(0)
    read_end, write_end = os.pipe()
    os.dup2(read_end, 0)
    os.close(read_end)
    threading.Thread(
        target=_pump, args=(source, write_end), name="selfmem-mcp-stdin", daemon=True
    ).start()
    try:
        yield
    finally:
        os.dup2(saved, 0)
        os.close(saved)


def run_stdio(server: MCPServer[Any]) -> None:
    """Serve over stdin/stdout until the client closes stdin."""
    with _filtered_stdin():
        server.run("stdio")
