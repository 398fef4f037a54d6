"""``SelfLearningMemory``: the one entry point. It reads storage and calls the pure logic.

Every public method is synchronous (the drivers are) and has an ``a``-prefixed async twin
that runs the same method in a worker thread, so an event loop is never blocked.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from os import PathLike
from typing import Any, ParamSpec, TypeVar

from .config import MemoryConfig, resolve_location
from .errors import EpisodeStateError, InvalidInputError, NotFoundError, StorageError
from .learning import AnyPattern, Heuristic, PatternKind, Reflector, compute_reward
from .learning.reflection import reflect_safely
from .learning_engine import FEEDBACK_KEY, LearningEngine
from .models import (
    Episode,
    ExecutionStep,
    OutcomeStatus,
    TaskContext,
    TaskOutcome,
    TaskType,
    utc_now,
)
from .retrieval.pattern_ranking import ScoredHeuristic, ScoredPattern, rank_patterns
from .retrieval.ranking import RankingWeights, context_match, fuse, outcome_signal
from .retrieval.result import RetrievalResult, ScoredEpisode
from .security import validation
from .step_buffer import OpenEpisode, StepBuffer
from .storage.base import EpisodeQuery, EpisodeStore, HotCache
from .storage.memory_store import InMemoryStore, NullCache

__all__ = ["MemoryStats", "SelfLearningMemory"]

logger = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")
_MAX_ID_CHARS = 128
_MAX_PAGE = 1_000
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


class _Core:
    """What scoped handles share: the store, the cache, the step buffer and the flusher."""

    def __init__(
        self,
        store: EpisodeStore,
        cache: HotCache,
        config: MemoryConfig,
        reflector: Reflector | None,
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
        self.write_lock = threading.Lock()
        self.closed = False
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

    def flush(self) -> int:
        """Write every pending step; on failure put them back and raise."""
        with self.write_lock:
            pending = self.buffer.take_pending()
            if not pending:
                return 0
            by_episode: dict[str, list[ExecutionStep]] = {}
            for episode_id, step in pending:
                by_episode.setdefault(episode_id, []).append(step)
            written: set[str] = set()
            try:
                for episode_id, steps in by_episode.items():
                    state = self.buffer.get(episode_id)
                    namespace = state.header.namespace if state else ""
                    self.store.append_steps(namespace, episode_id, steps)
                    written.add(episode_id)
            except BaseException:
                self.buffer.restore_pending([item for item in pending if item[0] not in written])
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
        finally:
            self.closed = True
            self.cache.close()
            self.store.close()
            _LIVE_CORES.discard(self)


_LIVE_CORES: weakref.WeakSet[_Core] = weakref.WeakSet()


@atexit.register
def _close_live_cores() -> None:  # pragma: no cover - runs at interpreter exit
    for core in list(_LIVE_CORES):
        try:
            core.close()
        except StorageError:
            logger.exception("flushing steps at exit failed")


def _twin(method: Callable[_P, _T]) -> Callable[_P, Any]:
    """The async twin of a sync method: the same code, run in a worker thread."""

    @functools.wraps(method)
    async def twin(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        return await asyncio.to_thread(method, *args, **kwargs)

    twin.__doc__ = f"Async twin of :meth:`{method.__name__}`."
    return twin


class SelfLearningMemory:
    """Self-learning episodic memory for agents.

    Lifecycle: :meth:`start_episode` -> :meth:`log_step` ... -> :meth:`complete_episode`
    (scores a reward and writes a reflection) -> :meth:`retrieve_relevant_context` before the
    next task. Use :meth:`open` for the common case; pass ``store`` / ``cache`` instances to
    choose backends yourself.
    """

    def __init__(
        self,
        store: EpisodeStore | None = None,
        *,
        cache: HotCache | None = None,
        config: MemoryConfig | None = None,
        ranking: RankingWeights | None = None,
        reflector: Reflector | None = None,
    ) -> None:
        config = config or MemoryConfig()
        self.namespace = validation.check_namespace(config.namespace)
        self._core = _Core(store or InMemoryStore(), cache or NullCache(), config, reflector)
        self._ranking = ranking or RankingWeights()
        self._owner = True

    @classmethod
    def open(
        cls,
        path_or_url: str | PathLike[str] | None = None,
        *,
        namespace: str | None = None,
        auth_token: str | None = None,
        config: MemoryConfig | None = None,
        cache: bool | str = True,
        reflector: Reflector | None = None,
        **options: Any,
    ) -> SelfLearningMemory:
        """Open (creating on first use) a memory at a directory or a libSQL URL.

        ``path_or_url``: a directory (default ``./.selfmem``, or ``SELFMEM_PATH``) holding the
        libSQL file and the LMDB cache, or a ``libsql://`` / ``http(s)://`` URL (default
        ``SELFMEM_DATABASE_URL`` / ``TURSO_DATABASE_URL``) with ``auth_token`` (default
        ``SELFMEM_AUTH_TOKEN`` / ``TURSO_AUTH_TOKEN``). ``options`` are
        :class:`~selfmem.MemoryConfig` fields, e.g. ``flush_interval_s=None``. ``reflector``
        writes reflections (e.g. with an LLM); the deterministic one is the fallback.
        """
        from .storage.factory import open_backends

        config = (config or MemoryConfig()).with_options(**options)
        if namespace is not None:
            config = config.with_options(namespace=namespace)
        location, token = resolve_location(path_or_url, auth_token)
        store, hot = open_backends(location, token, config, cache=cache)
        return cls(store, cache=hot, config=config, reflector=reflector)

    def scoped(self, namespace: str) -> SelfLearningMemory:
        """A handle on the same store and cache, scoped to another namespace.

        Closing a scoped handle does nothing; close the handle it came from.
        """
        handle = object.__new__(SelfLearningMemory)
        handle.namespace = validation.check_namespace(namespace)
        handle._core = self._core
        handle._ranking = self._ranking
        handle._owner = False
        return handle

    @property
    def config(self) -> MemoryConfig:
        return self._core.config

    # -- helpers ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._core.closed:
            raise StorageError("this SelfLearningMemory is closed")

    @staticmethod
    def _check_id(episode_id: Any) -> str:
        if not isinstance(episode_id, str) or not episode_id or len(episode_id) > _MAX_ID_CHARS:
            raise InvalidInputError(
                f"episode_id must be a non-empty string of at most {_MAX_ID_CHARS} characters",
                field="episode_id",
            )
        return episode_id

    def _cache_key(self, episode_id: str) -> str:
        return f"{self.namespace}/{episode_id}"

    def _cache_get(self, episode_id: str) -> Episode | None:
        try:
            raw = self._core.cache.get(_EPISODE, self._cache_key(episode_id))
        except StorageError:
            logger.warning("cache read failed; using the store", exc_info=True)
            return None
        if raw is None:
            return None
        _, _, payload = raw.partition(b"\n")
        return Episode.model_validate_json(payload)

    def _cache_put(self, episode: Episode, revision: int) -> None:
        payload = f"{revision}\n".encode() + episode.model_dump_json().encode()
        try:
            self._core.cache.put(_EPISODE, self._cache_key(episode.id), payload)
        except StorageError:
            logger.warning("cache write failed; the store has the episode", exc_info=True)

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

    # -- lifecycle --------------------------------------------------------------------------

    def start_episode(
        self,
        task_description: str,
        context: TaskContext | dict[str, Any] | None = None,
        task_type: TaskType | str = TaskType.OTHER,
        *,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """Record the start of a task; returns the new episode's id.

        The episode is durable at once, so it can be recovered if the process dies.
        """
        self._check_open()
        limits, redact = self.config.limits, self.config.redact_secrets
        episode = Episode(
            namespace=self.namespace,
            task_description=validation.prepare_description(task_description, limits, redact),
            context=validation.prepare_context(context, limits),
            task_type=validation.prepare_task_type(task_type),
            metadata=validation.prepare_metadata(metadata, limits, redact),
        )
        self._core.store.create_episode(episode)
        self._core.buffer.track(episode)
        return episode.id

    def log_step(
        self, episode_id: str, step: ExecutionStep | dict[str, Any] | None = None, **fields: Any
    ) -> ExecutionStep:
        """Add a step to an open episode: ``log_step(eid, ExecutionStep(...))`` or
        ``log_step(eid, tool="search", parameters={...}, observation="...")``.

        Buffered: no I/O unless the buffer is full. Returns the step as it will be stored
        (numbered, size-limited, redacted).
        """
        self._check_open()
        if step is None:
            step = fields
        elif fields:
            raise InvalidInputError("pass either a step or keyword fields, not both", field="step")
        prepared = validation.prepare_step(step, self.config.limits, self.config.redact_secrets)
        self._open_state(self._check_id(episode_id))
        stored, pending = self._core.buffer.add(episode_id, prepared)
        if pending >= self.config.flush_max_steps:
            self._core.flush()
        return stored

    def flush(self) -> int:
        """Write every buffered step now and wait for queued learning; returns the number
        of steps written."""
        self._check_open()
        written = self._core.flush()
        self._core.learning.drain()
        return written

    def complete_episode(self, episode_id: str, outcome: TaskOutcome | dict[str, Any]) -> Episode:
        """Finish an episode: write its steps and outcome, score its reward, reflect.

        Returns the completed episode. On a storage error nothing is lost: the episode
        stays open with its steps and the call can be retried.
        """
        self._check_open()
        prepared = validation.prepare_outcome(
            outcome, self.config.limits, self.config.redact_secrets
        )
        state = self._open_state(self._check_id(episode_id))
        buffer = self._core.buffer
        buffer.begin_completion(episode_id)
        with self._core.write_lock:
            pending = buffer.take_pending(episode_id)
            try:
                end = max(utc_now(), state.header.start_time)
                episode = state.header.model_copy(
                    update={"steps": list(state.steps), "end_time": end, "outcome": prepared}
                )
                self._score_and_reflect(episode)
                revision = self._core.store.finish_episode(episode, [s for _, s in pending])
            except BaseException:
                buffer.restore_pending(pending)
                buffer.abort_completion(episode_id)
                raise
        buffer.forget(episode_id)
        self._cache_put(episode, revision)
        self._core.learning.submit(episode)
        return episode

    def _score_and_reflect(self, episode: Episode) -> None:
        learning = self._core.learning
        episode.reward = compute_reward(episode, self.config.reward, learning.baseline(episode))
        episode.reflection = reflect_safely(
            self._core.reflector, episode, learning.relevant(episode)
        )

    def abandon_episode(self, episode_id: str, reason: str = "abandoned") -> Episode:
        """Complete an episode left open (e.g. by a crashed process) as a failure."""
        return self.complete_episode(episode_id, TaskOutcome.failure(reason))

    # -- reading ----------------------------------------------------------------------------

    def get_episode(self, episode_id: str) -> Episode:
        """The episode with this id in this namespace (open ones include unflushed steps)."""
        self._check_open()
        self._check_id(episode_id)
        state = self._core.buffer.get(episode_id)
        if state is not None and state.header.namespace == self.namespace:
            with self._core.buffer.lock:
                return state.header.model_copy(update={"steps": list(state.steps)}, deep=True)
        cached = self._cache_get(episode_id)
        if cached is not None:
            return cached
        episode = self._core.store.get_episode(self.namespace, episode_id)
        if episode is None:
            raise NotFoundError("episode", episode_id, self.namespace)
        if episode.is_complete:
            revisions = self._core.store.episode_revisions(self.namespace, [episode_id])
            self._cache_put(episode, revisions.get(episode_id, 0))
        return episode

    def _query(self, **filters: Any) -> EpisodeQuery:
        limit, offset = filters.get("limit", 50), filters.get("offset", 0)
        if not 1 <= limit <= _MAX_PAGE:
            raise InvalidInputError(f"limit must be between 1 and {_MAX_PAGE}", field="limit")
        if offset < 0:
            raise InvalidInputError("offset must not be negative", field="offset")
        if filters.get("task_type") is not None:
            filters["task_type"] = validation.prepare_task_type(filters["task_type"])
        if filters.get("outcome") is not None:
            try:
                filters["outcome"] = OutcomeStatus(filters["outcome"])
            except ValueError:
                raise InvalidInputError(
                    f"unknown outcome {filters['outcome']!r}", field="outcome"
                ) from None
        return EpisodeQuery(namespace=self.namespace, **filters)

    def list_episodes(
        self,
        *,
        domain: str | None = None,
        task_type: TaskType | str | None = None,
        outcome: OutcomeStatus | str | None = None,
        started_after: datetime | None = None,
        started_before: datetime | None = None,
        open_only: bool = False,
        completed_only: bool = False,
        limit: int = 50,
        offset: int = 0,
        include_steps: bool = True,
    ) -> list[Episode]:
        """Episodes of this namespace, newest first, filtered and paged.

        ``open_only=True`` finds episodes never completed (e.g. their process died); they
        can be finished with :meth:`complete_episode` or :meth:`abandon_episode`.
        """
        self._check_open()
        query = self._query(
            domain=domain, task_type=task_type, outcome=outcome, started_after=started_after,
            started_before=started_before, open_only=open_only, completed_only=completed_only,
            limit=limit, offset=offset, include_steps=include_steps,
        )  # fmt: skip
        self._core.flush()
        return self._core.store.list_episodes(query)

    def delete_episode(self, episode_id: str) -> None:
        """Delete an episode everywhere: store, search index, cache and step buffer."""
        self._check_open()
        self._check_id(episode_id)
        state = self._core.buffer.get(episode_id)
        owned = state is not None and state.header.namespace == self.namespace
        self._core.cache.delete(_EPISODE, self._cache_key(episode_id))
        with self._core.write_lock:
            if owned:
                self._core.buffer.forget(episode_id)
            deleted = self._core.store.delete_episode(self.namespace, episode_id)
        self._core.cache.delete(_EPISODE, self._cache_key(episode_id))
        if not deleted and not owned:
            raise NotFoundError("episode", episode_id, self.namespace)

    def retrieve_relevant_context(
        self,
        description: str,
        context: TaskContext | dict[str, Any] | None = None,
        limit: int = 5,
        *,
        task_type: TaskType | str | None = None,
        success_only: bool = False,
    ) -> RetrievalResult:
        """Past completed episodes most relevant to a new task, ranked and explained.

        Signals: full-text relevance (FTS5 BM25 over task and step text), context match
        and outcome reward; see :mod:`selfmem.retrieval.ranking`.
        """
        self._check_open()
        if not isinstance(description, str) or not description.strip():
            raise InvalidInputError("description must be a non-empty string", field="description")
        if not 1 <= limit <= 100:
            raise InvalidInputError("limit must be between 1 and 100", field="limit")
        ctx = validation.prepare_context(context, self.config.limits)
        wanted_type = validation.prepare_task_type(task_type) if task_type else None
        candidates = self._candidates(description, ctx, pool=max(50, limit * 10))
        scored: list[ScoredEpisode] = []
        for episode, lexical in candidates:
            if success_only and not (episode.outcome and episode.outcome.is_success):
                continue
            if wanted_type is not None and episode.task_type != wanted_type:
                continue
            signals = {
                "lexical": lexical,
                "context": context_match(ctx, wanted_type, episode),
                "outcome": outcome_signal(episode),
            }
            scored.append(ScoredEpisode(episode, fuse(signals, self._ranking), signals))
        scored.sort(key=lambda s: s.score, reverse=True)
        patterns, heuristics = self._rank_patterns(description, ctx, wanted_type, limit)
        return RetrievalResult(
            query=description, episodes=scored[:limit], patterns=patterns, heuristics=heuristics
        )

    def _rank_patterns(
        self, description: str, ctx: TaskContext, task_type: TaskType | None, limit: int
    ) -> tuple[list[ScoredPattern], list[ScoredHeuristic]]:
        learner = self._core.learning.learner(self.namespace)
        with self._core.learning.lock:
            served = learner.patterns()
        return rank_patterns(served, description, ctx, task_type, limit)

    def _candidates(
        self, description: str, ctx: TaskContext, pool: int
    ) -> Iterable[tuple[Episode, float]]:
        hits = self._core.store.search_episodes(self.namespace, description, pool)
        best = max((hit.score for hit in hits), default=0.0) or 1.0
        found: dict[str, tuple[Episode, float]] = {}
        for hit in hits:
            try:
                episode = self.get_episode(hit.episode_id)
            except NotFoundError:
                continue
            found[episode.id] = (episode, hit.score / best)
        same_domain = self._core.store.list_episodes(
            EpisodeQuery(self.namespace, domain=ctx.domain, completed_only=True, limit=pool)
        )
        for episode in same_domain:
            found.setdefault(episode.id, (episode, 0.0))
        return found.values()

    def stats(self) -> MemoryStats:
        """Episode counts of this namespace."""
        self._check_open()
        count = self._core.store.count_episodes

        def q(**kw: Any) -> EpisodeQuery:
            return EpisodeQuery(self.namespace, **kw)

        return MemoryStats(
            namespace=self.namespace,
            episodes=count(q()),
            open_episodes=count(q(open_only=True)),
            successes=count(q(outcome=OutcomeStatus.SUCCESS)),
            partial_successes=count(q(outcome=OutcomeStatus.PARTIAL_SUCCESS)),
            failures=count(q(outcome=OutcomeStatus.FAILURE)),
            pending_steps=self._core.buffer.pending_count(),
            patterns=len(self.list_patterns(limit=_MAX_PAGE)),
            heuristics=len(self.list_heuristics(limit=_MAX_PAGE)),
            pending_learning=self._core.learning.pending(),
        )

    def reconcile_cache(self) -> int:
        """Drop or refresh cached episodes of this namespace that the store changed or
        deleted (e.g. from another process). Returns how many entries were fixed."""
        self._check_open()
        prefix = f"{self.namespace}/"
        cache = self._core.cache
        keys = [k for k in cache.keys(_EPISODE) if k.startswith(prefix)]
        ids = [k[len(prefix) :] for k in keys]
        current = self._core.store.episode_revisions(self.namespace, ids)
        fixed = 0
        for key, episode_id in zip(keys, ids, strict=True):
            raw = cache.get(_EPISODE, key)
            cached_revision = int(raw.partition(b"\n")[0]) if raw else -1
            if current.get(episode_id) == cached_revision:
                continue
            cache.delete(_EPISODE, key)
            fixed += 1
        return fixed

    # -- learned experience -----------------------------------------------------------------

    def list_patterns(
        self,
        kind: PatternKind | str | None = None,
        *,
        include_unserved: bool = False,
        limit: int = 50,
    ) -> list[AnyPattern]:
        """Learned patterns of this namespace, most effective first.

        Only patterns that passed the serving thresholds unless ``include_unserved``.
        """
        self._check_open()
        wanted = PatternKind(kind) if kind is not None else None
        learning = self._core.learning
        learner = learning.learner(self.namespace)
        with learning.lock:
            return learner.patterns(wanted, served_only=not include_unserved)[:limit]

    def get_pattern(self, pattern_id: str) -> AnyPattern:
        """One pattern by id (served or not)."""
        self._check_open()
        learning = self._core.learning
        with learning.lock:
            pattern = learning.learner(self.namespace).get(pattern_id)
            if pattern is None:
                raise NotFoundError("pattern", pattern_id, self.namespace)
            return pattern.model_copy(deep=True)

    def list_heuristics(self, *, limit: int = 50) -> list[Heuristic]:
        """Heuristics derived from served patterns, most confident first."""
        from .learning.heuristics import derive_heuristics

        return derive_heuristics(self.list_patterns(limit=_MAX_PAGE))[:limit]

    def recommend_patterns(
        self,
        description: str,
        context: TaskContext | dict[str, Any] | None = None,
        limit: int = 5,
        *,
        task_type: TaskType | str | None = None,
    ) -> list[ScoredPattern]:
        """What to try for this task: served patterns ranked by effectiveness and fit."""
        self._check_open()
        ctx = validation.prepare_context(context, self.config.limits)
        wanted = validation.prepare_task_type(task_type) if task_type else None
        return self._rank_patterns(description, ctx, wanted, limit)[0]

    def record_feedback(
        self,
        episode_id: str,
        pattern_ids: Sequence[str] = (),
        heuristic_ids: Sequence[str] = (),
    ) -> None:
        """Record that these patterns/heuristics were used in an episode.

        For an open episode the link is kept and applied when it completes; for a completed
        one its outcome is applied now. Patterns used in episodes that keep failing lose
        confidence and are eventually retired.
        """
        self._check_open()
        self._check_id(episode_id)
        learning = self._core.learning
        ids = list(
            dict.fromkeys([*pattern_ids, *learning.pattern_ids_for(self.namespace, heuristic_ids)])
        )
        state = self._core.buffer.get(episode_id)
        if state is not None and state.header.namespace == self.namespace:
            with self._core.buffer.lock:
                used = state.header.metadata.setdefault(FEEDBACK_KEY, [])
                used.extend(i for i in ids if i not in used)
            return
        episode = self.get_episode(episode_id)
        if not episode.is_complete:
            state = self._open_state(episode_id)
            with self._core.buffer.lock:
                state.header.metadata.setdefault(FEEDBACK_KEY, []).extend(ids)
            return
        success = episode.outcome is not None and episode.outcome.is_success
        learning.feedback(self.namespace, ids, success)

    def relearn(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Rebuild every pattern and heuristic of this namespace from the stored episodes.

        ``progress(done, total)`` is called after each page. Returns the episodes seen.
        """
        self._check_open()
        self._core.flush()
        return self._core.learning.relearn(self.namespace, progress)

    @property
    def learning_failures(self) -> list[str]:
        """Ids of episodes whose learning failed twice (``relearn()`` recovers them)."""
        return self._core.learning.failed

    # -- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Flush buffered steps and release the store and cache. Idempotent."""
        if self._owner:
            self._core.close()

    def __enter__(self) -> SelfLearningMemory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> SelfLearningMemory:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- async twins ------------------------------------------------------------------------

    astart_episode = _twin(start_episode)
    alog_step = _twin(log_step)
    aflush = _twin(flush)
    acomplete_episode = _twin(complete_episode)
    aabandon_episode = _twin(abandon_episode)
    aget_episode = _twin(get_episode)
    alist_episodes = _twin(list_episodes)
    adelete_episode = _twin(delete_episode)
    aretrieve_relevant_context = _twin(retrieve_relevant_context)
    astats = _twin(stats)
    alist_patterns = _twin(list_patterns)
    aget_pattern = _twin(get_pattern)
    alist_heuristics = _twin(list_heuristics)
    arecommend_patterns = _twin(recommend_patterns)
    arecord_feedback = _twin(record_feedback)
    arelearn = _twin(relearn)
    areconcile_cache = _twin(reconcile_cache)
    aclose = _twin(close)
