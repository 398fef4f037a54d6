"""``SelfLearningMemory``: the one entry point. It reads storage and calls the pure logic.

Every public method is synchronous (the drivers are) and has an ``a``-prefixed async twin
that runs the same method in a worker thread, so an event loop is never blocked.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from datetime import datetime
from os import PathLike
from typing import TYPE_CHECKING, Any

from ..config import MAX_PAGE, MemoryConfig, resolve_location
from ..engine import telemetry
from ..engine.learning import teaches
from ..engine.runtime import MemoryCore, MemoryStats, twin
from ..engine.step_buffer import OpenEpisode
from ..errors import InvalidInputError, NotFoundError
from ..learning import Reflector, compute_reward
from ..learning.reflection import reflect_safely
from ..records.episodes import (
    Episode,
    ExecutionStep,
    OutcomeStatus,
    TaskContext,
    TaskOutcome,
    TaskType,
    utc_now,
)
from ..records.json_once import reuse_json
from ..retrieval.weights import RankingWeights
from ..security import validation
from ..security.values import INT64_MAX, check_text
from ..storage.base import EpisodeQuery, EpisodeStore, HotCache
from ..storage.memory_store import InMemoryStore, NullCache
from .handle import Handle
from .items import ItemsAPI
from .learning import LearningAPI
from .retrieval import RetrievalAPI

if TYPE_CHECKING:
    from ..embeddings.base import Embedder

__all__ = ["MemoryStats", "SelfLearningMemory"]

_EPISODE = "episode"

logger = logging.getLogger(__name__)


class _Flushers:
    """What :meth:`SelfLearningMemory.flush` and ``close`` call first: the flush methods of
    framework handlers that still hold records (held weakly, so registering never keeps a
    handler alive)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refs: list[Callable[[], Callable[[], object] | None]] = []
        self._busy = threading.local()

    def add(self, flush: Callable[[], object]) -> None:
        ref: Callable[[], Callable[[], object] | None]
        try:
            if hasattr(flush, "__self__") and hasattr(flush, "__func__"):
                ref = weakref.WeakMethod(flush)
            else:
                ref = weakref.ref(flush)
        except TypeError:  # e.g. a builtin function: it cannot be held weakly
            raise InvalidInputError(
                "flush must be a function or a bound method (it is held weakly), not "
                f"{type(flush).__name__}",
                field="flush",
            ) from None
        with self._lock:
            self._refs = [r for r in self._refs if r() is not None and r() != flush] + [ref]

    def run(self) -> None:
        if getattr(self._busy, "on", False):  # a flusher that flushes the memory itself
            return
        with self._lock:
            live = [f for f in (r() for r in self._refs) if f is not None]
        self._busy.on = True
        try:
            for flush in live:
                try:
                    flush()
                except Exception:  # a registered callback must not stop the flush
                    logger.warning("selfmem: flusher %r failed", flush, exc_info=True)
        finally:
            self._busy.on = False


_FLUSHERS: weakref.WeakKeyDictionary[MemoryCore, _Flushers] = weakref.WeakKeyDictionary()
_FLUSHERS_LOCK = threading.Lock()


def _flushers(core: MemoryCore) -> _Flushers:
    with _FLUSHERS_LOCK:
        found = _FLUSHERS.get(core)
        if found is None:
            found = _FLUSHERS[core] = _Flushers()
        return found


