"""What the sync and async callback handlers share: run events in, memory jobs out.

Every event is handled in microseconds on the agent's thread (or event loop): the tracker
notes what happened, and the memory calls that follow (start the episode, log steps,
complete it, record feedback) are returned as *jobs*. The handlers run the jobs on the
background writer, or inline when ``background=False``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from selfmem import InvalidInputError, SelfLearningMemory, TaskContext, TaskOutcome, TaskType
from selfmem.records import utc_now

from ._text import final_text, task_text, tool_output, tool_parameters
from ._tracking import OpenRun, RunTracker, StepRecord
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

Job = Callable[[], None]

_REASON_CHARS = 1_000
_HANDOFF_STEPS = 32  # finished steps handed to the writer at once ...
_HANDOFF_SECONDS = 1.0  # ... or at least this often, so a long run is durable as it goes
_FINISHED_KEPT = 1_024


def describe_error(error: BaseException) -> str:
    """``TypeName: message`` of an exception."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def usage_of(response: LLMResult) -> tuple[int, list[str]]:
    """Total tokens of a model call and the ids of the tool calls it issued."""
    tokens = 0
    call_ids: list[str] = []
    for generations in response.generations:
        for generation in generations:
            message = generation.message if isinstance(generation, ChatGeneration) else None
            if isinstance(message, AIMessage):
                if message.usage_metadata:
                    tokens += int(message.usage_metadata.get("total_tokens", 0))
                call_ids.extend(str(call["id"]) for call in message.tool_calls if call.get("id"))
    if not tokens and response.llm_output:
        usage = response.llm_output.get("token_usage") or response.llm_output.get("usage") or {}
        if isinstance(usage, Mapping):
            tokens = int(usage.get("total_tokens", 0) or 0)
    return tokens, call_ids


def _step_fields(record: StepRecord) -> dict[str, Any]:
    observation: str | None
    error: str | None
    if record.error is not None:
        observation, error = None, describe_error(record.error)
    else:
        observation, error = tool_output(record.output)
    input_str, inputs = record.inputs
    return {
        "tool": record.name, "parameters": tool_parameters(input_str, inputs),
        "observation": observation, "error": error, "success": error is None,
        "latency_ms": record.latency_ms, "tokens": record.tokens, "timestamp": record.timestamp,
        "metadata": {"tool_call_id": record.tool_call_id} if record.tool_call_id else {},
    }  # fmt: skip


def _log_steps(run: OpenRun, records: Sequence[StepRecord]) -> None:
    """Log finished tool calls; a step that breaks a limit is kept without its arguments."""
    if run.episode_id is None or not records:
        return
    for record in records:
        fields = _step_fields(record)
        try:
            run.memory.log_step(run.episode_id, **fields)
        except InvalidInputError as exc:
            logger.warning("tool step %s kept without its arguments: %s", record.name, exc)
            fields["metadata"] = {**fields["metadata"], "parameters_dropped": str(exc)[:200]}
            run.memory.log_step(run.episode_id, **{**fields, "parameters": {}})


_START_LOCK = threading.Lock()


def _after_start(run: OpenRun, job: Job) -> Job:
    """``job``, preceded by the run's held-back episode start if it has not been sent yet."""
    with _START_LOCK:  # parallel tool calls may hand over at once: send the start once
        start, run.start = run.start, None
    if start is None:
        return job

    def started_then_job() -> None:
        start()
        job()

    return started_then_job


