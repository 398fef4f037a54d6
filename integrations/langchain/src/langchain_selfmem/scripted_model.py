"""A scripted tool-calling chat model: drives a real agent without an LLM or a network.

Used by the demo, the notebook, the benchmark and the tests. The model is stateless between
calls: what it answers depends only on the conversation it is given (how many tool-calling
turns followed the last user message), so one instance can serve concurrent runs.

>>> model = ScriptedChatModel(turns=[("search", {"q": "x"}), [("a", {}), ("b", {})]])
>>> # turn 1 calls search; turn 2 calls a and b in parallel; then it answers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.messages.tool import ToolCall
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import Field, PrivateAttr

from ._text import message_text

__all__ = ["ScriptedChatModel", "ToolCallSpec", "Turn"]

#: One tool call: the tool's name and its arguments.
ToolCallSpec = tuple[str, dict[str, Any]]
#: One model turn: a single tool call, or several issued together (parallel calls).
Turn = ToolCallSpec | list[ToolCallSpec]


def _calls_of(turn: Turn) -> list[ToolCallSpec]:
    return turn if isinstance(turn, list) else [turn]


def _estimate_tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4)


class ScriptedChatModel(BaseChatModel):
    """Plays a script of tool calls, then answers.

    ``turns``: the tool calls to make, one turn per model call. ``planner``: instead, a
    function from the task (the last user message) to its turns. ``final_answer``: the
    answer after the last turn; ``{task}`` and ``{result}`` (the last tool output) are
    filled in. Every call's messages are kept in :attr:`prompts` and its token usage is
    reported (about four characters per token).
    """

    turns: list[Turn] = Field(default_factory=list)
    planner: Callable[[str], Sequence[Turn]] | None = None
    final_answer: str = "Done: {result}"

    _prompts: list[list[BaseMessage]] = PrivateAttr(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "selfmem-scripted"

    @property
    def prompts(self) -> list[list[BaseMessage]]:
        """The messages of every call so far, oldest first."""
        with self._lock:
            return [list(messages) for messages in self._prompts]

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """The script already names its tools: binding returns the model itself."""
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self._lock:
            self._prompts.append(list(messages))
        task, turn, last_result = _position(messages)
        plan = list(self.planner(task)) if self.planner is not None else self.turns
        if turn < len(plan):
            calls: list[ToolCall] = [
                ToolCall(name=name, args=dict(args), id=f"call_{turn}_{index}", type="tool_call")
                for index, (name, args) in enumerate(_calls_of(plan[turn]))
            ]
            message = AIMessage(content="", tool_calls=calls)
        else:
            answer = self.final_answer.format(task=task, result=last_result)
            message = AIMessage(content=answer)
        prompt_tokens = sum(_estimate_tokens(message_text(m.content)) for m in messages)
        output_tokens = _estimate_tokens(str(message.tool_calls) + message_text(message.content))
        message.usage_metadata = {
            "input_tokens": prompt_tokens,
            "output_tokens": output_tokens,
            "total_tokens": prompt_tokens + output_tokens,
        }
        return ChatResult(generations=[ChatGeneration(message=message)])


def _position(messages: Sequence[BaseMessage]) -> tuple[str, int, str]:
    """The task (last user message), how many tool-calling turns followed it, the last
    tool output."""
    task, turn, result = "", 0, ""
    for message in messages:
        if isinstance(message, HumanMessage):
            task, turn, result = message_text(message.content), 0, ""
        elif isinstance(message, AIMessage) and message.tool_calls:
            turn += 1
        elif isinstance(message, ToolMessage):
            result = message_text(message.content)
    return task, turn, result
