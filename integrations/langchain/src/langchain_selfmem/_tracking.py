"""Which LangChain run belongs to which episode: the state behind the callback handlers.

LangChain reports every run (chain, graph node, model call, tool call) with its own id and
its parent's id. A chain whose parent this tracker has not seen is a *root*: it gets an
episode. Every run below it maps to the same :class:`OpenRun`, so nested and parallel tool
calls of concurrent agent runs never mix. All methods are thread-safe, cheap, and do no I/O.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from selfmem.records import utc_now

if TYPE_CHECKING:
    from selfmem import SelfLearningMemory

__all__ = ["OpenRun", "PendingTool", "RunTracker", "StepRecord"]


@dataclass(slots=True, eq=False)
class StepRecord:
    """A finished tool call, kept raw until the writer turns it into an ``ExecutionStep``."""

    name: str
    inputs: Any
    output: Any
    error: BaseException | None
    latency_ms: float
    tokens: int | None
    timestamp: datetime
    tool_call_id: str | None


@dataclass(slots=True, eq=False)
class OpenRun:
    """A root run being recorded, and what is known about it so far.

    ``episode_id`` is set once the writer has started the episode (it stays ``None`` if
    that failed). The start itself waits in ``start`` until the run first hands work over
    (steps, feedback or its end), so nothing is written while a short run is going on.
    ``steps`` are finished tool calls not yet handed to the writer.
    """

    root: UUID
    memory: SelfLearningMemory
    episode_id: str | None = None
    members: set[UUID] = field(default_factory=set)
    tokens_by_call: dict[str, int] = field(default_factory=dict)
    steps: list[StepRecord] = field(default_factory=list)
    handed_off: float = field(default_factory=time.monotonic)
    #: The job that starts the episode, held until the run first hands work to the writer.
    start: Callable[[], None] | None = None


@dataclass(slots=True, eq=False)
class PendingTool:
    """A tool call that started and has not ended yet."""

    run: OpenRun
    name: str
    inputs: Any
    tool_call_id: str | None
    started: float = field(default_factory=time.perf_counter)
    timestamp: datetime = field(default_factory=utc_now)


class RunTracker:
    """Maps run ids to open episodes; see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: dict[UUID, OpenRun] = {}
        self._tools: dict[UUID, PendingTool] = {}

    def __len__(self) -> int:
        """The number of root runs being recorded."""
        with self._lock:
            return sum(1 for run_id, run in self._owner.items() if run.root == run_id)

    def roots(self) -> list[OpenRun]:
        """The root runs being recorded."""
        with self._lock:
            return [run for run_id, run in self._owner.items() if run.root == run_id]

    def enter(self, run_id: UUID, parent_run_id: UUID | None) -> bool:
        """Attach a chain run to its parent's root run; True if it is a new root."""
        if parent_run_id is None:
            return True
        with self._lock:
            run = self._owner.get(parent_run_id)
            if run is None:
                return True
            self._owner[run_id] = run
            run.members.add(run_id)
            return False

    def open_root(self, run_id: UUID, memory: SelfLearningMemory) -> OpenRun:
        run = OpenRun(root=run_id, memory=memory)
        run.members.add(run_id)
        with self._lock:
            self._owner[run_id] = run
        return run

    def join(self, run_id: UUID, parent_run_id: UUID | None) -> OpenRun | None:
        """Attach a child run (a model call, a tool) to its parent's root run."""
        if parent_run_id is None:
            return None
        with self._lock:
            run = self._owner.get(parent_run_id)
            if run is not None:
                self._owner[run_id] = run
                run.members.add(run_id)
            return run

    def leave(self, run_id: UUID) -> OpenRun | None:
        """Detach a child run that ended; returns its root run. Roots are not detached."""
        with self._lock:
            run = self._owner.get(run_id)
            if run is not None and run.root != run_id:
                del self._owner[run_id]
                run.members.discard(run_id)
            return run

    def close(self, run_id: UUID) -> OpenRun | None:
        """End a chain run: a root is forgotten with everything under it and returned; a
        child is detached and ``None`` returned."""
        with self._lock:
            run = self._owner.get(run_id)
            if run is None:
                return None
            if run.root != run_id:
                del self._owner[run_id]
                run.members.discard(run_id)
                return None
            for member in run.members:
                self._owner.pop(member, None)
            for tool_id in [t for t, pending in self._tools.items() if pending.run is run]:
                del self._tools[tool_id]
            return run

    def run_of(self, run_id: UUID | None) -> OpenRun | None:
        """The open root run that ``run_id`` belongs to."""
        if run_id is None:
            return None
        with self._lock:
            return self._owner.get(run_id)

    def start_tool(
        self, run_id: UUID, parent_run_id: UUID | None, name: str, inputs: Any,
        tool_call_id: str | None,
    ) -> None:  # fmt: skip
        run = self.join(run_id, parent_run_id)
        if run is not None:
            pending = PendingTool(run, name, inputs, tool_call_id)
            with self._lock:
                self._tools[run_id] = pending

    def finish_tool(
        self, run_id: UUID, output: Any, error: BaseException | None
    ) -> OpenRun | None:
        """Turn an ended tool call into a :class:`StepRecord` on its run; returns the run."""
        ended = time.perf_counter()
        with self._lock:
            pending = self._tools.pop(run_id, None)
            run = self._owner.get(run_id)
            if run is not None and run.root != run_id:
                del self._owner[run_id]
                run.members.discard(run_id)
            if pending is None:
                return None
            call_id = pending.tool_call_id
            tokens = pending.run.tokens_by_call.pop(call_id, None) if call_id else None
            pending.run.steps.append(StepRecord(
                pending.name, pending.inputs, output, error,
                max(0.0, (ended - pending.started) * 1000.0), tokens, pending.timestamp, call_id,
            ))  # fmt: skip
            return pending.run

    def take_steps(self, run: OpenRun) -> list[StepRecord]:
        """The finished steps of ``run`` not yet handed off."""
        with self._lock:
            steps, run.steps = run.steps, []
            run.handed_off = time.monotonic()
            return steps

    def add_usage(self, run_id: UUID, tokens: int, tool_call_ids: list[str]) -> None:
        """The tool calls a model call issued share its tokens (the final answer's tokens
        belong to no step)."""
        run = self.leave(run_id)
        if run is None or not tool_call_ids or not tokens:
            return
        share, extra = divmod(tokens, len(tool_call_ids))
        with self._lock:
            for index, call_id in enumerate(tool_call_ids):
                run.tokens_by_call[call_id] = share + (extra if index == 0 else 0)
