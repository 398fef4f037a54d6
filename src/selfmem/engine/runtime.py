"""What handles share at run time: the core (store, cache, buffer, flusher, learning)
and the helper that makes async twins."""

from __future__ import annotations

import asyncio
import atexit
import functools
import logging
import threading
import time
import weakref
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from ..config import MemoryConfig
from ..errors import StorageError
from ..learning import Reflector
from ..records.episodes import (
    Episode,
    ExecutionStep,
)
from ..records.json_once import episode_json, reuse_json
from ..storage import sealing
from ..storage.base import EpisodeStore, HotCache, get_episodes
from ..storage.changes import DELETED, EPISODE, LEARNING, ChangeFeed, ChangeSet
from . import telemetry
from .episode_cache import EpisodeCache
from .follower import AfterCompletion, ChangeFollower
from .learning import LearningEngine
from .observer import EngineObserver
from .step_buffer import StepBuffer

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from ..embeddings.base import Embedder
    from ..records.episodes import Episode
    from .retrieval import RetrievalEngine

__all__ = ["MemoryCore", "MemoryStats", "twin"]

_P = ParamSpec("_P")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class MemoryStats:
    """Counts for one namespace."""

    namespace: str
    episodes: int
    open_episodes: int
    successes: int
    partial_successes: int
    failures: int
    pending_steps: int
    patterns: int = 0
    heuristics: int = 0
    pending_learning: int = 0
    #: Episodes stopped before they finished: counted here, in no success statistic.
    abandoned: int = 0

    @property
    def success_rate(self) -> float | None:
        """Successes over episodes that ended with a verdict (success, partial, failure);
        open and abandoned episodes are left out. None before the first verdict."""
        decided = self.successes + self.partial_successes + self.failures
        return self.successes / decided if decided else None

    def _repr_html_(self) -> str:  # Jupyter: the counts as a table
        from dataclasses import asdict

        from ..records.html import stats_html

        return stats_html(asdict(self))


