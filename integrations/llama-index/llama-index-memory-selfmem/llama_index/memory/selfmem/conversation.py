"""Reading chat messages as what happened: user turns, tool calls, tool results, answers.

Function-calling agents store tool calls as ``ToolCallBlock`` blocks (or an OpenAI-style
``additional_kwargs["tool_calls"]`` list) and results as ``tool`` messages carrying the
call's id; a ``ReActAgent`` stores its whole reasoning as one assistant message of
``Thought:`` / ``Action:`` / ``Action Input:`` / ``Observation:`` / ``Answer:`` lines.
:func:`message_events` turns either form into the same small events.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock

__all__ = [
    "Answer",
    "Event",
    "ToolCalled",
    "ToolReturned",
    "UserTurn",
    "message_events",
    "parse_react",
]


@dataclass(frozen=True, slots=True)
class UserTurn:
    """The user asked something: a new task."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCalled:
    """The assistant called a tool. ``observation`` is set when the result came with it."""

    call_id: str
    tool: str
    parameters: dict[str, Any] = field(default_factory=dict)
    observation: str | None = None
    complete: bool = False


@dataclass(frozen=True, slots=True)
class ToolReturned:
    """A tool's result, matched to its call by ``call_id``."""

    call_id: str
    content: str
    is_error: bool = False
    tool: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """The assistant's final answer to the turn."""

    text: str


Event = UserTurn | ToolCalled | ToolReturned | Answer

_REACT_LABEL = re.compile(r"^(Thought|Action Input|Action|Observation|Answer):\s?", re.MULTILINE)


def _literal(text: str) -> Any:
    """A JSON value, or a Python literal (ReAct transcripts store ``{'a': 1}``), or the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw.strip():
        value = _literal(raw.strip())
        return value if isinstance(value, dict) else {"input": value}
    return {}


def _tool_calls(message: ChatMessage) -> list[ToolCalled]:
    calls = [
        ToolCalled(block.tool_call_id or "", block.tool_name, _arguments(block.tool_kwargs))
        for block in message.blocks
        if isinstance(block, ToolCallBlock)
    ]
    for raw in message.additional_kwargs.get("tool_calls") or []:
        data = raw if isinstance(raw, dict) else getattr(raw, "__dict__", {})
        function = data.get("function") or {}
        name = data.get("tool_name") or function.get("name")
        if name:
            arguments = data.get("tool_kwargs", function.get("arguments"))
            call_id = str(data.get("tool_id") or data.get("id") or "")
            calls.append(ToolCalled(call_id, str(name), _arguments(arguments)))
    return calls


def parse_react(text: str) -> list[Event]:
    """The tool calls and final answer in a ReAct transcript (``[]`` if it is not one)."""
    marks = list(_REACT_LABEL.finditer(text))
    sections = [
        (mark.group(1), text[mark.end() : marks[i + 1].start() if i + 1 < len(marks) else None])
        for i, mark in enumerate(marks)
    ]
    events: list[Event] = []
    tool: str | None = None
    parameters: dict[str, Any] = {}
    for label, body in sections:
        body = body.strip()
        if label == "Action":
            if tool is not None:
                events.append(ToolCalled("", tool, parameters, complete=True))
            tool, parameters = body, {}
        elif label == "Action Input" and tool is not None:
            parameters = _arguments(body)
        elif label == "Observation" and tool is not None:
            events.append(ToolCalled("", tool, parameters, observation=body, complete=True))
            tool = None
        elif label == "Answer":
            if tool is not None:
                events.append(ToolCalled("", tool, parameters, complete=True))
                tool = None
            events.append(Answer(body))
    if tool is not None:
        events.append(ToolCalled("", tool, parameters, complete=True))
    return events


def message_events(message: ChatMessage) -> list[Event]:
    """What one stored chat message says happened."""
    text = message.content or ""
    if message.role == MessageRole.USER:
        return [UserTurn(text)] if text.strip() else []
    if message.role == MessageRole.TOOL:
        kwargs = message.additional_kwargs
        return [
            ToolReturned(
                call_id=str(kwargs.get("tool_call_id") or ""),
                content=text,
                is_error=bool(kwargs.get("is_error", False)),
                tool=kwargs.get("name") or kwargs.get("tool_name"),
            )
        ]
    if message.role != MessageRole.ASSISTANT:
        return []
    calls: list[Event] = list(_tool_calls(message))
    if calls:
        return calls
    react = parse_react(text) if "Action:" in text or "Answer:" in text else []
    if react:
        return react
    return [Answer(text)] if text.strip() else []
