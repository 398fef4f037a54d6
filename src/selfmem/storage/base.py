"""The storage Protocols. The orchestrator imports these and nothing below them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from ..errors import StorageError
from ..records.episodes import Episode, ExecutionStep, OutcomeStatus, TaskType
from ..records.index_rows import IndexRow
from ..records.learned import AnyPattern, Heuristic

__all__ = [
    "EpisodeQuery",
    "EpisodeStore",
    "HotCache",
    "ItemRow",
    "ItemStore",
    "check_batch_ids",
    "get_episodes",
]


@dataclass(frozen=True, slots=True)
class EpisodeQuery:
    """Filters and paging for listing episodes, newest first.

    ``open_only`` lists episodes that were started but never completed (e.g. the process
    died); ``completed_only`` the opposite. Time bounds apply to ``start_time``.
    ``after`` pages by key: only the episodes listed after this ``(start_time, id)`` (the
    last of the previous page), which costs the same on every page, where ``offset`` costs
    the rows it skips. ``ids`` keeps only episodes with these ids (several read in one
    request; callers keep only the ids they asked for, so a store that does not filter by
    it stays correct, only slower).
    """

    namespace: str
    domain: str | None = None
    task_type: TaskType | None = None
    outcome: OutcomeStatus | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None
    open_only: bool = False
    completed_only: bool = False
    limit: int = 50
    offset: int = 0
    include_steps: bool = True
    oldest_first: bool = False
    after: tuple[datetime, str] | None = None
    ids: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class ItemRow:
    """A stored item: a JSON document under a path of labels and a key.

    ``search_text`` is the text a query is matched against (None: not searchable);
    ``vector`` its float32 embedding computed with ``model``. Times are Unix seconds.
    """

    path: tuple[str, ...]
    key: str
    value: str
    search_text: str | None
    vector: bytes | None
    model: str | None
    created_at: float
    updated_at: float


@runtime_checkable
class ItemStore(Protocol):
    """Durable key-value documents, scoped by namespace then by a path of labels."""

    def put_item(self, namespace: str, row: ItemRow) -> ItemRow:
        """Insert or replace the item; a replaced item keeps its ``created_at``."""

    def get_item(self, namespace: str, path: tuple[str, ...], key: str) -> ItemRow | None: ...

    def delete_items(self, namespace: str, path: tuple[str, ...], key: str | None) -> int:
        """Delete one item, or with ``key=None`` every item at or under ``path``."""

    def scan_items(self, namespace: str, prefix: tuple[str, ...]) -> list[ItemRow]:
        """Every item at or under ``prefix``, ordered by path then key."""

    def item_paths(self, namespace: str) -> list[tuple[str, ...]]:
        """The distinct paths that hold items, sorted."""


def check_batch_ids(episodes: Sequence[Episode]) -> None:
    """Refuse a batch for ``import_episodes`` that holds one id twice, before anything of
    it is written."""
    seen: set[str] = set()
    for episode in episodes:
        if episode.id in seen:
            raise StorageError(
                f"episode id {episode.id!r} is twice in the batch; nothing of this batch was stored"
            )
        seen.add(episode.id)


@runtime_checkable
class EpisodeStore(Protocol):
    """The durable store. Every method is scoped to one namespace.

    ``items`` holds the key-value documents that live beside episodes.
    """

    @property
    def items(self) -> ItemStore: ...

    def create_episode(self, episode: Episode) -> None:
        """Persist a new, open episode (its header; ``steps`` are written by ``append_steps``)."""

    def append_steps(self, batches: Mapping[str, Sequence[ExecutionStep]]) -> None:
        """Persist steps of open episodes (by episode id), all in one transaction."""

    def finish_episode(self, episode: Episode, pending_steps: Sequence[ExecutionStep]) -> int:
        """In one transaction: write the last steps, the outcome, reward and reflection,
        and index the episode for search. Returns the episode's new revision.

        Raises :class:`~selfmem.errors.EpisodeStateError` if the episode is no longer open
        (completed or deleted by another handle), and changes nothing then."""

    def import_episodes(self, episodes: Sequence[Episode]) -> None:
        """Persist whole episodes with their steps, as ``create_episode`` then (for a
        completed one) ``finish_episode`` would, all in one transaction: every episode of
        the batch is stored, or none. Open episodes stay open; completed ones are indexed
        for search and logged in the change feed. They are stored in the batch's order
        (the order a store streams them back in, e.g. :meth:`index_rows`).

        Raises :class:`~selfmem.errors.StorageError` naming the ids if an id is already
        stored (or repeated in the batch), and writes nothing then. A batch found stored
        whole already (every id, with the same namespace and start time: a retry whose
        commit answer was lost) changes nothing and raises nothing, as ``create_episode``."""

    def get_episode(self, namespace: str, episode_id: str) -> Episode | None: ...

    def list_episodes(self, query: EpisodeQuery) -> list[Episode]: ...

    def count_episodes(self, query: EpisodeQuery) -> int: ...

    def delete_episode(self, namespace: str, episode_id: str) -> bool:
        """Remove the episode, its steps and its search entries; False if it did not exist."""

    def scrub(self) -> None:
        """Make deleted data unrecoverable from the store's files (called after deletes)."""

    def episode_revisions(self, namespace: str, episode_ids: Sequence[str]) -> dict[str, int]:
        """The current revision of each existing episode (for cache reconciliation)."""

    def save_learning(
        self,
        namespace: str,
        patterns: Sequence[AnyPattern],
        heuristics: Sequence[Heuristic],
        removed_heuristic_ids: Sequence[str] = (),
        removed_pattern_ids: Sequence[str] = (),
        *,
        expected_version: int | None = None,
    ) -> int:
        """Upsert patterns and heuristics, and delete the removed ones, in one transaction;
        returns the namespace's new learning version. With ``expected_version`` the write
        is refused with :class:`~selfmem.errors.ConflictError` unless the version is still
        that one (another process learned in between)."""

    def learning_version(self, namespace: str) -> int:
        """How many times the namespace's learned records were written (0: never). Read it
        before :meth:`load_patterns`, so the patterns are at least that new."""

    def load_patterns(self, namespace: str) -> list[AnyPattern]: ...

    def load_heuristics(self, namespace: str) -> list[Heuristic]: ...

    def clear_learning(self, namespace: str) -> int:
        """Delete every pattern and heuristic of the namespace (before a relearn); returns
        the new learning version."""

    def index_rows(self, namespace: str) -> Iterable[IndexRow]:
        """The retrieval index rows of every completed episode of the namespace."""

    def save_embeddings(
        self, namespace: str, model: str, vectors: Sequence[tuple[str, bytes]]
    ) -> None:
        """Store episode vectors (float32 bytes) computed with ``model``, replacing old ones."""

    def load_embeddings(self, namespace: str, model: str) -> list[tuple[str, bytes]]:
        """Episode vectors of the namespace computed with ``model``."""

    def get_meta(self, name: str) -> bytes | None:
        """A small store-wide value (e.g. the cache sealing key)."""

    def set_meta(self, name: str, value: bytes) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class HotCache(Protocol):
    """A bounded cache of serialized records, keyed by (kind, key). Never the only copy."""

    def get(self, kind: str, key: str) -> bytes | None: ...

    def put(self, kind: str, key: str, value: bytes) -> None: ...

    def delete(self, kind: str, key: str) -> None: ...

    def keys(self, kind: str) -> list[str]: ...

    def clear(self) -> None: ...

    def close(self) -> None: ...


def get_episodes(store: EpisodeStore, namespace: str, ids: Iterable[str]) -> dict[str, Episode]:
    """The stored episodes of these ids by id (ids not stored are left out): one request
    (``EpisodeQuery.ids``) where one round trip each to a server would cost far more, then
    ``get_episode`` for any the store did not return (one that does not filter by id)."""
    wanted = set(ids)
    if not wanted:
        return {}
    query = EpisodeQuery(namespace, ids=tuple(sorted(wanted)), limit=len(wanted))
    found = {e.id: e for e in store.list_episodes(query) if e.id in wanted}
    for missing in sorted(wanted - found.keys()):
        episode = store.get_episode(namespace, missing)
        if episode is not None:
            found[missing] = episode
    return found
