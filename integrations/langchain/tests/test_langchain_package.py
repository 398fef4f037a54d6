"""The public namespace of langchain_selfmem, pinned."""

from __future__ import annotations

import subprocess
import sys

import langchain_selfmem


def test_public_names_are_pinned() -> None:
    assert langchain_selfmem.__all__ == [
        "SelfMemCallbackHandler",
        "AsyncSelfMemCallbackHandler",
        "SelfMemRetriever",
        "SelfMemMiddleware",
        "ChatModelReflector",
        "create_experience_tool",
        "create_lesson_tool",
        "SelfMemStore",
        "SelfMemChatMessageHistory",
        "ScriptedChatModel",
        "__version__",
    ]
    for name in langchain_selfmem.__all__:
        assert getattr(langchain_selfmem, name) is not None


def test_importing_needs_neither_langchain_nor_langgraph() -> None:
    code = (
        "import sys, langchain_selfmem\n"
        "assert 'langchain.agents' not in sys.modules, 'langchain imported'\n"
        "assert 'langgraph' not in sys.modules, 'langgraph imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_missing_optional_package_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['langgraph'] = None\n"
        "import langchain_selfmem\n"
        "try:\n"
        "    langchain_selfmem.SelfMemStore\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'langchain-selfmem[langgraph]'" in out.stdout
