"""Callback handlers that record agent and chain runs as selfmem episodes.

The root run of an agent or chain (``agent.invoke``, ``ainvoke``, ``stream``, ``astream``, a
LangGraph graph, any runnable) starts an episode; every tool call below it becomes an
:class:`~selfmem.ExecutionStep` (tool, parsed arguments, output or error, latency, the
``tool_call_id`` in its metadata, and the tokens of the model call that issued it); the root
run's end completes the episode as a success, its error as a failure.

Per run, ``config["metadata"]`` may override the handler's settings:
``selfmem_namespace``, ``selfmem_context`` (a :class:`~selfmem.TaskContext` or dict),
``selfmem_task_type`` and ``selfmem_task`` (the task description; by default the last user
message or the obvious input field).

Recording never slows the agent down: events are noted in microseconds and the memory calls
run on a background writer thread, in order (``background=False`` makes them inline).
Call :meth:`~SelfMemCallbackHandler.flush` before reading what a run recorded. A failure
inside selfmem is logged (logger ``langchain_selfmem.callbacks``) and never reaches the
agent; a step that breaks a size limit is stored without its arguments rather than dropped.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

from selfmem import SelfLearningMemory, TaskContext, TaskType

from ._recorder import (
    METADATA_CONTEXT,
    METADATA_NAMESPACE,
    METADATA_TASK,
    METADATA_TASK_TYPE,
    Job,
    Recorder,
)

__all__ = [
    "METADATA_CONTEXT",
    "METADATA_NAMESPACE",
    "METADATA_TASK",
    "METADATA_TASK_TYPE",
    "AsyncSelfMemCallbackHandler",
    "SelfMemCallbackHandler",
]


logger = logging.getLogger(__name__)

_FAILED = "selfmem could not record %s of run %s"


class SelfMemCallbackHandler(Recorder, BaseCallbackHandler):
    """Records every run it sees as an episode of ``memory`` (see the module docstring).

    One handler serves any number of concurrent runs (threads or tasks):
    ``agent.invoke(inputs, config={"callbacks": [handler]})``. ``namespace``, ``context``
    and ``task_type`` are the defaults for the episodes it starts; ``background=False``
    writes to memory inside each callback instead of on the writer thread.
    """

    raise_error = False

    def __init__(
        self,
        memory: SelfLearningMemory,
        *,
        namespace: str | None = None,
        context: TaskContext | dict[str, Any] | None = None,
        task_type: TaskType | str = TaskType.OTHER,
        background: bool = True,
    ) -> None:
        super().__init__(
            memory, namespace=namespace, context=context, task_type=task_type,
            background=background,
        )  # fmt: skip
        self.run_inline = background  # events only take microseconds: no executor hop

    def on_chain_start(
        self,
        serialized: dict[str, Any],
        inputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            name = kwargs.get("name")
            self.dispatch(self._chain_started(run_id, parent_run_id, inputs, metadata, name))
        except Exception:  # the agent must never break because its memory failed
            logger.warning(_FAILED, "the start", run_id, exc_info=True)

    def on_chain_end(
        self,
        outputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            self.dispatch(self._chain_ended(run_id, outputs))
        except Exception:  # the agent must never break because its memory failed
            logger.warning(_FAILED, "the end", run_id, exc_info=True)

    def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            self.dispatch(self._chain_failed(run_id, error))
        except Exception:  # the agent must never break because its memory failed
            logger.warning(_FAILED, "the error", run_id, exc_info=True)

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            self._tool_started(serialized, input_str, run_id, parent_run_id, inputs, kwargs)
        except Exception:  # the agent must never break because its memory failed
            logger.warning(_FAILED, "a tool start", run_id, exc_info=True)

    def on_tool_end(
        self,
        output: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            self.dispatch(self._tool_ended(run_id, output, None))
        except Exception:  # the agent must never break because its memory failed
            logger.warning(_FAILED, "a tool result", run_id, exc_info=True)

    def on_tool_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            self.dispatch(self._tool_ended(run_id, None, error))
        except Exception:  # the agent must never break because its memory failed
            logger.warning(_FAILED, "a tool error", run_id, exc_info=True)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            self._llm_started(run_id, parent_run_id)
        except Exception:  # the agent must never break because its memory failed
            logger.warning(_FAILED, "a model call", run_id, exc_info=True)

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            self._llm_started(run_id, parent_run_id)
        except Exception:  # the agent must never break because its memory failed
            logger.warning(_FAILED, "a model call", run_id, exc_info=True)

    def on_llm_end(
        self,
        response: LLMResult,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            self._llm_ended(run_id, response)
        except Exception:  # the agent must never break because its memory failed
            logger.warning(_FAILED, "a model result", run_id, exc_info=True)

    def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            self._tracker.leave(run_id)
        except Exception:  # the agent must never break because its memory failed
            logger.warning(_FAILED, "a model error", run_id, exc_info=True)


class AsyncSelfMemCallbackHandler(Recorder, AsyncCallbackHandler):
    """The async twin of :class:`SelfMemCallbackHandler` for ``ainvoke`` / ``astream``:
    the same records; with ``background=False`` the memory calls are awaited in a worker
    thread so the event loop never waits on storage."""

    raise_error = False

    def __init__(
        self,
        memory: SelfLearningMemory,
        *,
        namespace: str | None = None,
        context: TaskContext | dict[str, Any] | None = None,
        task_type: TaskType | str = TaskType.OTHER,
        background: bool = True,
    ) -> None:
        super().__init__(
            memory, namespace=namespace, context=context, task_type=task_type,
            background=background,
        )  # fmt: skip
        self.run_inline = background  # events only take microseconds: no executor hop

    async def aflush(self, timeout: float | None = None) -> bool:
        """Async twin of :meth:`flush`."""
        return await asyncio.to_thread(self.flush, timeout)

    async def _adispatch(self, job: Job | None) -> None:
        if job is None:
            return
        if self.background:
            self._writer.submit(job)
            return
        try:
            await asyncio.to_thread(job)
        except Exception:  # the agent must never break because its memory failed
            logger.warning("selfmem could not record a run event", exc_info=True)

    async def on_chain_start(
        self,
        serialized: dict[str, Any],
        inputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            name = kwargs.get("name")
            job = self._chain_started(run_id, parent_run_id, inputs, metadata, name)
            await self._adispatch(job)
        except Exception:  # the agent must never break because its memory failed
            logger.warning(_FAILED, "the start", run_id, exc_info=True)

    async def on_chain_end(
        self,
        outputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            await self._adispatch(self._chain_ended(run_id, outputs))
        except Exception:  # the agent must never break because its memory failed
            logger.warning(_FAILED, "the end", run_id, exc_info=True)

    async def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            await self._adispatch(self._chain_failed(run_id, error))
        except Exception:  # the agent must never break because its memory failed
            logger.warning(_FAILED, "the error", run_id, exc_info=True)

    async def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            self._tool_started(serialized, input_str, run_id, parent_run_id, inputs, kwargs)
        except Exception:  # the agent must never break because its memory failed
            logger.warning(_FAILED, "a tool start", run_id, exc_info=True)

    async def on_tool_end(
        self,
        output: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            await self._adispatch(self._tool_ended(run_id, output, None))
        except Exception:  # the agent must never break because its memory failed
            logger.warning(_FAILED, "a tool result", run_id, exc_info=True)

    async def on_tool_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            await self._adispatch(self._tool_ended(run_id, None, error))
        except Exception:  # the agent must never break because its memory failed
            logger.warning(_FAILED, "a tool error", run_id, exc_info=True)

    async def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            self._llm_started(run_id, parent_run_id)
        except Exception:  # the agent must never break because its memory failed
            logger.warning(_FAILED, "a model call", run_id, exc_info=True)

    async def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            self._llm_started(run_id, parent_run_id)
        except Exception:  # the agent must never break because its memory failed
            logger.warning(_FAILED, "a model call", run_id, exc_info=True)

    async def on_llm_end(
        self,
        response: LLMResult,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            self._llm_ended(run_id, response)
        except Exception:  # the agent must never break because its memory failed
            logger.warning(_FAILED, "a model result", run_id, exc_info=True)

    async def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            self._tracker.leave(run_id)
        except Exception:  # the agent must never break because its memory failed
            logger.warning(_FAILED, "a model error", run_id, exc_info=True)
