"""The selfmem MCP server: the memory's tools, resources and a usage prompt over MCP.

Needs the ``mcp`` extra (``pip install 'selfmem[mcp]'``); ``import selfmem`` never imports
it. Run it with ``selfmem serve-mcp`` or build one yourself::

    from selfmem import SelfLearningMemory
    from selfmem.mcp import build_server, run_stdio

    with SelfLearningMemory.open() as memory:
        run_stdio(build_server(memory))
"""

from __future__ import annotations

try:
    import mcp as _sdk  # noqa: F401  (the official MCP Python SDK)
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the selfmem MCP server needs the official MCP SDK: pip install 'selfmem[mcp]'"
    ) from exc

from .http import BearerTokenMiddleware, run_http
from .server import WRITE_TOOLS, build_server, run_stdio

__all__ = ["WRITE_TOOLS", "BearerTokenMiddleware", "build_server", "run_http", "run_stdio"]
