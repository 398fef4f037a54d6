"""What the sync and async callback handlers share: run events in, memory jobs out.

Every event is handled in microseconds on the agent's thread (or event loop): the tracker
notes what happened, and the memory calls that follow (start the episode, log steps,
complete or abandon it, record feedback) are returned as *jobs*. The handlers run the jobs
on the background writer, or inline when ``background=False``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

from langchain_core.outputs import LLMResult

from selfmem import InvalidInputError, SelfLearningMemory, TaskContext, TaskOutcome, TaskType
from selfmem.memory.options import (
    check_bool,
    check_context,
    check_memory,
    check_optional_str,
    check_task_type,
)
from selfmem.records import utc_now

from ._jobs import Job, after_start, agent_like, nothing, thread_key
from ._steps import describe_error, is_abandonment, is_interrupt, log_steps, usage_of
from ._text import final_text, task_text
from ._tracking import OpenRun, Placement, RunTracker, ToolCall
from ._writer import Writer, shared_writer

__all__ = [
    "METADATA_CONTEXT",
    "METADATA_NAMESPACE",
    "METADATA_TASK",
    "METADATA_TASK_TYPE",
    "Job",
    "Recorder",
    "describe_error",
    "logger",
    "usage_of",
]

logger = logging.getLogger("langchain_selfmem.callbacks")

#: Run metadata keys that override the handler's settings for one run.
METADATA_NAMESPACE = "selfmem_namespace"
METADATA_CONTEXT = "selfmem_context"
METADATA_TASK_TYPE = "selfmem_task_type"
METADATA_TASK = "selfmem_task"

_REASON_CHARS = 1_000
_HANDOFF_STEPS = 32  # finished steps handed to the writer at once ...
_HANDOFF_SECONDS = 1.0  # ... or at least this often, so a long run is durable as it goes
_FINISHED_KEPT = 1_024
_MEMORY_FLUSH_SECONDS = 120.0  # how long memory.flush() / close() wait for the writer


class Recorder:
    """Shared state and decisions of the two callback handlers (see the module docstring).

    Every option is checked here, so a wrong one fails when the handler is built.
    """

    def __init__(
        self,
        memory: SelfLearningMemory,
        *,
        namespace: str | None = None,
        context: TaskContext | dict[str, Any] | None = None,
        task_type: TaskType | str = TaskType.OTHER,
        background: bool = True,
    ) -> None:
        self.memory = check_memory(memory)
        self.namespace = check_optional_str(namespace, "namespace")
        self.context = check_context(context)
        self.task_type = check_task_type(task_type)
        self.background = check_bool(background, "background")
        self._lock = threading.Lock()
        self._handles: dict[str, SelfLearningMemory] = {memory.namespace: memory}
        if self.namespace:
            self._handle(self.namespace)  # the core's namespace rules, checked now
        self._writer: Writer = shared_writer()
        self._tracker = RunTracker()
        self._finished: OrderedDict[UUID, str] = OrderedDict()
        memory.register_flusher(self._flush_for_memory)  # memory.flush() / close() call it

    # -- queries ----------------------------------------------------------------------------

    @property
    def open_runs(self) -> int:
        """How many top-level runs are being recorded right now."""
        return len(self._tracker)

    def episode_id(self, run_id: UUID) -> str | None:
        """The episode of a run (pass ``config={"run_id": ...}`` to choose the id);
        known once the writer started it, and kept for the last 1,024 finished runs."""
        run = self._tracker.run_of(run_id)
        if run is not None:
            return run.episode_id
        with self._lock:
            return self._finished.get(run_id)

    def memory_for_run(self, run_id: UUID | None) -> SelfLearningMemory | None:
        """The memory handle (namespace) of the open run that ``run_id`` is part of."""
        run = self._tracker.run_of(run_id)
        return run.memory if run is not None else None

    def flush(self, timeout: float | None = None) -> bool:
        """Write everything recorded so far: open runs' episodes are started and their
        finished steps logged, and every pending write is waited for; False on timeout.
        ``memory.flush()`` and ``memory.close()`` call this too."""
        for run in [*self._tracker.roots(), *self._tracker.paused()]:
            if run.is_episode:
                calls = self._tracker.take_steps(run)
                self.dispatch(after_start(run, self._log_job(run, calls)))
        return self._writer.flush(timeout)

    def _flush_for_memory(self) -> None:
        """:meth:`flush` for ``memory.flush()`` and ``close()``: bounded, so a writer stuck on
        a dead connection cannot hang them; what is still pending then is logged."""
        if not self.flush(_MEMORY_FLUSH_SECONDS):
            logger.warning(
                "selfmem: the LangChain writer did not finish within %.0f s; runs recorded "
                "since may not be written yet (%d open)", _MEMORY_FLUSH_SECONDS, self.open_runs,
            )  # fmt: skip

    async def aflush(self, timeout: float | None = None) -> bool:
        """Async twin of :meth:`flush`."""
        return await asyncio.to_thread(self.flush, timeout)

    # -- settings of a run ------------------------------------------------------------------

    def _handle(self, namespace: str | None) -> SelfLearningMemory:
        if not namespace:
            return self.memory
        with self._lock:
            handle = self._handles.get(namespace)
            if handle is None:
                handle = self._handles[namespace] = self.memory.scoped(namespace)
            return handle

    def _settings(
        self, meta: Mapping[str, Any]
    ) -> tuple[SelfLearningMemory, TaskContext | None, TaskType | str]:
        """The memory handle, context and task type of a run: its metadata, else the
        handler's. A wrong metadata value is logged and the handler's setting used."""
        memory, context, task_type = self._handle(self.namespace), self.context, self.task_type

        def use_namespace(value: Any) -> None:
            nonlocal memory
            memory = self._handle(check_optional_str(value, METADATA_NAMESPACE))

        def use_context(value: Any) -> None:
            nonlocal context
            context = check_context(value, METADATA_CONTEXT)

        def use_task_type(value: Any) -> None:
            nonlocal task_type
            task_type = check_task_type(value, METADATA_TASK_TYPE)

        checks: list[tuple[str, Callable[[Any], None]]] = [
            (METADATA_NAMESPACE, use_namespace), (METADATA_CONTEXT, use_context),
            (METADATA_TASK_TYPE, use_task_type),
        ]  # fmt: skip
        for key, use in checks:
            if meta.get(key) is not None:
                try:
                    use(meta[key])
                except InvalidInputError as exc:
                    logger.warning("run metadata %s ignored: %s", key, exc)
        return memory, context, task_type

    # -- events -> jobs ---------------------------------------------------------------------

    def _chain_started(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        inputs: Any,
        metadata: Mapping[str, Any] | None,
        name: str | None,
    ) -> Job | None:
        placement = self._tracker.place(run_id, parent_run_id)
        if placement.member:
            return None
        meta = metadata or {}
        memory, context, task_type = self._settings(meta)
        thread = thread_key(memory, meta) if placement.parent is None else None
        if thread is not None and self._tracker.resume(thread, run_id) is not None:
            return None  # the run that resumes a paused thread continues its episode
        parent = placement.parent
        # a nested run inherits the outer run's metadata, so its task is its own input
        task = meta.get(METADATA_TASK) if parent is None else None
        if parent is not None:
            memory = parent.memory
        run = self._tracker.open_root(run_id, memory, placement, agent_like(inputs))
        run.thread = thread
        run.start = self._start_job(run, placement, inputs, task, name, context, task_type)
        return None

    def _start_job(
        self,
        run: OpenRun,
        placement: Placement,
        inputs: Any,
        task: Any,
        name: str | None,
        context: TaskContext | None,
        task_type: TaskType | str,
    ) -> Job:
        """The held-back start of ``run``'s episode, dated when the run began."""
        began = utc_now()
        episode_meta = {"langchain_run_id": str(run.root)}
        if name:
            episode_meta["langchain_run_name"] = name
        parent = placement.parent

        def start() -> None:
            description = str(task or task_text(inputs)).strip() or f"{name or 'chain'} run"
            limit = run.memory.config.limits.max_description_chars
            meta = dict(episode_meta)
            if parent is not None:
                meta["langchain_parent_run_id"] = str(parent.root)
                if parent.episode_id is not None:  # its start ran first, on the same writer
                    meta["parent_episode_id"] = parent.episode_id
            run.episode_id = run.memory.start_episode(
                description[:limit], context, task_type, metadata=meta, start_time=began
            )

        return start

    def _tool_started(
        self,
        serialized: Mapping[str, Any] | None,
        input_str: str,
        run_id: UUID,
        parent_run_id: UUID | None,
        inputs: Mapping[str, Any] | None,
        kwargs: Mapping[str, Any],
    ) -> None:
        name = kwargs.get("name") or (serialized or {}).get("name") or "tool"
        call_id = kwargs.get("tool_call_id")
        raw = (input_str, dict(inputs) if inputs is not None else None)
        self._tracker.start_tool(
            run_id, parent_run_id, str(name), raw, str(call_id) if call_id else None
        )

    def _tool_ended(self, run_id: UUID, output: Any, error: BaseException | None) -> Job | None:
        if error is not None and is_interrupt(error):
            self._tracker.drop_tool(run_id)  # it runs again when the thread is resumed
            return None
        run = self._tracker.finish_tool(run_id, output, error)
        if run is None:
            return None
        due = time.monotonic() - run.handed_off >= _HANDOFF_SECONDS
        if run.finished_calls() < _HANDOFF_STEPS and not due:
            return None
        calls = self._tracker.take_steps(run)
        return after_start(run, self._log_job(run, calls)) if calls else None

    @staticmethod
    def _log_job(run: OpenRun, calls: Sequence[ToolCall]) -> Job:
        return (lambda: log_steps(run, calls)) if calls else nothing

    def _llm_started(self, run_id: UUID, parent_run_id: UUID | None) -> None:
        self._tracker.join(run_id, parent_run_id)

    def _model_failed(self, run_id: UUID) -> None:
        self._tracker.leave(run_id)

    def _llm_ended(self, run_id: UUID, response: LLMResult) -> None:
        tokens, call_ids = usage_of(response)
        self._tracker.add_usage(run_id, tokens, call_ids)

    def _chain_ended(self, run_id: UUID, outputs: Any) -> Job | None:
        run = self._tracker.close(run_id)
        if run is None or not run.is_episode:
            return None
        if run.thread is not None and run.interrupted:
            return self._pause(run, run.thread)
        return self._completion(run, lambda: TaskOutcome.success(final_text(outputs)))

    def _pause(self, run: OpenRun, thread: tuple[str, str]) -> Job:
        """The run waits for human input: its episode stays open (its steps so far written)
        for the run that resumes the thread."""
        self._tracker.pause(thread, run)
        return after_start(run, self._log_job(run, self._tracker.take_steps(run)))

    def _chain_failed(self, run_id: UUID, error: BaseException) -> Job | None:
        if is_interrupt(error):  # a node waits for input; the run ends, to be resumed
            waiting = self._tracker.run_of(run_id)
            if waiting is not None:
                waiting.interrupted = True
        run = self._tracker.close(run_id)
        if run is None or not run.is_episode:
            return None
        if run.thread is not None and run.interrupted:
            return self._pause(run, run.thread)
        reason = describe_error(error)[:_REASON_CHARS]
        if is_abandonment(error):
            return self._completion(run, None, f"the run was stopped before it ended ({reason})")
        return self._completion(run, lambda: TaskOutcome.failure(reason))

    def _completion(
        self,
        run: OpenRun,
        outcome: Callable[[], TaskOutcome] | None,
        abandoned: str | None = None,
    ) -> Job:
        """Log the run's last steps, then complete its episode with ``outcome``, or abandon
        it (``abandoned`` is the reason: the consumer stopped the run, the task did not
        fail)."""
        calls = self._tracker.take_steps(run, everything=True)

        def complete() -> None:
            if run.episode_id is None:  # starting it failed (and was logged)
                return
            log_steps(run, calls)
            if outcome is None:
                run.memory.abandon_episode(run.episode_id, abandoned or "abandoned")
            else:
                run.memory.complete_episode(run.episode_id, outcome())
            with self._lock:
                self._finished[run.root] = run.episode_id
                while len(self._finished) > _FINISHED_KEPT:
                    self._finished.popitem(last=False)

        return after_start(run, complete)

    def feedback_job(
        self, run_id: UUID | None, pattern_ids: Sequence[str], heuristic_ids: Sequence[str]
    ) -> Job | None:
        """A job recording that these patterns and heuristics were shown to the open run
        ``run_id`` is part of (applied when its episode completes); ``None`` if no run."""
        run = self._tracker.run_of(run_id)
        if run is None:
            return None
        patterns, heuristics = list(pattern_ids), list(heuristic_ids)

        def feedback() -> None:
            if run.episode_id is not None:
                run.memory.record_feedback(run.episode_id, patterns, heuristics)

        return after_start(run, feedback)

    def guarded(self, what: str, run_id: UUID, action: Callable[[], None]) -> None:
        """Run a callback's work; a failure is logged with the event and the run, never
        raised (the agent must never break because its memory failed)."""
        try:
            action()
        except Exception:  # the callback boundary: log with context, keep the agent going
            logger.warning("selfmem could not record %s of run %s", what, run_id, exc_info=True)

    def dispatch(self, job: Job | None) -> None:
        """Run a job on the writer, or now when ``background`` is off."""
        if job is None:
            return
        if self.background:
            self._writer.submit(job)
            return
        try:
            job()
        except Exception:  # the agent must never break because its memory failed
            logger.warning("selfmem could not record a run event", exc_info=True)
