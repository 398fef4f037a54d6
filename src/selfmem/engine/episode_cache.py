"""Completed episodes in the hot cache: one key per (namespace, id), sealed values that name
their owner, and the sealing key, kept in the durable store.

Namespaces and episode ids may both contain ``/`` (or any other character), so a key states
where the namespace ends: ``<length of the namespace>:<namespace>/<episode id>``. No two
(namespace, id) pairs share a key, and ``<length>:<namespace>/`` is the prefix of exactly one
namespace's keys. Each value is sealed (:mod:`selfmem.storage.sealing`) over a header naming
the namespace, the id and the revision, then the episode's JSON. A read checks the header
against what it asked for: a value of another owner is a miss, and is logged.

The cache is never the reason an operation fails: every cache error is logged here and the
caller goes on from the store. A delete replaces the sealing key, so an entry the cache failed
to drop no longer opens either.

In front of it, the most recently used entries are also kept opened in process memory (at
most ``memory_entries``, least recently used dropped first), dropped and cleared together with
the hot cache's. So a read needs neither the network nor the disk, with or without a hot cache.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

from ..errors import StorageError
from ..storage import sealing
from ..storage.base import EpisodeStore, HotCache
from .observer import NO_OBSERVER, EngineObserver

__all__ = [
    "EPISODE",
    "CacheLookups",
    "CachedEpisode",
    "EpisodeCache",
    "episode_key",
    "namespace_prefix",
]

logger = logging.getLogger(__name__)

#: The cache kind that holds episodes.
EPISODE = "episode"
_SEALING_KEY = "cache_sealing_key"


def namespace_prefix(namespace: str) -> str:
    """The prefix of every episode key of ``namespace``, and of no other namespace's."""
    return f"{len(namespace)}:{namespace}/"


def episode_key(namespace: str, episode_id: str) -> str:
    return namespace_prefix(namespace) + episode_id


@dataclass(frozen=True, slots=True)
class CachedEpisode:
    """An opened cache entry: its owner, the revision it was cached at, the episode JSON."""

    namespace: str
    episode_id: str
    revision: int
    body: bytes


@dataclass(frozen=True, slots=True)
class CacheLookups:
    """Reads that asked the episode cache, in this process since the memory was opened (for
    every namespace of the store): ``hits`` found the episode there (in process memory or
    the hot cache), ``misses`` went on to the store."""

    hits: int = 0
    misses: int = 0

    @property
    def hit_rate(self) -> float | None:
        """Hits over lookups, or None before the first lookup."""
        total = self.hits + self.misses
        return self.hits / total if total else None


def _pack(namespace: str, episode_id: str, revision: int, body: bytes) -> bytes:
    # JSON escapes newlines, so the header ends at the first one
    return json.dumps([namespace, episode_id, revision]).encode() + b"\n" + body


def _unpack(payload: bytes) -> CachedEpisode | None:
    head, _, body = payload.partition(b"\n")
    try:
        namespace, episode_id, revision = json.loads(head)
    except (ValueError, TypeError):  # another format (an older selfmem's): a miss
        return None
    if not (isinstance(namespace, str) and isinstance(episode_id, str)
            and isinstance(revision, int)):  # fmt: skip
        return None
    return CachedEpisode(namespace, episode_id, revision, body)


