"""``AsyncSelfMemCallbackHandler``: the async twin of the callback handler, for
``ainvoke`` / ``astream``. It records exactly what
:class:`~langchain_selfmem.SelfMemCallbackHandler` records (see :mod:`.callbacks`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

from selfmem import SelfLearningMemory, TaskContext, TaskType

from ._recorder import Job, Recorder

__all__ = ["AsyncSelfMemCallbackHandler"]

logger = logging.getLogger("langchain_selfmem.callbacks")


class AsyncSelfMemCallbackHandler(Recorder, AsyncCallbackHandler):
    """The async twin of :class:`~langchain_selfmem.SelfMemCallbackHandler`: the same
    records and options; with ``background=False`` the memory calls are awaited in a worker
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
        self.run_inline = self.background  # events only take microseconds: no executor hop

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

    async def _aguarded(self, what: str, run_id: UUID, make_job: Callable[[], Job | None]) -> None:
        """Note an event and run its job; a failure is logged, never raised."""
        try:
            await self._adispatch(make_job())
        except Exception:  # the agent must never break because its memory failed
            logger.warning("selfmem could not record %s of run %s", what, run_id, exc_info=True)

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
        name = kwargs.get("name")
        await self._aguarded("the start", run_id, lambda: self._chain_started(
            run_id, parent_run_id, inputs, metadata, name
        ))  # fmt: skip

    async def on_chain_end(
        self,
        outputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        await self._aguarded("the end", run_id, lambda: self._chain_ended(run_id, outputs))

    async def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        await self._aguarded("the error", run_id, lambda: self._chain_failed(run_id, error))

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
        self.guarded("a tool start", run_id, lambda: self._tool_started(
            serialized, input_str, run_id, parent_run_id, inputs, kwargs
        ))  # fmt: skip

    async def on_tool_end(
        self,
        output: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        await self._aguarded("a tool result", run_id,
                             lambda: self._tool_ended(run_id, output, None))  # fmt: skip

    async def on_tool_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        await self._aguarded("a tool error", run_id,
                             lambda: self._tool_ended(run_id, None, error))  # fmt: skip

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
        self.guarded("a model call", run_id, lambda: self._llm_started(run_id, parent_run_id))

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
        self.guarded("a model call", run_id, lambda: self._llm_started(run_id, parent_run_id))

    async def on_llm_end(
        self,
        response: LLMResult,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.guarded("a model result", run_id, lambda: self._llm_ended(run_id, response))

    async def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.guarded("a model error", run_id, lambda: self._model_failed(run_id))
