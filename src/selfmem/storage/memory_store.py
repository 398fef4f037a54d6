"""The in-memory reference store and a no-op cache.

``InMemoryStore`` satisfies :class:`~selfmem.storage.base.EpisodeStore` with plain dicts; it is
what the conformance suite holds the libSQL store to, and a fast store for tests and notebooks.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import datetime

from ..errors import ConflictError, EpisodeStateError, StorageError
from ..records.episodes import Episode, ExecutionStep
from ..records.index_rows import IndexRow, index_row
from ..records.learned import AnyPattern, Heuristic
from .base import EpisodeQuery, check_batch_ids
from .memory_items import InMemoryItems

__all__ = ["InMemoryStore", "NullCache", "matches_query"]


def matches_query(episode: Episode, query: EpisodeQuery) -> bool:
    """Whether an episode passes a query's filters (namespace included)."""
    checks = (
        episode.namespace == query.namespace,
        query.domain is None or episode.context.domain == query.domain,
        query.task_type is None or episode.task_type == query.task_type,
        query.outcome is None
        or (episode.outcome is not None and episode.outcome.status == query.outcome),
        query.started_after is None or episode.start_time >= query.started_after,
        query.started_before is None or episode.start_time < query.started_before,
        not query.open_only or not episode.is_complete,
        not query.completed_only or episode.is_complete,
        query.after is None or _listed_after(episode, query.after, query.oldest_first),
        query.ids is None or episode.id in query.ids,
    )
    return all(checks)


def _listed_after(episode: Episode, after: tuple[datetime, str], oldest_first: bool) -> bool:
    key = (episode.start_time, episode.id)
    return key > after if oldest_first else key < after