class SelfLearningMemory(RetrievalAPI, LearningAPI, ItemsAPI):
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
        embedder: Embedder | None = None,
    ) -> None:
        config = config or MemoryConfig()
        self.namespace = validation.check_namespace(config.namespace)
        self._core = MemoryCore(
            store or InMemoryStore(), cache or NullCache(), config, reflector, embedder
        )
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
        embedder: Embedder | None = None,
        ranking: RankingWeights | None = None,
        **options: Any,
    ) -> SelfLearningMemory:
        """Open (creating on first use) a memory at a directory or a libSQL URL.

        ``path_or_url``: a directory (default ``./.selfmem``, or ``SELFMEM_PATH``) holding the
        libSQL file and the LMDB cache, or a ``libsql://`` / ``http(s)://`` URL (default
        ``SELFMEM_DATABASE_URL`` / ``TURSO_DATABASE_URL``) with ``auth_token`` (default
        ``SELFMEM_AUTH_TOKEN`` / ``TURSO_AUTH_TOKEN``). ``options`` are
        :class:`~selfmem.MemoryConfig` fields, e.g. ``flush_interval_s=None``. ``reflector``
        writes reflections (e.g. with an LLM); the deterministic one is the fallback.
        ``embedder`` (e.g. ``SentenceTransformerEmbedder()``) adds semantic retrieval;
        ``ranking`` sets the weights of the retrieval signals.
        """
        from ..storage.factory import open_backends

        config = (config or MemoryConfig()).with_options(**options)
        if namespace is not None:
            config = config.with_options(namespace=namespace)
        location, token = resolve_location(path_or_url, auth_token)
        store, hot = open_backends(location, token, config, cache=cache)
        return cls(
            store, cache=hot, config=config, reflector=reflector, embedder=embedder,
            ranking=ranking,
        )  # fmt: skip

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

    # -- lifecycle --------------------------------------------------------------------------

    @telemetry.traced("selfmem.episode.start", telemetry.start_attributes)
    def start_episode(
        self,
        task_description: str,
        context: TaskContext | dict[str, Any] | None = None,
        task_type: TaskType | str = TaskType.OTHER,
        *,
        metadata: dict[str, Any] | None = None,
        start_time: datetime | None = None,
    ) -> str:
        """Record the start of a task; returns the new episode's id.

        The episode is durable at once, so it can be recovered if the process dies.
        ``start_time`` (timezone-aware, not in the future) records a task that began
        earlier, e.g. when a framework hands the start over after the fact.
        """
        self._check_open()
        limits, redact = self.config.limits, self.config.redact_secrets
        episode = validation.prepare_episode(
            self.namespace, task_description, context, task_type, metadata, limits, redact
        )
        if start_time is not None:
            episode.start_time = validation.prepare_start_time(start_time)
        self._core.store.create_episode(episode)
        self._core.buffer.track(episode)
        return episode.id

    @telemetry.traced("selfmem.episode.log_step", telemetry.step_attributes)
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
        self._open_state(validation.check_id(episode_id))
        stored, pending = self._core.buffer.add(episode_id, prepared)
        if pending >= self.config.flush_max_steps:
            self._core.flush()
        return stored

    def flush(self) -> int:
        """Write every buffered step now and wait for queued learning, embedding and an
        index snapshot being written; returns the number of steps written. The flushers
        registered with :meth:`register_flusher` (e.g. the LangChain and LlamaIndex
        handlers recording into this memory) run first."""
        self._check_open()
        _flushers(self._core).run()
        written = self._core.flush()
        self._core.learning.drain()
        self._core.drain_embeddings()
        self._core.retrieval.wait_for_snapshots()
        return written

    @telemetry.traced("selfmem.episode.complete", telemetry.complete_attributes)
    def complete_episode(
        self,
        episode_id: str,
        outcome: TaskOutcome | dict[str, Any],
        *,
        end_time: datetime | None = None,
    ) -> Episode:
        """Finish an episode: write its steps and outcome, score its reward, reflect.

        Returns the completed episode. On a storage error nothing is lost: the episode
        stays open with its steps and the call can be retried. ``end_time``
        (timezone-aware, not before the start, not in the future) records a run that ended
        earlier, e.g. when replaying a history, so that recency and decay see its real age.
        """
        self._check_open()
        ended = validation.prepare_start_time(end_time, "end_time") if end_time else None
        replaced: list[str] = []
        prepared = validation.prepare_outcome(
            outcome, self.config.limits, self.config.redact_secrets, replaced
        )
        state = self._open_state(validation.check_id(episode_id))
        buffer = self._core.buffer
        buffer.begin_completion(episode_id)
        # Each step and the header are serialised once: for the rows and the cached body.
        with reuse_json():
            with self._core.write_lock:
                pending = buffer.take_pending(episode_id)
                try:
                    episode = self._completed_episode(state, ended, prepared, replaced)
                    revision = self._core.store.finish_episode(episode, [s for _, s in pending])
                except BaseException:
                    buffer.restore_pending(pending)
                    buffer.abort_completion(episode_id)
                    raise
            buffer.forget(episode_id)
            self._core.completed(episode, revision)  # cached and indexed in the background
        self._core.learning.submit(episode)
        return episode

    def _completed_episode(
        self, state: OpenEpisode, ended: datetime | None, outcome: TaskOutcome,
        replaced: list[str],
    ) -> Episode:  # fmt: skip
        """The open episode as completed: its steps, end, outcome, reward and reflection."""
        episode_id = state.header.id
        self._core.buffer.raise_parked(episode_id)
        if ended is not None and ended < state.header.start_time:
            raise InvalidInputError("end_time is before the episode started", field="end_time")
        end = ended or max(utc_now(), state.header.start_time)
        metadata = validation.completion_metadata(
            state.header.metadata, replaced, self.config.limits
        )
        episode = state.header.model_copy(
            update={"steps": list(state.steps), "end_time": end, "outcome": outcome,
                    "metadata": metadata}
        )  # fmt: skip
        self._score_and_reflect(episode)
        return episode

    def _score_and_reflect(self, episode: Episode) -> None:
        if not teaches(episode):  # abandoned: no verdict to score or reflect on
            return
        learning = self._core.learning
        episode.reward = compute_reward(episode, self.config.reward)
        episode.reflection = reflect_safely(
            self._core.reflector, episode, learning.relevant(episode)
        )

    def abandon_episode(self, episode_id: str, reason: str = "abandoned") -> Episode:
        """Complete an episode that stopped before it finished (a stream left early, a
        cancelled run, a crashed process) as ``abandoned``: it is kept, listed and can be
        filtered (``outcome="abandoned"``), but it has no reward or reflection and learning
        and success statistics leave it out."""
        reason = validation.expect(reason, str, "reason")
        return self.complete_episode(episode_id, TaskOutcome.abandoned(reason))

    def _query(self, **filters: Any) -> EpisodeQuery:
        check_count = validation.check_count
        filters["limit"] = check_count(filters.get("limit", 50), "limit", 1, MAX_PAGE)
        filters["offset"] = check_count(filters.get("offset", 0), "offset", 0, INT64_MAX)
        if filters.get("domain") is not None:
            check_text(validation.expect(filters["domain"], str, "domain"), "domain")
        for name in ("started_after", "started_before"):
            if filters.get(name) is not None:
                validation.expect(filters[name], datetime, name)
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
        after: Episode | None = None,
        oldest_first: bool = False,
    ) -> list[Episode]:
        """Episodes of this namespace, newest first (``oldest_first``: the other way), filtered
        and paged.

        ``open_only=True`` finds episodes never completed (e.g. their process died); they
        can be finished with :meth:`complete_episode` or :meth:`abandon_episode`. To read
        many pages, pass the last episode of the previous page as ``after``: each page then
        costs the same, where ``offset`` costs the rows it skips.
        """
        self._check_open()
        if after is not None:
            validation.expect(after, Episode, "after")
        query = self._query(
            domain=domain, task_type=task_type, outcome=outcome, started_after=started_after,
            started_before=started_before, open_only=open_only, completed_only=completed_only,
            limit=limit, offset=offset, include_steps=include_steps,
            after=(after.start_time, after.id) if after is not None else None,
            oldest_first=bool(oldest_first),
        )  # fmt: skip
        self._core.flush()
        return self._core.store.list_episodes(query)

    def delete_episode(self, episode_id: str) -> None:
        """Delete an episode everywhere: store, search index, cache, step buffer, and what
        it taught (its contribution to patterns and heuristics; patterns that rested on it
        alone are removed). Deleted text does not linger in the database files."""
        self._check_open()
        self._check_id(episode_id)
        core = self._core
        state = core.buffer.get(episode_id)
        owned = state is not None and state.header.namespace == self.namespace
        stored = core.store.get_episode(self.namespace, episode_id)
        core.episodes.drop(self.namespace, episode_id)  # a failing cache is logged, not raised
        # The sealing key changes before the delete: a process that sees the deletion in the
        # change log reads the new key, and the scrub below wipes the old one from the files.
        rotated = stored is not None or owned
        if rotated:
            core.rotate_cache_key()
        with core.write_lock:
            if owned:
                core.buffer.forget(episode_id)
            deleted = core.store.delete_episode(self.namespace, episode_id)
        core.episodes.drop(self.namespace, episode_id)
        if not deleted and not owned:
            raise NotFoundError("episode", episode_id, self.namespace)
        try:
            core.unindex(self.namespace, episode_id)
            if stored is not None and stored.is_complete:
                core.learning.forget(stored)
        finally:  # the episode is gone from the store: its bytes must go too, with any
            # copy a concurrent read cached meanwhile
            core.episodes.clear() if rotated else core.rotate_cache_key()
            core.store.scrub()

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
            abandoned=count(q(outcome=OutcomeStatus.ABANDONED)),
            pending_steps=self._core.buffer.pending_count(),
            patterns=len(self.list_patterns(limit=MAX_PAGE)),
            heuristics=len(self.list_heuristics(limit=MAX_PAGE)),
            pending_learning=self._core.learning.pending(),
        )

    def reconcile_cache(self) -> int:
        """Drop or refresh cached episodes of this namespace that the store changed or
        deleted (e.g. from another process). Returns how many entries were fixed."""
        self._check_open()
        episodes = self._core.episodes
        ids = episodes.ids(self.namespace)
        current = self._core.store.episode_revisions(self.namespace, ids)
        fixed = 0
        for episode_id in ids:
            cached = episodes.revision(self.namespace, episode_id)
            if cached is not None and current.get(episode_id) == cached:
                continue
            episodes.drop(self.namespace, episode_id)
            fixed += 1
        return fixed

    # -- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Flush buffered steps and release the store and cache. Idempotent. Registered
        flushers (:meth:`register_flusher`) run first."""
        if self._owner:
            if not self._core.closed:
                _flushers(self._core).run()
            self._core.close()

    def register_flusher(self, flush: Callable[[], object]) -> None:
        """Have :meth:`flush` and :meth:`close` call ``flush()`` first, for every handle on
        this store: how a framework handler that holds records (a callback handler, a span
        handler) makes them durable when the memory is flushed. ``flush`` is held weakly
        (a bound method does not keep its object alive); registering it again is a no-op;
        one that raises is logged and the others still run."""
        if not callable(flush):
            raise InvalidInputError(
                f"flush must be callable, not {type(flush).__name__}", field="flush"
            )
        _flushers(self._core).add(flush)

    def __enter__(self) -> SelfLearningMemory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> SelfLearningMemory:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- async twins ------------------------------------------------------------------------

    astart_episode = twin(start_episode)
    alog_step = twin(log_step)
    aflush = twin(flush)
    acomplete_episode = twin(complete_episode)
    aabandon_episode = twin(abandon_episode)
    aget_episode = twin(Handle.get_episode)
    alist_episodes = twin(list_episodes)
    adelete_episode = twin(delete_episode)
    astats = twin(stats)
    areconcile_cache = twin(reconcile_cache)
    aregister_flusher = twin(register_flusher)
    aclose = twin(close)
