"""LangChain and LangGraph integration of selfmem.

>>> from selfmem import SelfLearningMemory
>>> from langchain_selfmem import SelfMemCallbackHandler, SelfMemMiddleware  # doctest: +SKIP
>>> memory = SelfLearningMemory.open()                                      # doctest: +SKIP
>>> tools = [*tools, create_experience_tool(memory), create_lesson_tool(memory)]  # doctest: +SKIP
>>> agent = create_agent(model, tools, middleware=[SelfMemMiddleware(memory)])  # doctest: +SKIP
>>> agent.invoke(inputs, config={"callbacks": [SelfMemCallbackHandler(memory)]})  # doctest: +SKIP

The classes that need ``langchain`` (the middleware) or ``langgraph`` (the store) are
imported on first use, so ``import langchain_selfmem`` needs only ``langchain-core``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .callbacks import AsyncSelfMemCallbackHandler, SelfMemCallbackHandler
from .chat_history import SelfMemChatMessageHistory
from .reflection import ChatModelReflector
from .retrievers import SelfMemRetriever
from .scripted_model import ScriptedChatModel
from .tools import create_experience_tool, create_lesson_tool

if TYPE_CHECKING:
    from .middleware import SelfMemMiddleware
    from .stores import SelfMemStore

__version__ = "0.1.0"

__all__ = [
    # recording runs
    "SelfMemCallbackHandler",
    "AsyncSelfMemCallbackHandler",
    # using experience
    "SelfMemRetriever",
    "SelfMemMiddleware",
    "ChatModelReflector",
    "create_experience_tool",
    "create_lesson_tool",
    # memory for agents
    "SelfMemStore",
    "SelfMemChatMessageHistory",
    # testing and demos
    "ScriptedChatModel",
    "__version__",
]

_LAZY = {
    "SelfMemMiddleware": (".middleware", "langchain", "agents"),
    "SelfMemStore": (".stores", "langgraph", "langgraph"),
}


def __getattr__(name: str) -> Any:
    """Import the classes with optional dependencies on first use, naming the extra."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, package, extra = _LAZY[name]
    try:
        return getattr(importlib.import_module(module, __name__), name)
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] != package:
            raise
        raise ImportError(
            f"{name} needs the {package!r} package: pip install 'langchain-selfmem[{extra}]'"
        ) from exc
