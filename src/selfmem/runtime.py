"""What handles share at run time: the core (store, cache, buffer, flusher, learning)
and the helper that makes async twins."""

from __future__ import annotations

import asyncio
import atexit
import functools
import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from .config import MemoryConfig
from .errors import StorageError
from .learning import Reflector
from .learning_engine import LearningEngine
from .models import (
    ExecutionStep,
)
from .step_buffer import StepBuffer
from .storage import sealing
from .storage.base import EpisodeStore, HotCache

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from .embeddings.base import Embedder
    from .models import Episode
    from .retrieval_engine import RetrievalEngine

__all__ = ["MAX_PAGE", "MemoryCore", "MemoryStats", "twin"]

_CACHE_KEY = "cache_sealing_key"

_P = ParamSpec("_P")
_T = TypeVar("_T")
_MAX_ID_CHARS = 128
MAX_PAGE = 1_000
_EPISODE = "episode"


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


class MemoryCore:
    """What scoped handles share: the store, the cache, the step buffer and the flusher."""

    def __init__(
        self,
        store: EpisodeStore,
        cache: HotCache,
        config: MemoryConfig,
        reflector: Reflector | None,
        embedder: Embedder | None = None,
    ) -> None:
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
        )
        self._embedder = embedder
        self._retrieval: RetrievalEngine | None = None
        if embedder is not None:  # its worker must see every completed episode
            _ = self.retrieval
        self.write_lock = threading.Lock()
        self.closed = False
        self.cache_key = self._load_cache_key()
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

    def unindex(self, namespace: str, episode_id: str) -> None:
        if self._retrieval is not None:
            self._retrieval.remove(namespace, episode_id)

    def drain_embeddings(self) -> None:
        if self._retrieval is not None:
            self._retrieval.drain()

    @property
    def retrieval(self) -> RetrievalEngine:
        """The retrieval engine, created on first use (it brings numpy in)."""
        if self._retrieval is None:
            from .retrieval_engine import RetrievalEngine

            self._retrieval = RetrievalEngine(self.store, self._embedder, self.config.ann_threshold)
        return self._retrieval

    def _load_cache_key(self) -> bytes:
        key = self.store.get_meta(_CACHE_KEY)
        if key is None or len(key) != sealing.KEY_BYTES:
            key = sealing.new_key()
            self.store.set_meta(_CACHE_KEY, key)
        return key

    def refresh_cache_key(self) -> bool:
        """Re-read the sealing key (another process may have rotated it); True if changed."""
        key = self.store.get_meta(_CACHE_KEY)
        if key is None or key == self.cache_key:
            return False
        self.cache_key = key
        return True

    def rotate_cache_key(self) -> None:
        """Replace the sealing key and empty the cache: stale cache bytes become noise."""
        self.cache_key = sealing.new_key()
        self.store.set_meta(_CACHE_KEY, self.cache_key)
        self.cache.clear()

    def seal(self, payload: bytes) -> bytes:
        return sealing.seal(self.cache_key, payload)

    def unseal(self, sealed: bytes) -> bytes | None:
        payload = sealing.open_sealed(self.cache_key, sealed)
        if payload is None and self.refresh_cache_key():
            payload = sealing.open_sealed(self.cache_key, sealed)
        return payload

    def flush(self) -> int:
        """Write every pending step; on failure put them back and raise."""
        with self.write_lock:
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
        try:
            self.flush()
            self.learning.close()
            if self._retrieval is not None:
                self._retrieval.close()
        finally:
            self.closed = True
            self.cache.close()
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


def twin(method: Callable[_P, _T]) -> Callable[_P, Any]:
    """The async twin of a sync method: the same code, run in a worker thread."""

    @functools.wraps(method)
    async def twin(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        return await asyncio.to_thread(method, *args, **kwargs)

    twin.__doc__ = f"Async twin of :meth:`{method.__name__}`."
    return twin
