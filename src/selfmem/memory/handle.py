"""The base of every handle: namespace, core, and the helpers the API methods share."""

from __future__ import annotations

import logging
from typing import Any

from ..config import MemoryConfig
from ..engine.episode_cache import CacheLookups
from ..engine.runtime import MemoryCore, twin
from ..engine.step_buffer import OpenEpisode
from ..errors import EpisodeStateError, NotFoundError, StorageError
from ..records.episodes import (
    Episode,
)
from ..retrieval.weights import RankingWeights
from ..security.arguments import check_id

logger = logging.getLogger(__name__)

__all__ = ["Handle"]


class Handle:
    """State and helpers shared by the parts of :class:`~selfmem.SelfLearningMemory`."""

    namespace: str
    _core: MemoryCore
    _ranking: RankingWeights
    _owner: bool

    @property
    def config(self) -> MemoryConfig:
        return self._core.config

    # -- helpers ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._core.closed:
            raise StorageError("this SelfLearningMemory is closed")

    @staticmethod
    def _check_id(episode_id: Any) -> str:
        return check_id(episode_id)

    def _cache_get(self, episode_id: str, *, caught_up: bool = False) -> Episode | None:
        episodes = self._core.episodes
        entry = episodes.get(self.namespace, episode_id)
        # Serve a hit only after catching up with other processes' deletes and updates.
        if entry is not None and not caught_up and self._core.catch_up():
            entry = episodes.get(self.namespace, episode_id)
        if entry is None:
            return None
        try:
            episode = Episode.model_validate_json(entry.body)
        except ValueError:  # e.g. written by a selfmem whose records differ
            logger.warning("cached episode %r does not parse; using the store", episode_id,
                           exc_info=True)  # fmt: skip
            return None
        if (episode.namespace, episode.id) != (self.namespace, episode_id):
            logger.warning("cached episode %r of namespace %r holds another episode; "
                           "using the store", episode_id, self.namespace)  # fmt: skip
            return None
        return episode

    def _cache_put(self, episode: Episode, revision: int) -> None:
        body = episode.model_dump_json().encode()
        self._core.episodes.put(episode.namespace, episode.id, revision, body)

    def _open_state(self, episode_id: str) -> OpenEpisode:
        """The in-process state of an open episode, recovering it from the store if needed."""
        state = self._core.buffer.get(episode_id)
        if state is not None and state.header.namespace == self.namespace:
            return state
        if state is not None:
            raise NotFoundError("episode", episode_id, self.namespace)
        stored = self._core.store.get_episode(self.namespace, episode_id)
        if stored is None:
            raise NotFoundError("episode", episode_id, self.namespace)
        if stored.is_complete:
            raise EpisodeStateError(f"episode {episode_id!r} is already complete")
        steps, stored.steps = stored.steps, []
        return self._core.buffer.track(stored, steps)

    # -- reading ----------------------------------------------------------------------------

    def cache_lookups(self) -> CacheLookups:
        """How reads of episodes used the episode cache in this process since the memory was
        opened (every namespace of the store): hits, misses and the hit rate."""
        self._check_open()
        return self._core.episodes.lookups()

    acache_lookups = twin(cache_lookups)

    def get_episode(self, episode_id: str) -> Episode:
        """The episode with this id in this namespace (open ones include unflushed steps)."""
        self._check_open()
        self._check_id(episode_id)
        return self._episode(episode_id)

    def _episode(self, episode_id: str, *, caught_up: bool = False) -> Episode:
        """``get_episode`` without the checks; ``caught_up``: the caller has just applied
        other processes' changes, so a cache hit need not ask the change log again."""
        state = self._core.buffer.get(episode_id)
        if state is not None and state.header.namespace == self.namespace:
            with self._core.buffer.lock:
                return state.header.model_copy(update={"steps": list(state.steps)}, deep=True)
        cached = self._cache_get(episode_id, caught_up=caught_up)
        if cached is not None:
            return cached
        episode = self._core.store.get_episode(self.namespace, episode_id)
        if episode is None:
            raise NotFoundError("episode", episode_id, self.namespace)
        if episode.is_complete:
            revisions = self._core.store.episode_revisions(self.namespace, [episode_id])
            self._cache_put(episode, revisions.get(episode_id, 0))
        return episode
