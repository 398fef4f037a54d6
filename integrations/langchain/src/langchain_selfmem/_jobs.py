"""Jobs: the memory calls a run event leads to, run in order on the writer (or inline).

An episode's start is held back until the run first hands work over; :func:`after_start`
puts it (and a nested run's parent's start) in front of that work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selfmem import SelfLearningMemory

    from ._tracking import OpenRun

__all__ = ["Job", "after_start", "agent_like", "nothing", "thread_key"]

Job = Callable[[], None]

_START_LOCK = threading.Lock()


def after_start(run: OpenRun, job: Job) -> Job:
    """``job``, preceded by the run's held-back episode start if it has not been sent yet
    (and, for a nested run, by its parent's: the child's metadata names the parent)."""
    with _START_LOCK:  # parallel tool calls may hand over at once: send the start once
        start, run.start = run.start, None
    if start is None:
        return job
    parent_start = after_start(run.parent, nothing) if run.parent is not None else nothing

    def started_then_job() -> None:
        parent_start()
        start()
        job()

    return started_then_job


def nothing() -> None:
    return None


def thread_key(memory: SelfLearningMemory, meta: Mapping[str, Any]) -> tuple[str, str] | None:
    """The LangGraph thread a run belongs to (``configurable.thread_id``, which LangGraph
    copies into the run metadata), in its namespace."""
    thread = meta.get("thread_id")
    return (memory.namespace, str(thread)) if thread is not None else None


def agent_like(inputs: Any) -> bool:
    """A run whose input is a conversation (``{"messages": [...]}``): an agent or chat graph."""
    return isinstance(inputs, Mapping) and "messages" in inputs
