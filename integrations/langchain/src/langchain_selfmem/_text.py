"""Turning LangChain run inputs and outputs into the text and values an episode stores."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

__all__ = [
    "final_text",
    "json_safe",
    "message_text",
    "task_text",
    "tool_output",
    "tool_parameters",
]

_INPUT_KEYS = ("input", "question", "query", "task", "prompt", "text")
_HUMAN_ROLES = ("user", "human")


def message_text(content: Any) -> str:
    """The text of a message's content (a string, or a list of content blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, Mapping) and isinstance(block.get("text"), str):
                parts.append(block["text"])
        return "".join(parts)
    return str(content)


def _human_text(message: Any) -> str | None:
    """The text of ``message`` if it is a user message in any of LangChain's input forms."""
    if isinstance(message, BaseMessage):
        return message_text(message.content) if isinstance(message, HumanMessage) else None
    if isinstance(message, str):
        return message
    if isinstance(message, tuple) and len(message) == 2 and message[0] in _HUMAN_ROLES:
        return message_text(message[1])
    if isinstance(message, Mapping) and message.get("role") in _HUMAN_ROLES:
        return message_text(message.get("content", ""))
    return None


def _last_human(messages: Sequence[Any]) -> str | None:
    for message in reversed(messages):
        text = _human_text(message)
        if text and text.strip():
            return text
    return None


def _mapping_task(inputs: Mapping[str, Any]) -> str | None:
    messages = inputs.get("messages")
    if isinstance(messages, Sequence) and not isinstance(messages, str):
        found = _last_human(messages)
        if found:
            return found
    for key in _INPUT_KEYS:
        value = inputs.get(key)
        if isinstance(value, str) and value.strip():
            return value
    if len(inputs) == 1:
        return task_text(next(iter(inputs.values())))
    return None


def task_text(inputs: Any) -> str:
    """The task a run was asked to do: the last user message, or the obvious input field."""
    if isinstance(inputs, str):
        return inputs
    if isinstance(inputs, BaseMessage):
        return message_text(inputs.content)
    found: str | None = None
    if isinstance(inputs, Mapping):
        found = _mapping_task(inputs)
    elif isinstance(inputs, Sequence):
        found = _last_human(inputs)
    return found if found else _compact(inputs)


def _compact(value: Any, limit: int = 2_000) -> str:
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text[:limit]


def final_text(outputs: Any, limit: int = 300) -> str:
    """A short verdict from a run's output: the final AI message, or the output text."""
    if isinstance(outputs, Mapping):
        messages = outputs.get("messages")
        if isinstance(messages, Sequence) and not isinstance(messages, str):
            for message in reversed(messages):
                if isinstance(message, AIMessage):
                    return message_text(message.content)[:limit]
        for key in ("output", "answer", "result", "text"):
            if isinstance(outputs.get(key), str):
                return str(outputs[key])[:limit]
    if isinstance(outputs, BaseMessage):
        return message_text(outputs.content)[:limit]
    if isinstance(outputs, str):
        return outputs[:limit]
    return ""


def json_safe(value: Any) -> Any:
    """``value`` with everything JSON cannot hold turned into strings."""
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return repr(value)


def tool_parameters(input_str: str, inputs: Mapping[str, Any] | None) -> dict[str, Any]:
    """A tool call's arguments: LangChain's parsed ``inputs``, else the input string parsed."""
    if inputs is not None:
        safe = json_safe(dict(inputs))
        return safe if isinstance(safe, dict) else {"input": safe}
    try:
        parsed = json.loads(input_str)
    except (TypeError, ValueError):
        return {"input": input_str}
    return parsed if isinstance(parsed, dict) else {"input": parsed}


def tool_output(output: Any) -> tuple[str, str | None]:
    """``(observation, error)`` of a tool's output; a ``ToolMessage`` with status ``error``
    (a handled tool error) is an error."""
    if isinstance(output, ToolMessage):
        text = message_text(output.content)
        return (text, text or "tool error") if output.status == "error" else (text, None)
    if isinstance(output, str):
        return output, None
    if isinstance(output, BaseMessage):
        return message_text(output.content), None
    return _compact(output, limit=50_000), None