class EpisodeCache:
    """The episode entries of a :class:`HotCache`, sealed with a key kept in ``store``."""

    def __init__(
        self,
        cache: HotCache,
        store: EpisodeStore,
        memory_entries: int = 1_000,
        observer: EngineObserver = NO_OBSERVER,
    ) -> None:
        self.cache = cache
        self._observer = observer
        self._lookups = CacheLookups()
        self._lookups_lock = threading.Lock()
        self._store = store
        self.key = self._load_key()
        self._memory: OrderedDict[tuple[str, str], CachedEpisode] = OrderedDict()
        self._memory_entries = memory_entries
        self._memory_lock = threading.Lock()

    def remember(self, namespace: str, episode_id: str, revision: int, body: bytes) -> None:
        """Keep an entry in process memory only (:meth:`put` also writes the hot cache)."""
        self._remember(CachedEpisode(namespace, episode_id, revision, body))

    def _remember(self, entry: CachedEpisode) -> None:
        with self._memory_lock:
            self._memory[(entry.namespace, entry.episode_id)] = entry
            self._memory.move_to_end((entry.namespace, entry.episode_id))
            while len(self._memory) > self._memory_entries:
                self._memory.popitem(last=False)

    def _recalled(self, namespace: str, episode_id: str) -> CachedEpisode | None:
        with self._memory_lock:
            entry = self._memory.get((namespace, episode_id))
            if entry is not None:
                self._memory.move_to_end((namespace, episode_id))
            return entry

    # -- the sealing key --------------------------------------------------------------------

    def _load_key(self) -> bytes:
        key = self._store.get_meta(_SEALING_KEY)
        if key is None or len(key) != sealing.KEY_BYTES:
            key = sealing.new_key()
            self._store.set_meta(_SEALING_KEY, key)
        return key

    def refresh_key(self) -> bool:
        """Re-read the sealing key (another process may have rotated it); True if changed."""
        key = self._store.get_meta(_SEALING_KEY)
        if key is None or key == self.key:
            return False
        self.key = key
        with self._memory_lock:  # another process deleted: what it deleted must not be served
            self._memory.clear()
        return True

    def rotate_key(self) -> None:
        """Replace the sealing key in the store, then empty the cache: whatever the cache
        still holds (stale pages, an entry it failed to drop) no longer opens."""
        self.key = sealing.new_key()
        self._store.set_meta(_SEALING_KEY, self.key)
        self.clear()

    def seal(self, payload: bytes) -> bytes:
        return sealing.seal(self.key, payload)

    def unseal(self, sealed: bytes) -> bytes | None:
        payload = sealing.open_sealed(self.key, sealed)
        if payload is None and self.refresh_key():
            payload = sealing.open_sealed(self.key, sealed)
        return payload

    # -- entries ----------------------------------------------------------------------------

    def get(self, namespace: str, episode_id: str) -> CachedEpisode | None:
        """The entry of this episode, or None (absent, sealed under an old key, of another
        owner, or the cache failed). The observer hears of the lookup, hit or miss."""
        entry = self._lookup(namespace, episode_id)
        hit = entry is not None
        with self._lookups_lock:
            counts = self._lookups
            self._lookups = CacheLookups(counts.hits + int(hit), counts.misses + int(not hit))
        self._observer.cache_lookup(namespace, hit)
        return entry

    def lookups(self) -> CacheLookups:
        """How many reads found their episode here, and how many did not."""
        with self._lookups_lock:
            return self._lookups

    def _lookup(self, namespace: str, episode_id: str) -> CachedEpisode | None:
        remembered = self._recalled(namespace, episode_id)
        if remembered is not None:
            return remembered
        try:
            raw = self.cache.get(EPISODE, episode_key(namespace, episode_id))
        except StorageError:
            logger.warning("cache read failed; using the store", exc_info=True)
            return None
        payload = self.unseal(raw) if raw is not None else None
        entry = _unpack(payload) if payload is not None else None
        if entry is not None and (entry.namespace, entry.episode_id) != (namespace, episode_id):
            logger.warning("cache entry for episode %r of namespace %r holds episode %r of "
                           "namespace %r; ignored", episode_id, namespace, entry.episode_id,
                           entry.namespace)  # fmt: skip
            return None
        if entry is not None:
            self._remember(entry)
        return entry

    def put(self, namespace: str, episode_id: str, revision: int, body: bytes) -> None:
        self._remember(CachedEpisode(namespace, episode_id, revision, body))
        sealed = self.seal(_pack(namespace, episode_id, revision, body))
        try:
            self.cache.put(EPISODE, episode_key(namespace, episode_id), sealed)
        except StorageError:
            logger.warning("cache write failed; the store has the episode", exc_info=True)

    def drop(self, namespace: str, episode_id: str) -> None:
        with self._memory_lock:
            self._memory.pop((namespace, episode_id), None)
        try:
            self.cache.delete(EPISODE, episode_key(namespace, episode_id))
        except StorageError:
            logger.warning("dropping episode %r from the cache failed", episode_id,
                           exc_info=True)  # fmt: skip

    def revision(self, namespace: str, episode_id: str) -> int | None:
        """The revision the episode was cached at, or None if it is not (readably) cached."""
        entry = self._lookup(namespace, episode_id)  # bookkeeping, not a read: not observed
        return entry.revision if entry is not None else None

    def ids(self, namespace: str) -> list[str]:
        """The ids of the namespace's cached episodes (none if the cache failed)."""
        prefix = namespace_prefix(namespace)
        with self._memory_lock:
            found = dict.fromkeys(eid for ns, eid in self._memory if ns == namespace)
        try:
            keys = self.cache.keys(EPISODE)
        except StorageError:
            logger.warning("listing the cache failed", exc_info=True)
            keys = []
        found.update(dict.fromkeys(key[len(prefix) :] for key in keys if key.startswith(prefix)))
        return list(found)

    def clear(self) -> None:
        with self._memory_lock:
            self._memory.clear()
        try:
            self.cache.clear()
        except StorageError:
            logger.warning("emptying the cache failed", exc_info=True)
