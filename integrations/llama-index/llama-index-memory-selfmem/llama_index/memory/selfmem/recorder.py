"""``SelfMemRecorder``: every agent run becomes a selfmem episode, with no change to the agent.

It is a LlamaIndex span handler. Attached to the root dispatcher, it sees the ``run`` span of
each ``FunctionAgent`` / ``ReActAgent`` / ``AgentWorkflow`` (the episode) and the
``call`` / ``acall`` spans of the tools called inside it (the steps: name, arguments,
output or error, latency). Spans carry their parent's id, so concurrent runs, in tasks or
threads, are kept apart. When the run ends, an :data:`~.runs.OutcomeJudge` decides the
outcome and the episode is completed.

It never breaks the agent: every write is guarded, failures are logged with the episode and
tool, and what could not be written is kept (see :class:`~.runs.EpisodeWriter`).
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections import deque
from types import TracebackType
from typing import Any

from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
from llama_index.core.tools import BaseTool
from llama_index.memory.selfmem.runs import EpisodeWriter, OutcomeJudge, RunRecord, make_step
from llama_index.memory.selfmem.spans import (
    AGENT_TYPES,
    RecordedSpan,
    agent_name,
    is_run_span,
    run_answer,
    run_task,
    tool_call,
    tool_result,
)
from llama_index_instrumentation import get_dispatcher
from llama_index_instrumentation.dispatcher import Dispatcher
from pydantic import PrivateAttr

from selfmem import SelfLearningMemory, TaskContext, TaskType

__all__ = ["SelfMemRecorder"]

logger = logging.getLogger(__name__)

_MAX_RECENT = 1_000


class SelfMemRecorder(BaseSpanHandler[RecordedSpan]):
    """Records agent runs as selfmem episodes from LlamaIndex instrumentation spans.

    ``memory``: an open :class:`selfmem.SelfLearningMemory` (the caller owns and closes it).
    ``context`` / ``task_type``: stored with every episode. ``judge``: decides each run's
    outcome (default :func:`~.runs.default_judge`). ``agent_types``: the workflow classes
    whose runs are recorded (default: LlamaIndex agents and agent workflows).

    Use :meth:`attach` (or ``with recorder:``) to start recording on the root dispatcher.
    """

    _writer: EpisodeWriter = PrivateAttr()
    _agent_types: tuple[type, ...] = PrivateAttr()
    _runs: dict[str, RunRecord] = PrivateAttr(default_factory=dict)
    _recent: deque[str] = PrivateAttr(default_factory=lambda: deque(maxlen=_MAX_RECENT))
    _guard: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _dispatcher: Dispatcher | None = PrivateAttr(default=None)

    def __init__(
        self,
        memory: SelfLearningMemory,
        *,
        context: TaskContext | dict[str, Any] | None = None,
        task_type: TaskType | str = TaskType.OTHER,
        judge: OutcomeJudge | None = None,
        agent_types: tuple[type, ...] = AGENT_TYPES,
    ) -> None:
        super().__init__(open_spans={}, completed_spans=[], dropped_spans=[], current_span_ids={})
        self._writer = EpisodeWriter(memory, context=context, task_type=task_type, judge=judge)
        self._agent_types = agent_types

    @classmethod
    def class_name(cls) -> str:
        """Class name."""
        return "SelfMemRecorder"

    # -- attaching ----------------------------------------------------------------------------

    def attach(self, dispatcher: Dispatcher | None = None) -> SelfMemRecorder:
        """Start recording: add this handler to ``dispatcher`` (default: the root one)."""
        target = dispatcher or get_dispatcher()
        if not any(handler is self for handler in target.span_handlers):
            target.add_span_handler(self)
        self._dispatcher = target
        return self

    def detach(self) -> None:
        """Stop recording. Runs still in progress are not recorded further."""
        target = self._dispatcher
        if target is not None:
            target.span_handlers[:] = [h for h in target.span_handlers if h is not self]
        self._dispatcher = None

    def __enter__(self) -> SelfMemRecorder:
        return self.attach()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.detach()

    # -- what was recorded --------------------------------------------------------------------

    @property
    def memory(self) -> SelfLearningMemory:
        """The memory episodes are written to."""
        return self._writer.memory

    @property
    def episode_ids(self) -> list[str]:
        """Ids of the episodes completed by this recorder, oldest first (the last 1,000)."""
        return list(self._recent)

    @property
    def unsaved(self) -> list[RunRecord]:
        """Runs whose episode could not be written; see :meth:`retry_unsaved`."""
        return list(self._writer.unsaved)

    def retry_unsaved(self) -> int:
        """Write the unsaved runs again; returns how many are now saved."""
        saved = self._writer.retry_unsaved()
        self._recent.extend(episode.id for episode in saved)
        return len(saved)

    # -- span callbacks -----------------------------------------------------------------------

    def new_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        parent_span_id: str | None = None,
        tags: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> RecordedSpan | None:
        """Open a run, a tool call, or a span inside a run; ignore everything else."""
        try:
            return self._open(id_, bound_args, instance, parent_span_id)
        except Exception:
            logger.warning("selfmem: could not open span %s", id_, exc_info=True)
            return None

    def _open(
        self, id_: str, bound_args: inspect.BoundArguments, instance: Any, parent_id: str | None
    ) -> RecordedSpan | None:
        if is_run_span(id_, instance, self._agent_types):
            metadata = {
                "source": "llama_index",
                "agent": agent_name(instance),
                "agent_class": type(instance).__name__,
            }
            run = self._writer.start(run_task(bound_args), metadata)
            with self._guard:
                self._runs[id_] = run
            return RecordedSpan(id_=id_, parent_id=parent_id, run_id=id_)
        parent = self.open_spans.get(parent_id) if parent_id else None
        if parent is None:
            return None
        if isinstance(instance, BaseTool) and not parent.in_tool:
            name, parameters = tool_call(instance, bound_args)
            return RecordedSpan(
                id_=id_,
                parent_id=parent_id,
                run_id=parent.run_id,
                tool=name,
                in_tool=True,
                parameters=parameters,
                started=time.perf_counter(),
            )
        return RecordedSpan(
            id_=id_, parent_id=parent_id, run_id=parent.run_id, in_tool=parent.in_tool
        )

    def prepare_to_exit_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        result: Any | None = None,
        **kwargs: Any,
    ) -> RecordedSpan | None:
        """A tool call returned (a step) or a run finished (the outcome)."""
        return self._close(id_, result=result, err=None)

    def prepare_to_drop_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        err: BaseException | None = None,
        **kwargs: Any,
    ) -> RecordedSpan | None:
        """A tool call raised (a failed step) or a run failed (a failure outcome)."""
        return self._close(id_, result=None, err=err)

    def _close(self, id_: str, result: Any, err: BaseException | None) -> RecordedSpan | None:
        span = self.open_spans.get(id_)
        if span is None:
            return None
        try:
            if span.tool is not None:
                self._tool_done(span, result, err)
            elif span.run_id == id_:
                self._run_done(id_, result, err)
            elif err is not None and not span.in_tool:
                self._note_error(span.run_id, err)
        except Exception:
            logger.warning("selfmem: could not record span %s", id_, exc_info=True)
        return span

    def _tool_done(self, span: RecordedSpan, result: Any, err: BaseException | None) -> None:
        run = self._runs.get(span.run_id)
        if run is None or span.tool is None:
            return
        observation: str | None = None
        if err is not None:
            error: str | None = _describe(err)
        else:
            observation, error = tool_result(result)
        step = make_step(
            self._writer.memory,
            span.tool,
            span.parameters,
            observation=observation,
            error=error,
            latency_ms=(time.perf_counter() - span.started) * 1000.0,
        )
        self._writer.add_step(run, step)

    def _note_error(self, run_id: str, err: BaseException) -> None:
        run = self._runs.get(run_id)
        if run is not None:
            run.error = _describe(err)

    def _run_done(self, id_: str, result: Any, err: BaseException | None) -> None:
        with self._guard:
            run = self._runs.pop(id_, None)
            for key in [k for k, s in self.open_spans.items() if s.run_id == id_ and k != id_]:
                self.open_spans.pop(key, None)
        if run is None:
            return
        if err is not None:
            run.error = _describe(err)
        else:
            run.answer = run_answer(result)
            if run.answer is not None:
                run.error = None
            elif run.error is None:
                run.error = "the run ended without a result"
        episode = self._writer.finish(run)
        if episode is not None:
            self._recent.append(episode.id)


def _describe(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
