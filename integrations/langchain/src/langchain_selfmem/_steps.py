"""Turning what the tracker noted into memory writes: steps, token usage, error text."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from selfmem import InvalidInputError

from ._text import tool_output, tool_parameters
from ._tracking import OpenRun, ToolCall

__all__ = [
    "describe_error",
    "is_abandonment",
    "is_interrupt",
    "log_steps",
    "logger",
    "step_fields",
    "usage_of",
]

logger = logging.getLogger("langchain_selfmem.callbacks")

#: Errors that mean the consumer stopped the run (a stream left early, a cancelled task,
#: Ctrl-C), not that the task failed.
_ABANDONED = (GeneratorExit, asyncio.CancelledError, KeyboardInterrupt)
_NO_RESULT = "no result: the run ended before the tool returned"


def describe_error(error: BaseException) -> str:
    """``TypeName: message`` of an exception."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def is_interrupt(error: BaseException) -> bool:
    """Whether ``error`` is LangGraph pausing the run for input (``interrupt()``): not a
    failure; the run is resumed later."""
    return any(cls.__name__ == "GraphBubbleUp" for cls in type(error).__mro__)


def is_abandonment(error: BaseException) -> bool:
    """Whether ``error`` ends a run because its consumer stopped it."""
    return isinstance(error, _ABANDONED)


def usage_of(response: LLMResult) -> tuple[int, list[str]]:
    """Total tokens of a model call and the ids of the tool calls it issued."""
    tokens = 0
    call_ids: list[str] = []
    for generations in response.generations:
        for generation in generations:
            message = generation.message if isinstance(generation, ChatGeneration) else None
            if isinstance(message, AIMessage):
                if message.usage_metadata:
                    tokens += int(message.usage_metadata.get("total_tokens", 0))
                call_ids.extend(str(call["id"]) for call in message.tool_calls if call.get("id"))
    if not tokens and response.llm_output:
        usage = response.llm_output.get("token_usage") or response.llm_output.get("usage") or {}
        if isinstance(usage, Mapping):
            tokens = int(usage.get("total_tokens", 0) or 0)
    return tokens, call_ids


def step_fields(call: ToolCall) -> dict[str, Any]:
    """The ``log_step`` fields of a tool call (run on the writer, once nested runs it
    started have their episodes)."""
    observation: str | None
    error: str | None
    if not call.finished:
        observation, error = None, _NO_RESULT
    elif call.error is not None:
        observation, error = None, describe_error(call.error)
    else:
        observation, error = tool_output(call.output)
    input_str, inputs = call.inputs
    metadata: dict[str, Any] = {"tool_call_id": call.tool_call_id} if call.tool_call_id else {}
    children = [child.episode_id for child in call.children if child.episode_id]
    if children:
        metadata["child_episode_ids"] = children
    return {
        "tool": call.name, "parameters": tool_parameters(input_str, inputs),
        "observation": observation, "error": error, "success": error is None,
        "latency_ms": call.latency_ms, "tokens": call.tokens, "timestamp": call.timestamp,
        "metadata": metadata,
    }  # fmt: skip


def log_steps(run: OpenRun, calls: Sequence[ToolCall]) -> None:
    """Log tool calls in start order; a step that breaks a limit is kept without its
    arguments."""
    if run.episode_id is None or not calls:
        return
    for call in calls:
        fields = step_fields(call)
        try:
            run.memory.log_step(run.episode_id, **fields)
        except InvalidInputError as exc:
            logger.warning("tool step %s kept without its arguments: %s", call.name, exc)
            fields["metadata"] = {**fields["metadata"], "parameters_dropped": str(exc)[:200]}
            run.memory.log_step(run.episode_id, **{**fields, "parameters": {}})
