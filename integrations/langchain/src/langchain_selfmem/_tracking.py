"""Which LangChain run belongs to which episode: the state behind the callback handlers.

LangChain reports every run (chain, graph node, model call, tool call) with its own id and
its parent's id. A chain whose parent this tracker has not seen is a *root*: it gets an
episode. Every run below it maps to the same :class:`OpenRun`, so parallel tool calls and
concurrent agent runs never mix.

Inside a tool call, things are different. A tool that calls another tool is one step (the
outer call). A chain or agent that a tool runs is a *nested run*: an :class:`OpenRun` of its
own, linked to the run and the tool call it happened in, so its tool calls are its own
steps, not the outer agent's. All methods are thread-safe, cheap, and do no I/O.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from selfmem.records import utc_now

if TYPE_CHECKING:
    from selfmem import SelfLearningMemory

__all__ = ["OpenRun", "RunTracker", "ToolCall"]

_PAUSED_KEPT = 1_024  # paused runs (waiting for human input) remembered per handler


@dataclass(slots=True, eq=False)
class ToolCall:
    """One tool call of a run: issued by a model (``began`` once the tool starts), and once
    ``finished`` its output or error. ``children`` are the nested runs (agents, chains) the
    tool started.
    """

    name: str
    inputs: Any
    tool_call_id: str | None
    started: float = field(default_factory=time.perf_counter)
    timestamp: datetime = field(default_factory=utc_now)
    began: bool = True
    finished: bool = False
    output: Any = None
    error: BaseException | None = None
    latency_ms: float = 0.0
    tokens: int | None = None
    children: list[OpenRun] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class OpenRun:
    """A run being recorded as an episode, and what is known about it so far.

    ``episode_id`` is set once the writer has started the episode (it stays ``None`` if
    that failed). The start itself waits in ``start`` until the run first hands work over
    (steps, feedback or its end), so nothing is written while a short run is going on.
    ``calls`` are its tool calls not yet handed to the writer, in the order they started
    (parallel calls of one model turn in the order the model issued them: each call is
    ``planned`` when the model returns, so a fast second call never overtakes the first).
    A nested run has a ``parent`` (the run whose tool started it); it is an episode when it
    looks like an agent (``agent_like``) or calls tools itself.
    """

    root: UUID
    memory: SelfLearningMemory
    parent: OpenRun | None = None
    agent_like: bool = True
    episode_id: str | None = None
    members: set[UUID] = field(default_factory=set)
    tokens_by_call: dict[str, int] = field(default_factory=dict)
    calls: list[ToolCall] = field(default_factory=list)
    planned: dict[str, ToolCall] = field(default_factory=dict)
    called_tools: bool = False
    #: The LangGraph thread (namespace, thread_id) of a top-level run, if it has one, and
    #: whether a part of the run stopped to wait for input (``interrupt()``).
    thread: tuple[str, str] | None = None
    interrupted: bool = False
    handed_off: float = field(default_factory=time.monotonic)
    #: The job that starts the episode, held until the run first hands work to the writer.
    start: Callable[[], None] | None = None

    @property
    def is_episode(self) -> bool:
        """Whether this run is recorded: every top-level run, and a nested run that is an
        agent or calls tools."""
        return self.parent is None or self.agent_like or self.called_tools

    def finished_calls(self) -> int:
        """How many calls, from the first, have finished (and can be handed over in order)."""
        count = 0
        for call in self.calls:
            if not call.finished:
                break
            count += 1
        return count


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a new chain run belongs. ``member``: part of an open run (already joined).
    Otherwise it is a new root; ``parent`` / ``call`` are set for a run started by a tool."""

    member: bool
    parent: OpenRun | None = None
    call: ToolCall | None = None


_TOP = Placement(member=False)
_MEMBER = Placement(member=True)


