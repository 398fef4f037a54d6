"""The change feed: what other processes changed, so caches and indexes can catch up.

A store shared by several processes (one libSQL file, or a server) keeps a log of changes,
written by triggers in the same transaction as the change itself. Each entry has a
sequence number that only grows; a reader remembers the last one it saw (its *cursor*) and
asks for everything after it. One query answers "did anything change?".

Kinds of change:

* ``episode``: an episode was completed; ``revision`` is its new revision.
* ``deleted``: an episode was deleted (with its steps, search entry and vector).
* ``embedding``: an episode's vector was stored or replaced.
* ``learning``: patterns or heuristics of the namespace were saved, removed or cleared.

The log keeps the latest 100,000 changes. A reader whose cursor fell behind that gets
``complete=False`` and must reload what it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = [
    "DELETED",
    "EMBEDDING",
    "EPISODE",
    "LEARNING",
    "Change",
    "ChangeFeed",
    "ChangeSet",
]

EPISODE = "episode"
DELETED = "deleted"
EMBEDDING = "embedding"
LEARNING = "learning"


@dataclass(frozen=True, slots=True)
class Change:
    """One logged change: ``key`` is the episode id (empty for ``learning``)."""

    seq: int
    namespace: str
    kind: str
    key: str
    revision: int = 0


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """The changes after a cursor, oldest first.

    ``cursor`` is what to pass next time. ``complete`` is False when changes after the old
    cursor were pruned from the log (reload everything). ``more`` is True when the answer
    was cut at the limit (ask again with the new cursor).
    """

    cursor: int
    changes: tuple[Change, ...] = ()
    complete: bool = True
    more: bool = False

    def of_kind(self, kind: str, namespace: str | None = None) -> list[str]:
        """The keys of changes of ``kind`` (in ``namespace`` if given), without repeats."""
        keys = (
            c.key
            for c in self.changes
            if c.kind == kind and (namespace is None or c.namespace == namespace)
        )
        return list(dict.fromkeys(keys))

    def deleted(self, namespace: str | None = None) -> list[str]:
        """Ids of deleted episodes."""
        return self.of_kind(DELETED, namespace)

    def completed(self, namespace: str | None = None) -> list[str]:
        """Ids of episodes completed (and not deleted later in this set)."""
        gone = set(self.deleted(namespace))
        return [eid for eid in self.of_kind(EPISODE, namespace) if eid not in gone]

    def learning_changed(self, namespace: str) -> bool:
        return any(c.kind == LEARNING and c.namespace == namespace for c in self.changes)


@runtime_checkable
class ChangeFeed(Protocol):
    """A store that logs its changes for other processes (the libSQL store does)."""

    def change_counter(self) -> int:
        """The sequence number of the latest change (0 for none): one cheap query."""

    def changes_since(self, cursor: int, limit: int = 10_000) -> ChangeSet:
        """Changes with a sequence number above ``cursor``, oldest first, at most ``limit``."""
