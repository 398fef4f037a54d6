"""Reading LlamaIndex spans: which are agent runs and tool calls, and what they carry."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from llama_index.core.agent.workflow import AgentWorkflow, BaseWorkflowAgent
from llama_index.core.agent.workflow.workflow_events import ToolCall, ToolCallResult
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.instrumentation.span import BaseSpan
from llama_index.core.tools import BaseTool, ToolOutput
from pydantic import Field
from workflows.errors import WorkflowCancelledByUser

__all__ = [
    "AGENT_TYPES",
    "RecordedSpan",
    "agent_name",
    "is_abandonment",
    "is_run_span",
    "message_text",
    "requested_call",
    "run_answer",
    "run_task",
    "tool_call",
    "tool_result",
    "unrun_result",
]

#: The workflows whose ``run`` span is one episode.
AGENT_TYPES: tuple[type, ...] = (BaseWorkflowAgent, AgentWorkflow)


class RecordedSpan(BaseSpan):
    """A span inside an agent run. ``run_id`` is the id of the run's own span.

    ``tool`` is set on a recorded tool call; ``tool_span`` is the id of that call's span on
    it and every span below it (a tool called by a tool is part of the outer call, not a
    step of its own; an agent run below it is an episode of its own, a child of the call).
    ``call`` is set on an agent's ``call_tool`` step: the tool it was asked to call, kept
    in case no tool runs (the tool does not exist); ``tool_seen`` says one did.
    """

    run_id: str
    tool: str | None = None
    tool_span: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    started: float = 0.0
    call: ToolCall | None = None
    tool_seen: bool = False

    @property
    def in_tool(self) -> bool:
        return self.tool_span is not None


#: Errors that mean the run was stopped (a cancelled task, Ctrl-C), not that it failed.
_ABANDONED: tuple[type[BaseException], ...] = (
    asyncio.CancelledError, GeneratorExit, KeyboardInterrupt, WorkflowCancelledByUser,
)  # fmt: skip


def is_abandonment(err: BaseException | None, result: Any = None) -> bool:
    """Whether a run ended because it was stopped: an abandonment error, or the
    ``WorkflowCancelledEvent`` a cancelled workflow stops with."""
    return isinstance(err, _ABANDONED) or type(result).__name__ == "WorkflowCancelledEvent"


def requested_call(bound_args: inspect.BoundArguments) -> ToolCall | None:
    """The tool call an agent's ``call_tool`` step was asked to make (``None`` for any other
    span)."""
    event = bound_args.arguments.get("ev")
    return event if isinstance(event, ToolCall) else None


def unrun_result(result: Any) -> str | None:
    """The error of a ``call_tool`` step that ran no tool (e.g. ``Tool x not found``)."""
    if isinstance(result, ToolCallResult) and result.tool_output.is_error:
        return result.tool_output.content or "the tool was not run"
    return None


def is_run_span(id_: str, instance: Any, agent_types: tuple[type, ...]) -> bool:
    """Whether this span is the ``run`` of an agent workflow."""
    return isinstance(instance, agent_types) and id_.startswith(f"{type(instance).__name__}.run-")


def agent_name(instance: Any) -> str:
    """The agent's own name, or its class name."""
    name = getattr(instance, "name", None)
    return name if isinstance(name, str) and name else type(instance).__name__


def message_text(message: Any) -> str:
    """The text of a ``ChatMessage`` (or anything else, as a string)."""
    if isinstance(message, ChatMessage):
        return message.content or ""
    if isinstance(message, dict):
        return message_text(ChatMessage.model_validate(message))
    return "" if message is None else str(message)


def run_task(bound_args: inspect.BoundArguments) -> str:
    """The task of a run: its user message, else the last user message of its history."""
    arguments = bound_args.arguments
    event = arguments.get("start_event")
    extra = arguments.get("kwargs") or {}
    user_msg = getattr(event, "user_msg", None) or extra.get("user_msg")
    if user_msg:
        return message_text(user_msg)
    history = getattr(event, "chat_history", None) or extra.get("chat_history") or []
    for message in reversed(history):
        if isinstance(message, ChatMessage) and message.role == MessageRole.USER:
            return message_text(message)
    return ""


def run_answer(result: Any) -> str | None:
    """The final answer of a run from the value its span exits with (a ``StopEvent``)."""
    if result is None:
        return None
    value = getattr(result, "result", result)
    response = getattr(value, "response", None)
    if response is None and isinstance(value, dict):
        response = value.get("response")
    if response is not None:
        return message_text(response)
    return None if value is None else str(value)


def tool_call(instance: BaseTool, bound_args: inspect.BoundArguments) -> tuple[str, dict[str, Any]]:
    """The tool's name and the arguments it was called with (a workflow context dropped)."""
    name = instance.metadata.name or type(instance).__name__
    arguments = bound_args.arguments
    parameters = dict(arguments.get("kwargs") or {})
    args = arguments.get("args") or ()
    if args:
        parameters["args"] = list(args)
    ctx_param = getattr(instance, "ctx_param_name", None)
    if isinstance(ctx_param, str):
        parameters.pop(ctx_param, None)
    return name, parameters


def tool_result(result: Any) -> tuple[str, str | None]:
    """A tool call's observation and, if the tool reported one, its error."""
    if isinstance(result, ToolOutput):
        content = result.content
        return content, (content or "tool reported an error") if result.is_error else None
    return ("" if result is None else str(result)), None