class RunTracker:
    """Maps run ids to open episodes; see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: dict[UUID, OpenRun] = {}
        self._inside: dict[UUID, ToolCall] = {}  # run id -> the step's tool call it is in
        self._tools: dict[UUID, ToolCall] = {}  # run id of a step's tool call -> the call
        self._paused: OrderedDict[tuple[str, str], OpenRun] = OrderedDict()

    def __len__(self) -> int:
        """The number of top-level runs being recorded."""
        return sum(1 for run in self.roots() if run.parent is None)

    def roots(self) -> list[OpenRun]:
        """The runs being recorded (top-level and nested)."""
        with self._lock:
            return [run for run_id, run in self._owner.items() if run.root == run_id]

    def place(self, run_id: UUID, parent_run_id: UUID | None) -> Placement:
        """Attach a chain run to its parent's run, or say which new root it is."""
        if parent_run_id is None:
            return _TOP
        with self._lock:
            run = self._owner.get(parent_run_id)
            if run is None:
                return _TOP
            call = self._inside.get(parent_run_id)
            if call is not None:
                return Placement(member=False, parent=run, call=call)
            self._owner[run_id] = run
            run.members.add(run_id)
            return _MEMBER

    def open_root(
        self,
        run_id: UUID,
        memory: SelfLearningMemory,
        placement: Placement = _TOP,
        agent_like: bool = True,
    ) -> OpenRun:
        run = OpenRun(root=run_id, memory=memory, parent=placement.parent, agent_like=agent_like)
        run.members.add(run_id)
        with self._lock:
            self._owner[run_id] = run
            if placement.call is not None:
                placement.call.children.append(run)
        return run

    def _attach(self, run_id: UUID, parent_run_id: UUID) -> OpenRun | None:
        run = self._owner.get(parent_run_id)
        if run is not None:
            self._owner[run_id] = run
            run.members.add(run_id)
            call = self._inside.get(parent_run_id)
            if call is not None:
                self._inside[run_id] = call
        return run

    def join(self, run_id: UUID, parent_run_id: UUID | None) -> OpenRun | None:
        """Attach a child run (a model call) to its parent's run."""
        if parent_run_id is None:
            return None
        with self._lock:
            return self._attach(run_id, parent_run_id)

    def _detach(self, run_id: UUID) -> OpenRun | None:
        run = self._owner.get(run_id)
        if run is not None and run.root != run_id:
            del self._owner[run_id]
            run.members.discard(run_id)
            self._inside.pop(run_id, None)
        return run

    def leave(self, run_id: UUID) -> OpenRun | None:
        """Detach a child run that ended; returns its run. Roots are not detached."""
        with self._lock:
            return self._detach(run_id)

    def close(self, run_id: UUID) -> OpenRun | None:
        """End a chain run: a root is forgotten with everything under it and returned; a
        child is detached and ``None`` returned."""
        with self._lock:
            run = self._owner.get(run_id)
            if run is None:
                return None
            if run.root != run_id:
                self._detach(run_id)
                return None
            for member in run.members:
                self._owner.pop(member, None)
                self._inside.pop(member, None)
                self._tools.pop(member, None)
            return run

    def pause(self, key: tuple[str, str], run: OpenRun) -> None:
        """Keep a run that stopped to wait for input (a LangGraph interrupt) under its
        thread, to be continued by the run that resumes the thread."""
        with self._lock:
            self._paused[key] = run
            self._paused.move_to_end(key)
            while len(self._paused) > _PAUSED_KEPT:
                self._paused.popitem(last=False)

    def resume(self, key: tuple[str, str], run_id: UUID) -> OpenRun | None:
        """The paused run of this thread, now continued by the root run ``run_id``."""
        with self._lock:
            run = self._paused.pop(key, None)
            if run is not None:
                run.root, run.members, run.interrupted = run_id, {run_id}, False
                self._owner[run_id] = run
            return run

    def paused(self) -> list[OpenRun]:
        with self._lock:
            return list(self._paused.values())

    def drop_tool(self, run_id: UUID) -> None:
        """Forget a tool call that was interrupted: the resumed run calls it again."""
        with self._lock:
            call = self._tools.pop(run_id, None)
            run = self._detach(run_id)
            if run is not None:
                run.interrupted = True
                run.calls = [c for c in run.calls if c is not call]

    def run_of(self, run_id: UUID | None) -> OpenRun | None:
        """The open run that ``run_id`` belongs to."""
        if run_id is None:
            return None
        with self._lock:
            return self._owner.get(run_id)

    def start_tool(
        self, run_id: UUID, parent_run_id: UUID | None, name: str, inputs: Any,
        tool_call_id: str | None,
    ) -> None:  # fmt: skip
        """A tool call in a run is a step; one inside another tool call is part of that."""
        if parent_run_id is None:
            return
        with self._lock:
            outer = self._inside.get(parent_run_id)
            run = self._attach(run_id, parent_run_id)
            if run is None or outer is not None:
                return
            call = run.planned.pop(tool_call_id, None) if tool_call_id else None
            if call is None:
                call = ToolCall(name, inputs, tool_call_id)
                run.calls.append(call)
            else:
                call.name, call.inputs, call.began = name, inputs, True
                call.started, call.timestamp = time.perf_counter(), utc_now()
            run.called_tools = True
            self._inside[run_id] = call
            self._tools[run_id] = call

    def finish_tool(
        self, run_id: UUID, output: Any, error: BaseException | None
    ) -> OpenRun | None:
        """Complete a step's tool call; returns its run (``None`` if it was no step)."""
        ended = time.perf_counter()
        with self._lock:
            call = self._tools.pop(run_id, None)
            run = self._detach(run_id)
            if call is None or run is None:
                return None
            call.output, call.error, call.finished = output, error, True
            call.latency_ms = max(0.0, (ended - call.started) * 1000.0)
            if call.tool_call_id:
                call.tokens = run.tokens_by_call.pop(call.tool_call_id, None)
            return run

    def take_steps(self, run: OpenRun, *, everything: bool = False) -> list[ToolCall]:
        """The tool calls of ``run`` to hand over: those finished, in order, up to the first
        still running (``everything``: all that started, when the run has ended)."""
        with self._lock:
            count = len(run.calls) if everything else run.finished_calls()
            taken, run.calls = run.calls[:count], run.calls[count:]
            run.handed_off = time.monotonic()
            if everything:
                run.planned.clear()
                return [call for call in taken if call.began]
            return taken

    def add_usage(self, run_id: UUID, tokens: int, tool_call_ids: list[str]) -> None:
        """A model call returned: the tool calls it issued are planned in its order (unless
        it ran inside a tool call) and share its tokens (the final answer's tokens belong to
        no step)."""
        with self._lock:
            inside_tool = run_id in self._inside
            run = self._detach(run_id)
            if run is None or not tool_call_ids:
                return
            if not inside_tool:
                for call_id in tool_call_ids:
                    if call_id not in run.planned:
                        planned = ToolCall("", ("", None), call_id, began=False)
                        run.planned[call_id] = planned
                        run.calls.append(planned)
            if tokens:
                share, extra = divmod(tokens, len(tool_call_ids))
                for index, call_id in enumerate(tool_call_ids):
                    run.tokens_by_call[call_id] = share + (extra if index == 0 else 0)