class MemoryCore:
    """What scoped handles share: the store, the cache, the step buffer and the flusher."""

    def __init__(
        self,
        store: EpisodeStore,
        cache: HotCache,
        config: MemoryConfig,
        reflector: Reflector | None,
        embedder: Embedder | None = None,
        observer: EngineObserver | None = None,
    ) -> None:
        #: The hooks the engine calls (OpenTelemetry's by default, when it is installed).
        self.observer = observer or telemetry.observer()
        self.store = store
        self.cache = cache
        self.config = config
        self.reflector = reflector
        self.buffer = StepBuffer(config.limits.max_steps_per_episode)
        self.learning = LearningEngine(
            store,
            config.learning,
            inline=config.learn_inline,
            queue_size=config.learning_queue_size,
            niceness=config.learner_niceness,
            observer=self.observer,
        )
        self._embedder = embedder
        self._retrieval: RetrievalEngine | None = None
        if embedder is not None:  # its worker must see every completed episode
            _ = self.retrieval
        self.write_lock = threading.Lock()
        self.closed = False
        #: The cached episodes, sealed under a key kept in the store.
        self.episodes = EpisodeCache(cache, store, config.cache_max_episodes, self.observer)
        # Other processes' changes, read from the store's change log (when it keeps one).
        self._feed = store if isinstance(store, ChangeFeed) else None
        self._feed_cursor = self._feed.change_counter() if self._feed is not None else 0
        self._feed_checked = time.monotonic()
        self._feed_lock = threading.Lock()
        #: What completions do once their episode is durable (cache, index).
        self.after = AfterCompletion()
        # A server's change log is followed in the background: queries never wait on it.
        self._follower: ChangeFollower | None = None
        interval = config.change_poll_interval_s
        if self._feed is not None and getattr(store, "remote", False) and interval:
            self._follower = ChangeFollower(self.follow, interval)
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        if config.flush_interval_s:
            self._flusher = threading.Thread(
                target=self._flush_periodically,
                args=(config.flush_interval_s,),
                name="selfmem-flusher",
                daemon=True,
            )
            self._flusher.start()
        _LIVE_CORES.add(self)

    def index_completed(self, episode: Episode) -> None:
        if self._retrieval is not None:  # otherwise the index is built later from the store
            self._retrieval.add(episode)

    def completed(self, episode: Episode, revision: int) -> None:
        """Cache an episode just committed in process memory, then write it to the hot cache
        and index it in the background (:meth:`settle` waits for that). Inside the
        completion's ``reuse_json`` block the body is built from the JSON just written."""
        body = episode_json(episode).encode()
        self.episodes.remember(episode.namespace, episode.id, revision, body)

        def job() -> None:
            self.episodes.put(episode.namespace, episode.id, revision, body)
            self.index_completed(episode)

        self.after.submit(job)

    def settle(self) -> None:
        """Wait until this process's completions so far are cached and indexed."""
        self.after.settle()

    def unindex(self, namespace: str, episode_id: str) -> None:
        self.settle()  # a completion still being indexed must not come back after this
        if self._retrieval is not None:
            self._retrieval.remove(namespace, episode_id)

    def drain_embeddings(self) -> None:
        self.settle()  # completions still being indexed queue their vectors
        if self._retrieval is not None:
            self._retrieval.drain()

    @property
    def retrieval(self) -> RetrievalEngine:
        """The retrieval engine, created on first use (it brings numpy in)."""
        if self._retrieval is None:
            from .retrieval import RetrievalEngine
            from .snapshot import IndexSnapshots

            snapshots = None
            in_folder = getattr(self.cache, "path", None) is not None
            if isinstance(self.store, ChangeFeed) and in_folder:
                # Warm starts; sealed with the key current when each snapshot is begun.
                snapshots = IndexSnapshots(
                    self.store, self.store, self.cache,
                    sealer=lambda: functools.partial(sealing.seal, self.cache_key),
                    unseal=self.unseal,
                )  # fmt: skip
            self._retrieval = RetrievalEngine(
                self.store, self._embedder, self.config.ann_threshold, snapshots
            )
        return self._retrieval

    @property
    def cache_key(self) -> bytes:
        """The key cache values are sealed with now."""
        return self.episodes.key

    def refresh_cache_key(self) -> bool:
        """Re-read the sealing key (another process may have rotated it); True if changed."""
        return self.episodes.refresh_key()

    def rotate_cache_key(self) -> None:
        """Replace the sealing key and empty the cache: stale cache bytes become noise once
        the store's next scrub has wiped the old key from its files."""
        self.episodes.rotate_key()

    def catch_up(self) -> bool:
        """Before a read: this process's completions settled, then what other processes
        changed since the last look applied (:meth:`follow`), unless a background thread
        follows the change log (server mode), so the read never waits on the network.

        Skipped while the last look is younger than ``cache_max_staleness_s``. Returns True
        if a cache entry may have been dropped.
        """
        self.settle()
        if self._follower is not None:
            return False
        max_age = self.config.cache_max_staleness_s
        if max_age and time.monotonic() - self._feed_checked < max_age:
            return False
        return self.follow()

    def follow(self) -> bool:
        """Apply what other processes changed since the last look: drop cache entries of
        deleted or re-revised episodes, take the new sealing key, unindex deleted episodes,
        index and cache episodes they completed, reload learning they changed. One query to
        the store's change log, then one fetch of the new episodes of loaded indexes."""
        feed = self._feed
        if feed is None:
            return False
        dropped = False
        with self._feed_lock:
            while True:
                changes = feed.changes_since(self._feed_cursor)
                self._feed_checked = time.monotonic()
                if changes.complete:
                    dropped = self._apply_changes(changes) or dropped
                else:  # the log was pruned past our cursor: start over
                    logger.info("change log pruned past this process's cursor; clearing cache")
                    self.episodes.clear()
                    self.refresh_cache_key()
                    dropped = True
                self._feed_cursor = changes.cursor
                if not changes.more:
                    return dropped

    def _apply_changes(self, changes: ChangeSet) -> bool:
        self.settle()  # no completion of ours may be cached again after a drop below
        dropped = False
        learned: set[str] = set()
        fetched = self._new_episodes(changes)
        for change in changes.changes:
            namespace, episode_id = change.namespace, change.key
            if change.kind == EPISODE and self._retrieval is not None:
                self._adopt(namespace, episode_id, change.revision, fetched)
            if change.kind == LEARNING:
                learned.add(namespace)
            elif change.kind == DELETED:
                self.episodes.drop(namespace, episode_id)
                self.unindex(namespace, episode_id)
                dropped = True
            elif change.kind == EPISODE:
                cached = self.episodes.revision(namespace, episode_id)
                if cached not in (None, change.revision):
                    self.episodes.drop(namespace, episode_id)
                    dropped = True
        if changes.deleted():
            self.refresh_cache_key()  # the deleting process rotated it
        for namespace in learned:
            if self._follower is not None:
                self.learning.refresh(namespace)  # here, not on a query's path
            else:
                self.learning.note_changed(namespace)
        return dropped

    def _new_episodes(self, changes: ChangeSet) -> dict[tuple[str, str], Episode]:
        """The episodes other processes completed that a loaded index lacks, read before the
        changes are applied (in one request per namespace)."""
        retrieval = self._retrieval
        if retrieval is None:
            return {}
        lacking: dict[str, list[str]] = {}
        for change in changes.changes:
            if change.kind == EPISODE and retrieval.lacks(change.namespace, change.key):
                lacking.setdefault(change.namespace, []).append(change.key)
        return {
            (namespace, episode_id): episode
            for namespace, ids in lacking.items()
            for episode_id, episode in get_episodes(self.store, namespace, ids).items()
        }

    def _adopt(
        self,
        namespace: str,
        episode_id: str,
        revision: int,
        fetched: dict[tuple[str, str], Episode],
    ) -> None:
        """Index an episode another process completed (``fetched`` by
        :meth:`_new_episodes`), if its namespace's index is loaded, and cache it: the
        queries that find it need not fetch it."""
        retrieval = self._retrieval
        assert retrieval is not None
        if not retrieval.lacks(namespace, episode_id):
            return
        episode = fetched.get((namespace, episode_id))
        if episode is None or not episode.is_complete:
            return
        # kept first: a query that finds it in the index then finds it in memory (in memory
        # only: an LMDB write here would slow an embedded reader's query)
        self.episodes.remember(namespace, episode_id, revision, episode.model_dump_json().encode())
        retrieval.add(episode)

    def seal(self, payload: bytes) -> bytes:
        return self.episodes.seal(payload)

    def unseal(self, sealed: bytes) -> bytes | None:
        return self.episodes.unseal(sealed)

    def flush(self) -> int:
        """Write every pending step; on failure put them back and raise."""
        with self.write_lock, reuse_json():  # each step is serialised once (checked, written)
            pending = self.buffer.take_pending()
            if not pending:
                return 0
            by_episode: dict[str, list[ExecutionStep]] = {}
            for episode_id, step in pending:
                by_episode.setdefault(episode_id, []).append(step)
            try:
                self.store.append_steps(by_episode)  # one transaction for the whole batch
            except BaseException:
                self.buffer.restore_pending(pending)
                raise
            return len(pending)

    def _flush_periodically(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.flush()
            except StorageError:
                logger.warning(
                    "background flush failed; steps kept for the next try", exc_info=True
                )

    def close(self) -> None:
        if self.closed:
            return
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join()
        if self._follower is not None:
            self._follower.close()
        try:
            self.after.close()
            self.flush()
            self.learning.close()
            if self._retrieval is not None:
                self._retrieval.close()
        finally:
            self.closed = True
            try:
                self.cache.close()
            except StorageError:
                logger.warning("closing the cache failed", exc_info=True)
            self.store.close()
            _LIVE_CORES.discard(self)


_LIVE_CORES: weakref.WeakSet[MemoryCore] = weakref.WeakSet()


@atexit.register
def _close_live_cores() -> None:  # pragma: no cover - runs at interpreter exit
    for core in list(_LIVE_CORES):
        try:
            core.close()
        except StorageError:
            logger.exception("flushing steps at exit failed")


def twin(method: Callable[_P, _T]) -> Callable[_P, Coroutine[Any, Any, _T]]:
    """The async twin of a sync method: the same code, run in a worker thread."""

    @functools.wraps(method)
    async def twin(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        return await asyncio.to_thread(method, *args, **kwargs)

    twin.__doc__ = f"Async twin of :meth:`{method.__name__}`."
    return twin
