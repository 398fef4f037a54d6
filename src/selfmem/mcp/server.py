"""Build the selfmem MCP server around one memory handle, and run it over stdio."""

from __future__ import annotations

from typing import Any, Literal

from mcp.server.mcpserver import MCPServer

from .. import __version__
from ..memory import SelfLearningMemory
from .guide import INSTRUCTIONS, register_guide
from .stdio import run_stdio
from .tools_read import READ_TOOLS, register_read_tools
from .tools_write import WRITE_TOOLS, register_write_tools

__all__ = ["READ_TOOLS", "WRITE_TOOLS", "build_server", "run_stdio"]

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def build_server(
    memory: SelfLearningMemory,
    *,
    read_only: bool = False,
    name: str = "selfmem",
    log_level: LogLevel = "WARNING",
) -> MCPServer[Any]:
    """An MCP server exposing ``memory``: eleven tools (seven with ``read_only=True``, which
    leaves out every tool that writes), two resources and the ``use_memory`` prompt.

    The server does not own ``memory``: close it yourself after the server stops.
    """
    server: MCPServer[Any] = MCPServer(
        name,
        title="selfmem: self-learning episodic memory",
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level=log_level,
    )
    register_read_tools(server, memory)
    if not read_only:
        register_write_tools(server, memory)
    register_guide(server, memory, read_only=read_only)
    return server
