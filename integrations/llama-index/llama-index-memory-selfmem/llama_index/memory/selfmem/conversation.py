"""Reading chat messages as what happened: user turns, tool calls, tool results, answers.

Function-calling agents store tool calls the way their LLM integration returns them, and
LlamaIndex's agents accept all of these, so this module reads them all:

- ``ToolCallBlock`` blocks (``tool_call_id``, ``tool_name``, ``tool_kwargs``);
- ``additional_kwargs["tool_calls"]``, a list of dicts or objects: OpenAI style
  (``id``, ``function.name``, ``function.arguments`` as JSON text or a dict, as Ollama and
  Mistral store them), ``ToolSelection`` (``tool_id``, ``tool_name``, ``tool_kwargs``),
  Anthropic and Bedrock style (``id`` / ``toolUseId``, ``name``, ``input``), Gemini style
  (``name``, ``args``);
- a legacy ``additional_kwargs["function_call"]`` (``name``, ``arguments``).

Results are ``tool`` messages carrying the call's id. A ``ReActAgent`` stores its whole
reasoning as one assistant message of ``Thought:`` / ``Action:`` / ``Action Input:`` /
``Observation:`` / ``Answer:`` lines; actions are read as LlamaIndex's ReAct parser reads
them. :func:`message_events` turns every form into the same small events.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

from llama_index.core.agent.react.output_parser import parse_action_reasoning_step
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


def _field(raw: Any, *names: str) -> Any:
    """The first of ``names`` that ``raw`` (a dict or an object) has and is not ``None``."""
    for name in names:
        value = raw.get(name) if isinstance(raw, dict) else getattr(raw, name, None)
        if value is not None:
            return value
    return None


def _call_of(raw: Any) -> ToolCalled | None:
    """One tool call in any of the forms listed in the module docstring."""
    function = _field(raw, "function")
    name = _field(raw, "tool_name", "name")
    if name is None and function is not None:
        name = _field(function, "name")
    if not isinstance(name, str) or not name:
        return None
    arguments = _field(raw, "tool_kwargs", "arguments", "input", "args")
    if arguments is None and function is not None:
        arguments = _field(function, "arguments", "args")
    call_id = _field(raw, "tool_id", "id", "tool_call_id", "toolUseId", "call_id")
    if not isinstance(arguments, dict | str) and hasattr(arguments, "items"):
        arguments = dict(arguments.items())  # a mapping type of an SDK (e.g. protobuf)
    return ToolCalled(str(call_id or ""), name, _arguments(arguments))


def _tool_calls(message: ChatMessage) -> list[ToolCalled]:
    raw_calls: list[Any] = [block for block in message.blocks if isinstance(block, ToolCallBlock)]
    listed = message.additional_kwargs.get("tool_calls")
    if isinstance(listed, list | tuple):
        raw_calls.extend(listed)
    legacy = message.additional_kwargs.get("function_call")
    if legacy is not None:
        raw_calls.append(legacy)
    calls: list[ToolCalled] = []
    seen: set[tuple[str, ...]] = set()
    for raw in raw_calls:
        call = _call_of(raw)
        if call is None:
            continue
        key = (call.call_id,) if call.call_id else (call.tool, repr(call.parameters))
        if key not in seen:  # the same call stored both as a block and in additional_kwargs
            seen.add(key)
            calls.append(call)
    return calls


_ACTION_NAME = re.compile(r"[^\n() ]+")


def _action(body: str) -> str:
    """The tool an ``Action:`` line names: its first word, as LlamaIndex's parser reads it."""
    found = _ACTION_NAME.match(body.strip())
    return found.group(0) if found else body.strip()


def _action_input(tool: str, body: str) -> dict[str, Any]:
    """An ``Action Input:``: JSON or a Python literal, else what LlamaIndex's own ReAct parser
    makes of it (lenient JSON, quoted pairs)."""
    parameters = _arguments(body)
    if set(parameters) != {"input"} or "{" not in body:
        return parameters
    try:
        step = parse_action_reasoning_step(f"Thought: -\nAction: {tool}\nAction Input: {body}")
    except (ValueError, TypeError):  # not a tool call LlamaIndex could read either
        return parameters
    return dict(step.action_input) or parameters


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
            tool, parameters = _action(body), {}
        elif label == "Action Input" and tool is not None:
            parameters = _action_input(tool, body)
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
        call_id = _field(kwargs, "tool_call_id", "tool_use_id", "toolUseId", "tool_id", "id")
        return [
            ToolReturned(
                call_id=str(call_id or ""),
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
