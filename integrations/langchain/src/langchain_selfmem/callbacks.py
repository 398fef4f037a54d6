"""Callback handlers that record agent and chain runs as selfmem episodes.

The root run of an agent or chain (``agent.invoke``, ``ainvoke``, ``stream``, ``astream``, a
LangGraph graph, any runnable) starts an episode; every tool call below it becomes an
:class:`~selfmem.ExecutionStep` (tool, parsed arguments, output or error, latency, the
``tool_call_id`` in its metadata, and the tokens of the model call that issued it), numbered
in the order the calls started; the root run's end completes the episode as a success, its
error as a failure. A run its consumer stops (a stream left early, a cancelled task) is
abandoned, not failed. An agent run inside a tool call is an episode of its own, linked to
the outer one (``parent_episode_id`` in its metadata); the outer episode has one step for
the tool that ran it.

Per run, ``config["metadata"]`` may override the handler's settings:
``selfmem_namespace``, ``selfmem_context`` (a :class:`~selfmem.TaskContext` or dict),
``selfmem_task_type`` and ``selfmem_task`` (the task description; by default the last user
message or the obvious input field).

Recording never slows the agent down: events are noted in microseconds and the memory calls
run on a background writer thread, in order (``background=False`` makes them inline).
``memory.flush()`` (or the handler's :meth:`~SelfMemCallbackHandler.flush`) writes
everything recorded so far. A failure inside selfmem is logged (logger
``langchain_selfmem.callbacks``) and never reaches the agent; a step that breaks a size
limit is stored without its arguments rather than dropped.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

from selfmem import SelfLearningMemory, TaskContext, TaskType

from ._recorder import (
    METADATA_CONTEXT,
    METADATA_NAMESPACE,
    METADATA_TASK,
    METADATA_TASK_TYPE,
    Recorder,
)
from .async_callbacks import AsyncSelfMemCallbackHandler

__all__ = [
    "METADATA_CONTEXT",
    "METADATA_NAMESPACE",
    "METADATA_TASK",
    "METADATA_TASK_TYPE",
    "AsyncSelfMemCallbackHandler",
    "SelfMemCallbackHandler",
]


class SelfMemCallbackHandler(Recorder, BaseCallbackHandler):
    """Records every run it sees as an episode of ``memory`` (see the module docstring).

    One handler serves any number of concurrent runs (threads or tasks):
    ``agent.invoke(inputs, config={"callbacks": [handler]})``. ``namespace``, ``context``
    and ``task_type`` (a :class:`~selfmem.TaskType` or your own non-empty string) are the
    defaults for the episodes it starts; ``background=False`` writes to memory inside each
    callback instead of on the writer thread. A wrong option raises
    :class:`selfmem.InvalidInputError` here, naming it.
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
        self.run_inline = self.background  # events only take microseconds: no executor hop

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
        name = kwargs.get("name")
        self.guarded("the start", run_id, lambda: self.dispatch(
            self._chain_started(run_id, parent_run_id, inputs, metadata, name)
        ))  # fmt: skip

    def on_chain_end(
        self,
        outputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.guarded("the end", run_id, lambda: self.dispatch(self._chain_ended(run_id, outputs)))

    def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.guarded("the error", run_id, lambda: self.dispatch(self._chain_failed(run_id, error)))

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
        self.guarded("a tool start", run_id, lambda: self._tool_started(
            serialized, input_str, run_id, parent_run_id, inputs, kwargs
        ))  # fmt: skip

    def on_tool_end(
        self,
        output: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.guarded("a tool result", run_id,
                     lambda: self.dispatch(self._tool_ended(run_id, output, None)))  # fmt: skip

    def on_tool_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.guarded("a tool error", run_id,
                     lambda: self.dispatch(self._tool_ended(run_id, None, error)))  # fmt: skip

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
        self.guarded("a model call", run_id, lambda: self._llm_started(run_id, parent_run_id))

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
        self.guarded("a model call", run_id, lambda: self._llm_started(run_id, parent_run_id))

    def on_llm_end(
        self,
        response: LLMResult,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.guarded("a model result", run_id, lambda: self._llm_ended(run_id, response))

    def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.guarded("a model error", run_id, lambda: self._model_failed(run_id))