class Recorder:
    """Shared state and decisions of the two callback handlers (see the module docstring)."""

    def __init__(
        self,
        memory: SelfLearningMemory,
        *,
        namespace: str | None = None,
        context: TaskContext | dict[str, Any] | None = None,
        task_type: TaskType | str = TaskType.OTHER,
        background: bool = True,
    ) -> None:
        self.memory = memory
        self.namespace = namespace
        self.context = context
        self.task_type = task_type
        self.background = background
        self._writer: Writer = shared_writer()
        self._tracker = RunTracker()
        self._handles: dict[str, SelfLearningMemory] = {memory.namespace: memory}
        self._lock = threading.Lock()
        self._finished: OrderedDict[UUID, str] = OrderedDict()

    # -- queries ----------------------------------------------------------------------------

    @property
    def open_runs(self) -> int:
        """How many root runs are being recorded right now."""
        return len(self._tracker)

    def episode_id(self, run_id: UUID) -> str | None:
        """The episode of a root run (pass ``config={"run_id": ...}`` to choose the id);
        known once the writer started it, and kept for the last 1,024 finished runs."""
        run = self._tracker.run_of(run_id)
        if run is not None:
            return run.episode_id
        with self._lock:
            return self._finished.get(run_id)

    def memory_for_run(self, run_id: UUID | None) -> SelfLearningMemory | None:
        """The memory handle (namespace) of the open root run that ``run_id`` is part of."""
        run = self._tracker.run_of(run_id)
        return run.memory if run is not None else None

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything recorded so far is written (open runs' episodes are
        started); False on timeout."""
        for run in self._tracker.roots():
            if run.start is not None:
                self.dispatch(_after_start(run, lambda: None))
        return self._writer.flush(timeout)

    # -- events -> jobs ---------------------------------------------------------------------

    def _handle(self, namespace: str | None) -> SelfLearningMemory:
        if not namespace:
            return self.memory
        with self._lock:
            handle = self._handles.get(namespace)
            if handle is None:
                handle = self._handles[namespace] = self.memory.scoped(namespace)
            return handle

    def _chain_started(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        inputs: Any,
        metadata: Mapping[str, Any] | None,
        name: str | None,
    ) -> Job | None:
        if not self._tracker.enter(run_id, parent_run_id):
            return None
        meta = metadata or {}
        memory = self._handle(meta.get(METADATA_NAMESPACE) or self.namespace)
        run = self._tracker.open_root(run_id, memory)
        context = meta.get(METADATA_CONTEXT) or self.context
        task_type = meta.get(METADATA_TASK_TYPE) or self.task_type
        task = meta.get(METADATA_TASK)
        episode_meta = {"langchain_run_id": str(run_id)}
        if name:
            episode_meta["langchain_run_name"] = name

        began = utc_now()

        def start() -> None:
            description = str(task or task_text(inputs)).strip() or f"{name or 'chain'} run"
            limit = memory.config.limits.max_description_chars
            run.episode_id = memory.start_episode(
                description[:limit], context, task_type, metadata=episode_meta, start_time=began
            )

        run.start = start  # written with the run's first hand-over, not during the run
        return None

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
        run = self._tracker.finish_tool(run_id, output, error)
        if run is None:
            return None
        due = time.monotonic() - run.handed_off >= _HANDOFF_SECONDS
        if len(run.steps) < _HANDOFF_STEPS and not due:
            return None
        records = self._tracker.take_steps(run)
        return _after_start(run, lambda: _log_steps(run, records))

    def _llm_started(self, run_id: UUID, parent_run_id: UUID | None) -> None:
        self._tracker.join(run_id, parent_run_id)

    def _llm_ended(self, run_id: UUID, response: LLMResult) -> None:
        tokens, call_ids = usage_of(response)
        self._tracker.add_usage(run_id, tokens, call_ids)

    def _chain_ended(self, run_id: UUID, outputs: Any) -> Job | None:
        run = self._tracker.close(run_id)
        if run is None:
            return None
        return self._completion(run, lambda: TaskOutcome.success(final_text(outputs)))

    def _chain_failed(self, run_id: UUID, error: BaseException) -> Job | None:
        run = self._tracker.close(run_id)
        if run is None:
            return None
        reason = describe_error(error)[:_REASON_CHARS]
        return self._completion(run, lambda: TaskOutcome.failure(reason))

    def _completion(self, run: OpenRun, outcome: Callable[[], TaskOutcome]) -> Job:
        records = self._tracker.take_steps(run)

        def complete() -> None:
            if run.episode_id is None:  # starting it failed (and was logged)
                return
            _log_steps(run, records)
            run.memory.complete_episode(run.episode_id, outcome())
            with self._lock:
                self._finished[run.root] = run.episode_id
                while len(self._finished) > _FINISHED_KEPT:
                    self._finished.popitem(last=False)

        return _after_start(run, complete)

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

        return _after_start(run, feedback)

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
