"""Scripted LLMs, tools and seed data shared by the LlamaIndex integration tests."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, ToolCallBlock
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.tools import FunctionTool

from selfmem import ExecutionStep, SelfLearningMemory, TaskContext, TaskOutcome, TaskType

_CALL_IDS = itertools.count(1)


def call(tool: str, call_id: str | None = None, **kwargs: Any) -> ChatMessage:
    """An assistant message calling one tool."""
    block = ToolCallBlock(
        tool_call_id=call_id or f"call-{next(_CALL_IDS)}", tool_name=tool, tool_kwargs=kwargs
    )
    return ChatMessage(role="assistant", blocks=[block])


def answer(text: str) -> ChatMessage:
    """An assistant message with the final answer."""
    return ChatMessage(role="assistant", content=text)


class ScriptedLLM(MockFunctionCallingLLM):
    """A function-calling mock LLM that replies with the next scripted message each turn (or
    raises it, if it is an exception) and remembers every prompt it was given."""

    def __init__(self, script: Iterable[ChatMessage | Exception]) -> None:
        replies = iter(list(script))
        prompts: list[list[ChatMessage]] = []
        lock = threading.Lock()

        def respond(messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
            with lock:
                prompts.append(list(messages))
                reply = next(replies)
            if isinstance(reply, Exception):
                raise reply
            return reply

        super().__init__(response_generator=respond)
        self._prompts = prompts

    @property
    def prompts(self) -> list[list[ChatMessage]]:
        return self._prompts


def react_llm(*turns: str) -> ScriptedLLM:
    """A scripted LLM speaking the ReAct text format."""
    return ScriptedLLM(ChatMessage(role="assistant", content=turn) for turn in turns)


async def add(a: int, b: int) -> int:
    """Add two integers."""
    await asyncio.sleep(0.005)
    return a + b


async def lookup(city: str) -> str:
    """Look up the weather of a city."""
    await asyncio.sleep(0.005)
    return f"sunny in {city}"


def explode(reason: str) -> str:
    """A tool that always fails."""
    raise RuntimeError(f"exploded: {reason}")


def tools() -> list[FunctionTool]:
    return [FunctionTool.from_defaults(fn) for fn in (add, lookup, explode)]


LOGIN = TaskContext(domain="web", language="python", tags=["auth"])


def seed_login_episodes(memory: SelfLearningMemory, successes: int = 4) -> list[str]:
    """Successful "fix the login test" episodes and one failure: enough to learn a sequence."""
    ids: list[str] = []
    for i in range(successes):
        eid = memory.start_episode(f"Fix the failing login test {i}", LOGIN, TaskType.DEBUGGING)
        memory.log_step(
            eid, ExecutionStep(tool="run_tests", observation="1 failed: 401", success=True)
        )
        memory.log_step(eid, tool="edit_file", parameters={"path": "auth.py"}, observation="saved")
        memory.log_step(eid, tool="run_tests", observation="1 passed")
        memory.complete_episode(eid, TaskOutcome.success("login test passes"))
        ids.append(eid)
    eid = memory.start_episode(
        "Fix the failing login test by deleting it", LOGIN, TaskType.DEBUGGING
    )
    memory.log_step(eid, tool="delete_test", error="test is required by CI")
    memory.complete_episode(eid, TaskOutcome.failure("CI rejected the change"))
    ids.append(eid)
    return ids


def run_tests() -> str:
    """Run the test suite."""
    return "1 failed: test_login expected 200, got 401"


def edit_file(path: str) -> str:
    """Edit a file."""
    return f"saved {path}"


def coding_tools() -> list[FunctionTool]:
    return [FunctionTool.from_defaults(fn) for fn in (run_tests, edit_file)]


def fix_script(n: int) -> list[ChatMessage | Exception]:
    """A run that fixes the login test: run_tests -> edit_file -> run_tests, then answers."""
    return [
        call("run_tests"),
        call("edit_file", path="auth.py"),
        call("run_tests"),
        answer(f"fixed the login test ({n})"),
    ]
