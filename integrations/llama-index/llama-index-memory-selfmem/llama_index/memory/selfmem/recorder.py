"""``SelfMemRecorder``: every agent run becomes a selfmem episode, with no change to the agent.

It is a LlamaIndex span handler. Attached to the root dispatcher, it sees the ``run`` span of
each ``FunctionAgent`` / ``ReActAgent`` / ``AgentWorkflow`` (the episode) and the
``call`` / ``acall`` spans of the tools called inside it (the steps: name, arguments,
output or error, latency); a tool the agent was asked for but could not run (it does not
exist) is a failed step too. Spans carry their parent's id, so concurrent runs, in tasks or
threads, are kept apart, and an agent run inside a tool is an episode of its own, linked to
the outer one. When the run ends, an :data:`~.runs.OutcomeJudge` decides the outcome and the
episode is completed; a run that was stopped (a cancelled task) is abandoned instead.

It never breaks the agent: every write is guarded, failures are logged with the episode and
tool, and what could not be written is kept (see :class:`~.runs.EpisodeWriter`);
``memory.flush()`` / ``close()`` write it again.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
import weakref
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
    is_abandonment,
    is_run_span,
    requested_call,
    run_answer,
    run_task,
    tool_call,
    tool_result,
    unrun_result,
)
from llama_index_instrumentation import get_dispatcher
from llama_index_instrumentation.dispatcher import Dispatcher
from pydantic import PrivateAttr

from selfmem import InvalidInputError, SelfLearningMemory, TaskContext, TaskType
from selfmem.memory.options import check_context, check_memory, check_task_type

__all__ = ["SelfMemRecorder", "recording"]

logger = logging.getLogger(__name__)

_MAX_RECENT = 1_000
_ATTACHED: list[weakref.ref[SelfMemRecorder]] = []
_ATTACHED_LOCK = threading.Lock()


def _same(a: SelfLearningMemory, b: SelfLearningMemory) -> bool:
    """The same memory: one handle, or handles of one namespace on one store."""
    return a is b or (a.namespace == b.namespace and a.config is b.config)


def recording(memory: SelfLearningMemory) -> bool:
    """Whether an attached :class:`SelfMemRecorder` records agent runs into ``memory``."""
    with _ATTACHED_LOCK:
        return any(
            (r := ref()) is not None and r._dispatcher is not None and _same(r.memory, memory)
            for ref in _ATTACHED
        )


def _check_agent_types(agent_types: Any) -> tuple[type, ...]:
    if (
        not isinstance(agent_types, tuple)
        or not agent_types
        or not all(isinstance(t, type) for t in agent_types)
    ):
        raise InvalidInputError(
            f"agent_types must be a non-empty tuple of workflow classes, got {agent_types!r}",
            field="agent_types",
        )
    return agent_types


class SelfMemRecorder(BaseSpanHandler[RecordedSpan]):
    """Records agent runs as selfmem episodes from LlamaIndex instrumentation spans.

    ``memory``: an open :class:`selfmem.SelfLearningMemory` (the caller owns and closes it;
    its ``flush()`` and ``close()`` flush this recorder too). ``context`` / ``task_type``
    (a :class:`selfmem.TaskType` or your own non-empty string): stored with every episode.
    ``judge``: decides each run's outcome (default :func:`~.runs.default_judge`).
    ``agent_types``: the workflow classes whose runs are recorded (default: LlamaIndex agents
    and agent workflows). A wrong option raises :class:`selfmem.InvalidInputError` here.

    Use :meth:`attach` (or ``with recorder:``) to start recording on the root dispatcher.
    """

    _writer: EpisodeWriter = PrivateAttr()
    _agent_types: tuple[type, ...] = PrivateAttr()
    _runs: dict[str, RunRecord] = PrivateAttr(default_factory=dict)
    _recent: deque[str] = PrivateAttr(default_factory=lambda: deque(maxlen=_MAX_RECENT))
    _guard: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _dispatcher: Dispatcher | None = PrivateAttr(default=None)
    _children: dict[str, list[RunRecord]] = PrivateAttr(default_factory=dict)

    def __init__(
        self,
        memory: SelfLearningMemory,
        *,
        context: TaskContext | dict[str, Any] | None = None,
        task_type: TaskType | str = TaskType.OTHER,
        judge: OutcomeJudge | None = None,
        agent_types: tuple[type, ...] = AGENT_TYPES,
    ) -> None:
        memory = check_memory(memory)
        checked_context = check_context(context)
        checked_type = check_task_type(task_type)
        if judge is not None and not callable(judge):
            raise InvalidInputError(f"judge must be callable, got {judge!r}", field="judge")
        super().__init__(open_spans={}, completed_spans=[], dropped_spans=[], current_span_ids={})
        self._writer = EpisodeWriter(
            memory, context=checked_context, task_type=checked_type, judge=judge
        )
        self._agent_types = _check_agent_types(agent_types)
        memory.register_flusher(self.flush)  # memory.flush() / close() flush this recorder

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
        with _ATTACHED_LOCK:
            _ATTACHED[:] = [r for r in _ATTACHED if r() is not None and r() is not self]
            _ATTACHED.append(weakref.ref(self))
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

    def flush(self) -> int:
        """Write what the recorder holds: steps of runs in progress that could not be
        written yet, and the unsaved runs; returns how many runs are now saved.
        ``memory.flush()`` and ``memory.close()`` call this."""
        saved = self._writer.flush()
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
        parent = self.open_spans.get(parent_id) if parent_id else None
        if is_run_span(id_, instance, self._agent_types):
            return self._open_run(id_, bound_args, instance, parent_id, parent)
        if parent is None:
            return None
        if isinstance(instance, BaseTool) and not parent.in_tool:
            self._mark_tool_seen(parent)
            name, parameters = tool_call(instance, bound_args)
            return RecordedSpan(
                id_=id_,
                parent_id=parent_id,
                run_id=parent.run_id,
                tool=name,
                tool_span=id_,
                parameters=parameters,
                started=time.perf_counter(),
            )
        call = requested_call(bound_args) if not parent.in_tool else None
        return RecordedSpan(
            id_=id_, parent_id=parent_id, run_id=parent.run_id, tool_span=parent.tool_span,
            call=call,
        )  # fmt: skip

    def _mark_tool_seen(self, span: RecordedSpan | None) -> None:
        """A tool runs below an agent's ``call_tool`` step: that step is recorded by it."""
        while span is not None and span.run_id != span.id_:
            if span.call is not None:
                span.tool_seen = True
                return
            span = self.open_spans.get(span.parent_id or "")

    def _open_run(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any,
        parent_id: str | None,
        parent: RecordedSpan | None,
    ) -> RecordedSpan:
        """A run: an episode; inside a tool call, one linked to the outer run's episode."""
        metadata: dict[str, Any] = {
            "source": "llama_index",
            "agent": agent_name(instance),
            "agent_class": type(instance).__name__,
        }
        outer = self._runs.get(parent.run_id) if parent is not None else None
        if outer is not None and outer.episode_id is not None:
            metadata["parent_episode_id"] = outer.episode_id
        run = self._writer.start(run_task(bound_args), metadata)
        with self._guard:
            self._runs[id_] = run
            if parent is not None and parent.tool_span is not None:
                self._children.setdefault(parent.tool_span, []).append(run)
        return RecordedSpan(id_=id_, parent_id=parent_id, run_id=id_)

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
            elif span.call is not None and not span.tool_seen and err is None:
                self._unrun_tool(span, result)
            elif err is not None and not span.in_tool:
                self._note_error(span.run_id, err)
        except Exception:
            logger.warning("selfmem: could not record span %s", id_, exc_info=True)
        return span

    def _tool_done(self, span: RecordedSpan, result: Any, err: BaseException | None) -> None:
        run = self._runs.get(span.run_id)
        with self._guard:
            children = self._children.pop(span.id_, [])
        if run is None or span.tool is None:
            return
        observation: str | None = None
        if err is not None:
            error: str | None = _describe(err)
        else:
            observation, error = tool_result(result)
        linked = [child.episode_id for child in children if child.episode_id]
        step = make_step(
            self._writer.memory,
            span.tool,
            span.parameters,
            observation=observation,
            error=error,
            latency_ms=(time.perf_counter() - span.started) * 1000.0,
            metadata={"child_episode_ids": linked} if linked else None,
        )
        self._writer.add_step(run, step)

    def _unrun_tool(self, span: RecordedSpan, result: Any) -> None:
        """The agent was asked for a tool and ran none (no such tool): a failed step."""
        run = self._runs.get(span.run_id)
        error = unrun_result(result)
        if run is None or span.call is None or error is None:
            return
        call = span.call
        step = make_step(self._writer.memory, call.tool_name, call.tool_kwargs, error=error)
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
        if is_abandonment(err, result):
            reason = _describe(err) if err is not None else "cancelled"
            run.abandoned = f"the run was stopped before it ended ({reason})"
        elif err is not None:
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
