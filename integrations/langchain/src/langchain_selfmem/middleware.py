"""``SelfMemMiddleware``: learned experience in the system prompt of a ``create_agent`` agent.

Before the agent starts, the middleware asks memory for the experience relevant to the
current task (the last user message), renders it within a token budget, and records which
patterns and heuristics it showed on the run's open episode (the one a
:class:`~langchain_selfmem.SelfMemCallbackHandler` started), so their confidence follows
how the run ends. Before every model call it appends that text to the system prompt.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, NotRequired
from uuid import UUID

from langchain.agents.middleware import (
    AgentMiddleware,
    AgentState,
    ModelRequest,
    ModelResponse,
)
from langchain.agents.middleware.types import PrivateStateAttr
from langchain_core.messages import SystemMessage
from langgraph.config import get_config
from langgraph.runtime import Runtime

from selfmem import InvalidInputError, RetrievalResult, SelfLearningMemory, TaskContext, TaskType
from selfmem.memory.options import (
    check_context,
    check_count,
    check_memory,
    check_optional_str,
    check_task_type,
)
from selfmem.records import ToolSequence

from ._recorder import METADATA_CONTEXT, METADATA_NAMESPACE, METADATA_TASK_TYPE, Recorder
from ._text import task_text

__all__ = ["Experience", "SelfMemMiddleware", "SelfMemState", "shown_ids"]

logger = logging.getLogger(__name__)

_STATE_KEY = "selfmem_experience"


class SelfMemState(AgentState[Any]):
    """The agent state with the experience rendered for this run (private to the graph)."""

    selfmem_experience: NotRequired[Annotated[str, PrivateStateAttr]]


@dataclass(frozen=True, slots=True)
class Experience:
    """What the middleware will show: the text and the ids of what it shows."""

    text: str
    pattern_ids: list[str]
    heuristic_ids: list[str]

    @property
    def shows_learning(self) -> bool:
        return bool(self.pattern_ids or self.heuristic_ids)


@dataclass(frozen=True, slots=True)
class _Run:
    recorder: Recorder | None
    memory: SelfLearningMemory
    run_id: UUID | None
    metadata: Mapping[str, Any]


def shown_ids(result: RetrievalResult, text: str) -> tuple[list[str], list[str]]:
    """The patterns and heuristics of ``result`` that made it into the rendered ``text``
    (the budget may have cut some)."""
    lines = set(text.splitlines())
    patterns: list[str] = []
    sequence = next((s.pattern for s in result.patterns if isinstance(s.pattern, ToolSequence)),
                    None)  # fmt: skip
    if sequence is not None and f"Suggested tool sequence: {' -> '.join(sequence.tools)}" in lines:
        patterns.append(sequence.id)
    heuristics = [s.heuristic.id for s in result.heuristics if f"- {s.explain()}" in lines]
    return patterns, heuristics


def _with_experience(request: ModelRequest[Any], text: str) -> ModelRequest[Any]:
    current = request.system_message
    if current is None:
        return request.override(system_message=SystemMessage(content=text))
    if isinstance(current.content, str):
        content: str | list[str | dict[str, Any]] = f"{current.content}\n\n{text}".lstrip()
    else:
        content = [*current.content, {"type": "text", "text": f"\n\n{text}"}]
    return request.override(system_message=SystemMessage(content=content))


class SelfMemMiddleware(AgentMiddleware[SelfMemState, Any, Any]):
    """Injects selfmem's experience for the current task into the system prompt.

    ``max_tokens``: the budget of the injected text. ``k``: episodes and patterns retrieved
    (``limit`` is its deprecated name). ``context`` / ``task_type`` / ``namespace`` describe
    the task; the run metadata keys of the callback handler (``selfmem_context``, ...)
    override them, and the handler's own settings fill in what neither gives. ``handler``:
    the callback handler whose open episode receives the feedback; by default the one in the
    run's callbacks. A wrong option raises :class:`selfmem.InvalidInputError` here; a
    failure in memory later is logged and the agent runs without experience.
    """

    state_schema = SelfMemState

    def __init__(
        self,
        memory: SelfLearningMemory,
        *,
        max_tokens: int = 400,
        k: int = 5,
        context: TaskContext | dict[str, Any] | None = None,
        task_type: TaskType | str | None = None,
        namespace: str | None = None,
        handler: Recorder | None = None,
        limit: int | None = None,
    ) -> None:
        super().__init__()
        if limit is not None:
            warnings.warn("SelfMemMiddleware(limit=...) is deprecated; use k=...",
                          DeprecationWarning, stacklevel=2)  # fmt: skip
            k = limit
        self.memory = check_memory(memory)
        self.max_tokens = check_count(max_tokens, "max_tokens", low=20, high=100_000)
        self.k = check_count(k, "k")
        self.context = check_context(context)
        self.task_type = None if task_type is None else check_task_type(task_type)
        self.namespace = check_optional_str(namespace, "namespace")
        if self.namespace:
            memory.scoped(self.namespace)  # the core's namespace rules, checked now
        if handler is not None and not isinstance(handler, Recorder):
            raise InvalidInputError(
                f"handler must be a SelfMemCallbackHandler, got {type(handler).__name__}",
                field="handler",
            )
        self.handler = handler

    @property
    def limit(self) -> int:
        """Deprecated name of :attr:`k`."""
        warnings.warn("SelfMemMiddleware.limit is deprecated; use k", DeprecationWarning,
                      stacklevel=2)  # fmt: skip
        return self.k

    # -- finding the run, its recorder and settings -----------------------------------------

    def _run(self) -> _Run:
        """The recorder of this run (if a handler records it), the memory handle to ask,
        the run id and the run metadata."""
        try:
            config = get_config()
        except RuntimeError:  # not inside a runnable: no run to attach to
            return _Run(None, self._memory_for(None), None, {})
        metadata: Mapping[str, Any] = config.get("metadata") or {}
        callbacks = config.get("callbacks")
        run_id = getattr(callbacks, "parent_run_id", None)
        handlers: Sequence[Any] = (
            [self.handler] if self.handler else getattr(callbacks, "handlers", None) or []
        )
        for handler in handlers:
            if isinstance(handler, Recorder):
                memory = handler.memory_for_run(run_id)
                if memory is not None:
                    return _Run(handler, memory, run_id, metadata)
        return _Run(None, self._memory_for(metadata.get(METADATA_NAMESPACE)), None, metadata)

    def _memory_for(self, namespace: str | None) -> SelfLearningMemory:
        wanted = namespace or self.namespace
        if wanted and wanted != self.memory.namespace:
            return self.memory.scoped(wanted)
        return self.memory

    def _query(self, state: Mapping[str, Any], run: _Run) -> dict[str, Any]:
        recorder = run.recorder
        context = run.metadata.get(METADATA_CONTEXT) or self.context
        task_type = run.metadata.get(METADATA_TASK_TYPE) or self.task_type
        if recorder is not None:
            context = context or recorder.context
            task_type = task_type or recorder.task_type
        return {
            "description": task_text({"messages": state.get("messages", [])}),
            "context": context,
            "limit": self.k,
            "task_type": task_type,
        }

    def _experience(self, result: RetrievalResult) -> Experience:
        text = result.render(max_tokens=self.max_tokens)
        patterns, heuristics = shown_ids(result, text)
        return Experience(text, patterns, heuristics)

    # -- hooks ------------------------------------------------------------------------------

    def before_agent(self, state: SelfMemState, runtime: Runtime[Any]) -> dict[str, Any] | None:
        """Retrieve and render the experience for this run; record what is shown."""
        try:
            run = self._run()
            query = self._query(state, run)
            if not query["description"].strip():
                return {_STATE_KEY: ""}
            if run.recorder is not None:
                run.recorder.flush()  # runs that ended before this one count
            experience = self._experience(run.memory.retrieve_relevant_context(**query))
            if run.recorder is not None and experience.shows_learning:
                run.recorder.dispatch(run.recorder.feedback_job(
                    run.run_id, experience.pattern_ids, experience.heuristic_ids
                ))  # fmt: skip
        except Exception:  # the agent must never break because its memory failed
            logger.warning("selfmem could not retrieve experience; running without it",
                           exc_info=True)  # fmt: skip
            return {_STATE_KEY: ""}
        return {_STATE_KEY: experience.text}

    async def abefore_agent(
        self, state: SelfMemState, runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        """Async twin of :meth:`before_agent`."""
        try:
            run = self._run()
            query = self._query(state, run)
            if not query["description"].strip():
                return {_STATE_KEY: ""}
            if run.recorder is not None:
                await asyncio.to_thread(run.recorder.flush)
            result = await run.memory.aretrieve_relevant_context(**query)
            experience = self._experience(result)
            if run.recorder is not None and experience.shows_learning:
                job = run.recorder.feedback_job(
                    run.run_id, experience.pattern_ids, experience.heuristic_ids
                )
                await asyncio.to_thread(run.recorder.dispatch, job)
        except Exception:  # the agent must never break because its memory failed
            logger.warning("selfmem could not retrieve experience; running without it",
                           exc_info=True)  # fmt: skip
            return {_STATE_KEY: ""}
        return {_STATE_KEY: experience.text}

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        """Append the run's experience to the system prompt of every model call."""
        text = str(request.state.get(_STATE_KEY) or "")
        return handler(_with_experience(request, text) if text else request)

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        """Async twin of :meth:`wrap_model_call`."""
        text = str(request.state.get(_STATE_KEY) or "")
        return await handler(_with_experience(request, text) if text else request)
