"""What the engine reports while it works: the hooks it calls at a few points.

The runtime gives one :class:`EngineObserver` to the parts that do the work, and they call it
explicitly: the episode cache at each lookup (hit or miss), the learning queue around each
learning job (start and end) and once when it is created (so its depth and failures can be
read whenever they are observed). The base class does nothing; :mod:`.telemetry` subclasses
it to emit OpenTelemetry spans and metrics. Hooks run on the engine's threads (the caller's,
or the learning worker's), so they must be cheap and must not raise.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

__all__ = ["NO_OBSERVER", "EngineObserver", "QueueProbe"]


class QueueProbe(Protocol):
    """What an observer may read of a learning queue."""

    failed: list[str]

    def pending(self) -> int:
        """Completed episodes submitted and not yet learned from."""
        ...


class EngineObserver:
    """The engine's hooks. Each does nothing here; override the ones you record."""

    def queue_opened(self, queue: QueueProbe) -> None:
        """A learning queue was created: its depth and failures can be read from now on
        (hold it weakly: a closed memory's queue should be let go)."""

    def cache_lookup(self, namespace: str, hit: bool) -> None:
        """A read asked the episode cache for an episode of ``namespace``."""

    def learning(self, episodes: int) -> AbstractContextManager[object]:
        """Entered when a learning job over ``episodes`` episodes starts and left when it
        ends (with the exception, if it raised)."""
        return nullcontext()


#: The observer that records nothing.
NO_OBSERVER = EngineObserver()
