"""Writing agent runs to selfmem without ever failing the host.

A :class:`RunRecord` collects one run (or one conversation turn): the task, its tool calls
as ``ExecutionStep`` records, the final answer or the error. :class:`EpisodeWriter` mirrors it
into a selfmem episode as it happens: the episode starts with the run, each step is logged
when the call ends, and the outcome (decided by an :data:`OutcomeJudge`) completes it.

The writer is called from LlamaIndex callbacks (span handlers, memory blocks), where an
exception would break the agent. Every write is therefore guarded: a failure is logged with
the episode and the tool, and the data stays in the record. Steps that could not be written
are retried in order on the next write, and a run whose episode could not be completed is
kept in :attr:`EpisodeWriter.unsaved` for :meth:`EpisodeWriter.retry_unsaved`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from selfmem import (
    Episode,
    ExecutionStep,
    LimitExceededError,
    SelfLearningMemory,
    TaskContext,
    TaskOutcome,
    TaskType,
)

__all__ = ["EpisodeWriter", "OutcomeJudge", "RunRecord", "default_judge", "make_step"]

logger = logging.getLogger(__name__)

_MAX_VERDICT = 500
_MAX_UNSAVED = 100


@dataclass
class RunRecord:
    """What one agent run did, kept in process until its episode is complete."""

    task: str
    metadata: dict[str, Any] = field(default_factory=dict)
    episode_id: str | None = None
    steps: list[ExecutionStep] = field(default_factory=list)
    logged: int = 0
    answer: str | None = None
    error: str | None = None
    #: Set when the run was stopped before it ended (the reason); it is abandoned, not judged.
    abandoned: str | None = None
    episode: Episode | None = None


#: Decides how a finished run ended. Receives the record with ``steps``, ``answer``
#: (``None`` if the run produced none) and ``error`` (set when the run raised).
OutcomeJudge = Callable[[RunRecord], TaskOutcome]


def default_judge(run: RunRecord) -> TaskOutcome:
    """The default outcome of a run.

    A run that raised is a failure (the error is the reason), and so is a run without an
    answer. Otherwise the last call of each tool counts: all failed, a failure; some failed,
    a partial success listing the tools that failed and those that worked; none failed (or
    no tools), a success with the answer as its verdict.
    """
    if run.error is not None:
        return TaskOutcome.failure(run.error)
    if run.answer is None:
        return TaskOutcome.failure("the run ended without an answer")
    last: dict[str, bool] = {}
    for step in run.steps:
        last[step.tool] = step.success
    failed = [tool for tool, ok in last.items() if not ok]
    completed = [tool for tool, ok in last.items() if ok]
    verdict = run.answer.strip()[:_MAX_VERDICT]
    if failed and not completed:
        details = "; ".join(f"{s.tool}: {s.error}" for s in run.steps if not s.success)
        return TaskOutcome.failure(f"every tool call failed ({', '.join(failed)})", details)
    if failed:
        return TaskOutcome.partial(verdict, completed=completed, failed=failed)
    return TaskOutcome.success(verdict)


def _parameters(raw: Mapping[str, Any], max_bytes: int) -> dict[str, Any]:
    """A JSON-safe copy of a tool's arguments that fits the memory's size limit."""
    try:
        encoded = json.dumps(dict(raw), default=repr, ensure_ascii=False)
    except (TypeError, ValueError):
        encoded = json.dumps({"arguments": repr(raw)})
    if len(encoded.encode()) > max_bytes:
        return {"truncated": encoded[: max(max_bytes // 4, 64)]}
    value: dict[str, Any] = json.loads(encoded)
    return value


def make_step(
    memory: SelfLearningMemory,
    tool: str,
    parameters: Mapping[str, Any],
    *,
    observation: str | None = None,
    error: str | None = None,
    latency_ms: float = 0.0,
    metadata: dict[str, Any] | None = None,
) -> ExecutionStep:
    """An ``ExecutionStep`` for one tool call, its arguments made safe to store."""
    limits = memory.config.limits
    return ExecutionStep(
        tool=(tool or "unknown_tool")[: limits.max_tool_name_chars],
        parameters=_parameters(parameters, limits.max_parameters_bytes // 2),
        observation=observation,
        success=error is None,
        error=error,
        latency_ms=max(latency_ms, 0.0),
        metadata=metadata or {},
    )


class EpisodeWriter:
    """Mirrors :class:`RunRecord` objects into selfmem episodes; never raises.

    ``context`` and ``task_type`` are written as given: check them first (the recorder and
    the memory block do, when they are built).
    """

    def __init__(
        self,
        memory: SelfLearningMemory,
        *,
        context: TaskContext | dict[str, Any] | None = None,
        task_type: TaskType | str = TaskType.OTHER,
        judge: OutcomeJudge | None = None,
    ) -> None:
        self.memory = memory
        self.context = context
        self.task_type = task_type
        self.judge: OutcomeJudge = judge or default_judge
        self.unsaved: deque[RunRecord] = deque(maxlen=_MAX_UNSAVED)
        self._open: dict[int, RunRecord] = {}  # runs started and not finished, by id()
        self._sync_lock = threading.RLock()  # flush() may write a run's steps from another thread

    def start(self, task: str, metadata: dict[str, Any] | None = None) -> RunRecord:
        """A new run, with its episode started (unless the memory refuses: then later)."""
        run = RunRecord(task=task.strip() or "agent run", metadata=dict(metadata or {}))
        self._begin(run)
        self._open[id(run)] = run
        return run

    def _begin(self, run: RunRecord) -> None:
        try:
            run.episode_id = self.memory.start_episode(
                run.task, self.context, self.task_type, metadata=run.metadata
            )
        except Exception:
            logger.warning(
                "selfmem: could not start an episode for %r", run.task[:80], exc_info=True
            )

    def add_step(self, run: RunRecord, step: ExecutionStep) -> None:
        """Append a step to the run and log every step not yet written."""
        run.steps.append(step)
        self._sync(run)

    def _sync(self, run: RunRecord) -> bool:
        with self._sync_lock:
            return self._sync_locked(run)

    def _sync_locked(self, run: RunRecord) -> bool:
        if run.episode_id is None:
            return False
        while run.logged < len(run.steps):
            step = run.steps[run.logged]
            try:
                self.memory.log_step(run.episode_id, step)
            except LimitExceededError:
                logger.warning(
                    "selfmem: step %s of episode %s exceeds a limit; skipped",
                    step.tool,
                    run.episode_id,
                    exc_info=True,
                )
            except Exception:
                logger.warning(
                    "selfmem: could not log step %s of episode %s; kept for retry",
                    step.tool,
                    run.episode_id,
                    exc_info=True,
                )
                return False
            run.logged += 1
        return True

    def finish(self, run: RunRecord) -> Episode | None:
        """Judge the run and complete its episode (or abandon it, if it was stopped).
        ``None`` (and kept in ``unsaved``) on failure."""
        self._open.pop(id(run), None)
        outcome: TaskOutcome | None = None
        if run.abandoned is None:
            try:
                outcome = self.judge(run)
            except Exception:
                logger.warning("selfmem: the outcome judge failed for %r", run.task[:80],
                               exc_info=True)  # fmt: skip
                outcome = default_judge(run)
        if run.episode_id is None:
            self._begin(run)
        if not self._sync(run):
            self.unsaved.append(run)
            return None
        assert run.episode_id is not None
        try:
            if outcome is None:
                run.episode = self.memory.abandon_episode(run.episode_id, run.abandoned or "")
            else:
                run.episode = self.memory.complete_episode(run.episode_id, outcome)
        except Exception:
            logger.warning("selfmem: could not complete episode %s", run.episode_id, exc_info=True)
            self.unsaved.append(run)
            return None
        return run.episode

    def flush(self) -> list[Episode]:
        """Write what is held: the steps of open runs not written yet, and the unsaved runs
        (returns those now saved)."""
        for run in list(self._open.values()):
            if run.episode_id is None:
                self._begin(run)
            self._sync(run)
        return self.retry_unsaved()

    def retry_unsaved(self) -> list[Episode]:
        """Try again to write the runs that could not be saved; returns those now saved."""
        pending = list(self.unsaved)
        self.unsaved.clear()
        return [episode for run in pending if (episode := self.finish(run)) is not None]