class InMemoryStore:
    """A dict-backed :class:`EpisodeStore`. Thread-safe; nothing survives the process."""

    def __init__(self) -> None:
        self._episodes: dict[tuple[str, str], Episode] = {}
        self._revisions: dict[tuple[str, str], int] = {}
        self._patterns: dict[str, dict[str, AnyPattern]] = {}
        self._heuristics: dict[str, dict[str, Heuristic]] = {}
        self._learning_versions: dict[str, int] = {}
        self._meta: dict[str, bytes] = {}
        self._vectors: dict[tuple[str, str], tuple[str, bytes]] = {}
        self._lock = threading.Lock()
        self.items = InMemoryItems()

    def create_episode(self, episode: Episode) -> None:
        with self._lock:
            self._put_open(episode.model_copy(update={"steps": []}, deep=True))

    def _put_open(self, stored: Episode) -> None:
        key = (stored.namespace, stored.id)
        self._episodes[key] = stored
        self._revisions[key] = 1

    def _put_finished(self, stored: Episode) -> int:
        key = (stored.namespace, stored.id)
        self._episodes[key] = stored
        self._revisions[key] = self._revisions.get(key, 0) + 1
        return self._revisions[key]

    def import_episodes(self, episodes: Sequence[Episode]) -> None:
        with self._lock:
            # checked before anything is written: the batch is stored whole or not at all
            if self._stored_already(episodes):
                return
            for episode in episodes:
                stored = episode.model_copy(deep=True)
                self._put_open(stored)  # revision 1, as created
                if stored.is_complete:
                    self._put_finished(stored)  # revision 2 and indexed, as finished

    def _stored_already(self, episodes: Sequence[Episode]) -> bool:
        """True if the batch is stored whole already (as a retried write finds it); raises
        if only some of its ids are, or an id is stored as another episode or repeated."""
        check_batch_ids(episodes)
        # ids are per namespace here, as in create_episode (libSQL's are store-wide)
        stored = (self._episodes.get((ep.namespace, ep.id)) for ep in episodes)
        found = [old for old in stored if old is not None]
        if len(found) == len(episodes) and all(
            (old.namespace, old.start_time) == (new.namespace, new.start_time)
            for old, new in zip(found, episodes, strict=True)
        ):
            return bool(found)
        if found:
            shown = ", ".join(repr(ep.id) for ep in found[:5])
            more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
            raise StorageError(
                f"an episode id of this batch already exists: {shown}{more}; nothing of this "
                "batch was stored"
            )
        return False

    def append_steps(self, batches: Mapping[str, Sequence[ExecutionStep]]) -> None:
        with self._lock:
            for (_, episode_id), stored in self._episodes.items():
                steps = batches.get(episode_id)
                if steps:
                    stored.steps.extend(step.model_copy(deep=True) for step in steps)

    def finish_episode(self, episode: Episode, pending_steps: Sequence[ExecutionStep]) -> int:
        with self._lock:
            key = (episode.namespace, episode.id)
            current = self._episodes.get(key)
            if current is None or current.is_complete:
                raise EpisodeStateError(
                    f"episode {episode.id!r} was deleted or completed by another handle"
                )
            return self._put_finished(episode.model_copy(deep=True))

    def get_episode(self, namespace: str, episode_id: str) -> Episode | None:
        with self._lock:
            stored = self._episodes.get((namespace, episode_id))
            return None if stored is None else stored.model_copy(deep=True)

    def _matching(self, query: EpisodeQuery) -> list[Episode]:
        found = [ep for ep in self._episodes.values() if matches_query(ep, query)]
        found.sort(key=lambda ep: (ep.start_time, ep.id), reverse=not query.oldest_first)
        return found

    def list_episodes(self, query: EpisodeQuery) -> list[Episode]:
        with self._lock:
            page = self._matching(query)[query.offset : query.offset + query.limit]
            if query.include_steps:
                return [ep.model_copy(deep=True) for ep in page]
            return [ep.model_copy(update={"steps": []}, deep=True) for ep in page]

    def count_episodes(self, query: EpisodeQuery) -> int:
        with self._lock:
            return len(self._matching(query))

    def delete_episode(self, namespace: str, episode_id: str) -> bool:
        with self._lock:
            key = (namespace, episode_id)
            self._revisions.pop(key, None)
            self._vectors.pop(key, None)
            return self._episodes.pop(key, None) is not None

    def scrub(self) -> None:
        """Nothing lingers in memory once a dict entry is gone."""

    def episode_revisions(self, namespace: str, episode_ids: Sequence[str]) -> dict[str, int]:
        with self._lock:
            return {
                eid: self._revisions[(namespace, eid)]
                for eid in episode_ids
                if (namespace, eid) in self._revisions
            }

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
        with self._lock:
            version = self._learning_versions.get(namespace, 0)
            if expected_version is not None and expected_version != version:
                raise ConflictError(
                    f"the learning of namespace {namespace!r} changed since version "
                    f"{expected_version}"
                )
            stored = self._patterns.setdefault(namespace, {})
            for pattern in patterns:
                stored[pattern.id] = pattern.model_copy(deep=True)
            rules = self._heuristics.setdefault(namespace, {})
            for heuristic in heuristics:
                rules[heuristic.id] = heuristic.model_copy(deep=True)
            for heuristic_id in removed_heuristic_ids:
                rules.pop(heuristic_id, None)
            for pattern_id in removed_pattern_ids:
                stored.pop(pattern_id, None)
            return self._bump_learning(namespace)

    def _bump_learning(self, namespace: str) -> int:
        self._learning_versions[namespace] = version = self._learning_versions.get(namespace, 0) + 1
        return version

    def learning_version(self, namespace: str) -> int:
        with self._lock:
            return self._learning_versions.get(namespace, 0)

    def load_patterns(self, namespace: str) -> list[AnyPattern]:
        with self._lock:
            return [p.model_copy(deep=True) for p in self._patterns.get(namespace, {}).values()]

    def load_heuristics(self, namespace: str) -> list[Heuristic]:
        with self._lock:
            return [h.model_copy(deep=True) for h in self._heuristics.get(namespace, {}).values()]

    def clear_learning(self, namespace: str) -> int:
        with self._lock:
            self._patterns.pop(namespace, None)
            self._heuristics.pop(namespace, None)
            return self._bump_learning(namespace)

    def index_rows(self, namespace: str) -> list[IndexRow]:
        with self._lock:
            done = [
                ep for (ns, _), ep in self._episodes.items() if ns == namespace and ep.is_complete
            ]
        return [index_row(ep) for ep in done]

    def save_embeddings(
        self, namespace: str, model: str, vectors: Sequence[tuple[str, bytes]]
    ) -> None:
        with self._lock:
            for episode_id, blob in vectors:
                if (namespace, episode_id) in self._episodes:
                    self._vectors[(namespace, episode_id)] = (model, bytes(blob))

    def load_embeddings(self, namespace: str, model: str) -> list[tuple[str, bytes]]:
        with self._lock:
            return [
                (eid, blob)
                for (ns, eid), (stored_model, blob) in self._vectors.items()
                if ns == namespace and stored_model == model
            ]

    def get_meta(self, name: str) -> bytes | None:
        with self._lock:
            return self._meta.get(name)

    def set_meta(self, name: str, value: bytes) -> None:
        with self._lock:
            self._meta[name] = bytes(value)

    def close(self) -> None:
        """Nothing to release."""


class NullCache:
    """A :class:`HotCache` that caches nothing."""

    def get(self, kind: str, key: str) -> bytes | None:
        return None

    def put(self, kind: str, key: str, value: bytes) -> None:
        """Discard."""

    def delete(self, kind: str, key: str) -> None:
        """Nothing to delete."""

    def keys(self, kind: str) -> list[str]:
        return []

    def clear(self) -> None:
        """Nothing to clear."""

    def close(self) -> None:
        """Nothing to release."""
