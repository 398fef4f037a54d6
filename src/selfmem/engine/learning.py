"""The orchestrator's learning half: learners per namespace, the queue, persistence.

``SelfLearningMemory`` owns one :class:`LearningEngine`. It keeps a
:class:`~selfmem.learning.PatternLearner` per namespace (loaded lazily from the store),
runs learning jobs from the :class:`~selfmem.engine.learning_queue.LearningQueue`, and writes each
job's changed patterns and heuristics in one transaction.

Several processes may learn in one namespace at once. Each write names the namespace's
learning version the learner was loaded at; if another process wrote since, the store
refuses it (:class:`~selfmem.errors.ConflictError`) and the job runs again on a freshly
loaded learner, so no process overwrites counts it has not seen. When the change log shows
that the namespace's learning changed, the learner is reloaded before it next serves
patterns (:meth:`LearningEngine.note_changed`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime

from ..config import LearningConfig
from ..errors import ConflictError
from ..learning import extractors as ex
from ..learning import followed
from ..learning.error_classes import normalize_error
from ..learning.heuristics import derive_heuristic
from ..learning.learner import PatternLearner
from ..learning.state import FamilyRun
from ..records.episodes import Episode
from ..records.learned import AnyPattern, Heuristic, PatternKind, stable_id
from ..retrieval.pattern_ranking import PatternCatalog
from ..storage.base import EpisodeQuery, EpisodeStore, get_episodes
from .learning_queue import LearningQueue
from .observer import NO_OBSERVER, EngineObserver

__all__ = ["FEEDBACK_KEY", "FOLLOWED_KEY", "OFFER_FAMILIES_KEY", "LearningEngine", "teaches"]

logger = logging.getLogger(__name__)

#: Episode metadata key holding the ids of patterns used during the episode.
FEEDBACK_KEY = followed.USED_PATTERNS_KEY
#: Metadata key of an open episode: the past episodes whose plan it followed.
FOLLOWED_KEY = followed.FOLLOWED_KEY
#: Metadata key of an open episode: the changed families whose offers it used.
OFFER_FAMILIES_KEY = followed.OFFER_FAMILIES_KEY
_PAGE = 500
#: How long a learning write refused because another process wrote first keeps being
#: tried again; the pause between tries grows from about 10 ms to at most 0.5 s.
CONFLICT_DEADLINE_S = 120.0


def teaches(episode: Episode) -> bool:
    """Whether an episode is evidence to learn from: completed with a verdict. An abandoned
    run (stopped before it finished) is not: it is kept and listed, but it reaches no
    learner (families, patterns, heuristics, feedback), is not scored, and success
    statistics leave it out. Every path that hands episodes to a learner checks here."""
    return episode.outcome is not None and not episode.outcome.is_abandoned


#: Offered sequences that are not stored, remembered for feedback on them.
OFFERED_KEPT = 4096

#: What a learning job changed: the patterns to write and the ids of patterns to remove.
Change = tuple[list[AnyPattern], list[str]]


class LearningEngine:
    """Learning state shared by every handle on one store."""

    def __init__(
        self,
        store: EpisodeStore,
        config: LearningConfig,
        *,
        inline: bool,
        queue_size: int,
        niceness: int = 0,
        observer: EngineObserver = NO_OBSERVER,
    ) -> None:
        self._store = store
        self._config = config
        self._learners: dict[str, PatternLearner] = {}
        self._versions: dict[str, int] = {}  # the store's learning version of each learner
        self._stale: set[str] = set()  # namespaces another process may have changed
        self._catalogs: dict[str, tuple[PatternLearner, int, PatternCatalog]] = {}
        # sequences offered that are not stored, by (namespace, id): the runs holding them
        # (the nearest runs' vote), so feedback on one reaches those runs, or the changed
        # family they come from (how far its runs got, a guessed repair)
        self._offered: OrderedDict[tuple[str, str], tuple[tuple[str, ...], str | None]] = (
            OrderedDict()
        )
        self.lock = threading.RLock()
        # One learning write at a time; held across the store's write, which ``lock`` is not,
        # so readers of the patterns never wait on the network.
        self._writing = threading.Lock()
        self._queue = LearningQueue(
            self.learn, maxsize=queue_size, inline=inline, niceness=niceness, observer=observer
        )

    # -- learners ---------------------------------------------------------------------------

    def learner(self, namespace: str) -> PatternLearner:
        with self.lock:
            learner = self._learners.get(namespace)
            if learner is None:
                return self._load(namespace)
            if namespace in self._stale:
                self._stale.discard(namespace)
                if self._store.learning_version(namespace) != self._versions.get(namespace):
                    return self._load(namespace, learner.windows())
            return learner

    def _load(
        self, namespace: str, windows: dict[str, list[FamilyRun]] | None = None
    ) -> PatternLearner:
        """A learner with the namespace's stored patterns. ``windows`` (the families' recent
        runs of the learner it replaces) spares fetching each family's history again."""
        return self._install(namespace, *self._fetch(namespace), windows)

    def _fetch(self, namespace: str) -> tuple[int, list[AnyPattern]]:
        """The namespace's learning version and stored patterns (the version read first)."""
        version = self._store.learning_version(namespace)
        return version, list(self._store.load_patterns(namespace))

    def _install(
        self,
        namespace: str,
        version: int,
        patterns: Sequence[AnyPattern],
        windows: dict[str, list[FamilyRun]] | None,
    ) -> PatternLearner:
        learner = PatternLearner(namespace, self._config)
        learner.load(patterns)
        if windows:
            learner.adopt_windows(windows)
        self._learners[namespace] = learner
        self._versions[namespace] = version
        return learner

    def refresh(self, namespace: str) -> None:
        """Reload a loaded learner whose learning another process changed, reading the
        store without holding :attr:`lock` (patterns keep being served meanwhile)."""
        with self.lock:
            if namespace not in self._learners:
                return
            known = self._versions.get(namespace)
        if self._store.learning_version(namespace) == known:
            return
        fetched = self._fetch(namespace)
        with self.lock:
            old = self._learners.get(namespace)
            if old is None or self._versions.get(namespace) != known:
                return  # replaced meanwhile
            self._install(namespace, *fetched, old.windows())
            self._stale.discard(namespace)

    def note_changed(self, namespace: str) -> None:
        """The namespace's learning may have changed elsewhere: check before next use."""
        with self.lock:
            self._stale.add(namespace)

    def catalog(self, namespace: str) -> PatternCatalog:
        """The served patterns of a namespace, ready to rank (cached until they change)."""
        with self.lock:
            learner = self.learner(namespace)
            cached = self._catalogs.get(namespace)
            if cached is not None and cached[0] is learner and cached[1] == learner.version:
                # a pattern's effectiveness depends on the learner's counts only
                return cached[2]
            catalog = PatternCatalog(
                learner.patterns(), learner.families.families.values(), learner.effectiveness
            )
            self._catalogs[namespace] = (learner, learner.version, catalog)
            return catalog

    def relevant(self, episode: Episode) -> list[AnyPattern]:
        """Served patterns that bear on this episode, found by direct key lookups."""
        ns = episode.namespace
        with self.lock:
            learner = self.learner(ns)
            family = learner.family_of(episode)
            ids = []
            if family is not None:
                ids.append(stable_id(ns, PatternKind.TOOL_SEQUENCE.value, family))
                ids.extend(
                    stable_id(ns, PatternKind.DECISION_POINT.value, f"{family}|{tool}")
                    for tool in ex.tool_path(episode)
                )
            ids.extend(
                stable_id(
                    ns, PatternKind.ERROR_RECOVERY.value, f"{s.tool}|{normalize_error(s.error)}"
                )
                for s in episode.steps
                if not s.success
            )
            found = [learner.get(pattern_id) for pattern_id in dict.fromkeys(ids)]
            return [p for p in found if p is not None and learner.is_served(p)]

    # -- jobs -------------------------------------------------------------------------------

    def submit(self, episode: Episode) -> None:
        self._queue.submit(episode)

    def learn(self, episodes: Sequence[Episode]) -> None:
        """Learn from completed episodes and persist what changed: one write per namespace."""
        by_namespace: dict[str, list[Episode]] = {}
        for episode in filter(teaches, episodes):
            by_namespace.setdefault(episode.namespace, []).append(episode)
        for namespace, batch in by_namespace.items():

            def observe(learner: PatternLearner, batch: list[Episode] = batch) -> Change:
                changed: list[AnyPattern] = []
                for episode in batch:
                    self._seed(learner, episode)
                    changed.extend(learner.observe(episode))
                    used = followed.links(episode.metadata, FEEDBACK_KEY)
                    if used:
                        changed.extend(learner.record_feedback(used, ex.succeeded(episode)))
                    changed.extend(self._followed(learner, episode))
                removed = learner.take_removed()
                gone = set(removed)
                return [p for p in changed if p.id not in gone], removed

            self._update(namespace, observe)

    def _update(self, namespace: str, change: Callable[[PatternLearner], Change]) -> None:
        """Apply ``change`` to the namespace's learner and persist it; if another process
        wrote first, reload the learner and apply it again."""
        deadline = time.monotonic() + CONFLICT_DEADLINE_S
        attempt = 0
        while True:
            attempt += 1
            with self._writing:  # the store is written outside ``lock``: see __init__
                with self.lock:
                    learner = self.learner(namespace)
                    windows = learner.windows()  # as they were before this attempt
                    changed, removed = change(learner)
                    write = self._prepare(learner, changed, removed)
                    expected = self._versions.get(namespace)
                try:
                    version = self._store.save_learning(
                        namespace, *write, expected_version=expected
                    )
                except ConflictError:
                    if time.monotonic() > deadline:
                        raise
                    logger.debug("learning of %r changed elsewhere; reloading", namespace)
                    fetched = self._fetch(namespace)
                    with self.lock:
                        self._install(namespace, *fetched, windows)
                else:
                    with self.lock:
                        if self._learners.get(namespace) is learner:
                            self._versions[namespace] = version
                    return
            time.sleep(random.uniform(0, min(0.5, 0.01 * 2 ** min(attempt - 1, 6))))

    def _seed(self, learner: PatternLearner, episode: Episode) -> None:
        """Give the episode's family its recent runs when this learner has not seen them (it
        was loaded from the store): the family's provenance, oldest first."""
        key = learner.family_of(episode)
        if key is None or learner.knows_family(key):
            return
        end = episode.end_time
        wanted = [i for i in learner.family_episode_ids(key) if i != episode.id]
        history = [
            found
            for found in get_episodes(self._store, episode.namespace, wanted).values()
            if found.end_time is not None and (end is None or found.end_time < end)
        ]
        history.sort(key=lambda ep: (ep.end_time or ep.start_time, ep.id))
        learner.seed_family(key, history)

    def forget(self, episode: Episode) -> None:
        """Remove what a deleted episode taught from every pattern and heuristic."""
        self.drain()  # it may still be queued for learning
        if not teaches(episode):
            return  # it taught nothing

        def forget(learner: PatternLearner) -> Change:
            self._seed(learner, episode)
            return learner.forget(episode)

        self._update(episode.namespace, forget)

    def _persist(
        self,
        learner: PatternLearner,
        changed: Sequence[AnyPattern],
        removed_patterns: Sequence[str] = (),
        *,
        checked: bool = True,
    ) -> None:
        """Write what changed, refused if the store moved past this learner's version
        (unless ``checked`` is False)."""
        namespace = learner.namespace
        self._versions[namespace] = self._store.save_learning(
            namespace, *self._prepare(learner, changed, removed_patterns),
            expected_version=self._versions.get(namespace) if checked else None,
        )  # fmt: skip

    @staticmethod
    def _prepare(
        learner: PatternLearner, changed: Sequence[AnyPattern], removed_patterns: Sequence[str]
    ) -> tuple[list[AnyPattern], list[Heuristic], list[str], Sequence[str]]:
        """What :meth:`EpisodeStore.save_learning` takes for these changes: the patterns,
        the served heuristics, the heuristics and the patterns to remove."""
        unique = {p.id: p for p in changed}
        served: list[Heuristic] = []
        removed: list[str] = []
        for pattern in unique.values():
            if learner.is_served(pattern):
                served.append(derive_heuristic(pattern))
            else:
                removed.append(stable_id(pattern.namespace, "heuristic", pattern.id))
        removed.extend(stable_id(learner.namespace, "heuristic", pid) for pid in removed_patterns)
        return list(unique.values()), served, removed, removed_patterns

    def _followed(
        self, learner: PatternLearner, episode: Episode, ids: Sequence[str] | None = None
    ) -> list[AnyPattern]:
        """Count the episode as a run that followed each past episode in ``ids`` (by default
        those its metadata names); returns the families whose records changed."""
        if ids is None:
            ids = followed.links(episode.metadata, FOLLOWED_KEY)
        changed: list[AnyPattern] = []
        for past_id in ids:
            past = self._store.get_episode(episode.namespace, past_id)
            if past is not None and teaches(past):
                family = learner.record_followed(past, episode)
                if family is not None:
                    changed.append(family)
        return changed

    def feedback(
        self, episode: Episode, pattern_ids: Sequence[str], followed: Sequence[str] = ()
    ) -> None:
        """Apply a completed episode's outcome to the patterns it used and to the past
        episodes whose plan it followed (nothing if it was abandoned)."""
        if not teaches(episode):
            return
        success = ex.succeeded(episode)

        def apply(learner: PatternLearner) -> Change:
            changed = learner.record_feedback(pattern_ids, success)
            return [*changed, *self._followed(learner, episode, followed)], []

        self._update(episode.namespace, apply)

    def offered(
        self,
        namespace: str,
        pattern_id: str,
        episode_ids: Sequence[str] = (),
        family: str | None = None,
    ) -> None:
        """Remember an offered sequence that is not stored: the runs holding it, whose
        followers a run that uses it becomes, or the changed ``family`` whose runs it came
        from, whose run a run that uses it becomes (the latest ``OFFERED_KEPT``)."""
        with self.lock:
            self._offered[(namespace, pattern_id)] = (tuple(episode_ids), family)
            self._offered.move_to_end((namespace, pattern_id))
            while len(self._offered) > OFFERED_KEPT:
                self._offered.popitem(last=False)

    def runs_behind(self, namespace: str, pattern_ids: Sequence[str]) -> list[str]:
        """The runs holding these offered sequences that are not stored (see
        :meth:`offered`); nothing for other ids."""
        with self.lock:
            found = (self._offered.get((namespace, i), ((), None))[0] for i in pattern_ids)
            return list(dict.fromkeys(run for runs in found for run in runs))

    def offer_families(self, namespace: str, pattern_ids: Sequence[str]) -> list[str]:
        """The changed families whose runs these offered sequences came from (see
        :meth:`offered`)."""
        with self.lock:
            found = (self._offered.get((namespace, i), ((), None))[1] for i in pattern_ids)
            return list(dict.fromkeys(key for key in found if key is not None))

    def pattern_ids_for(self, namespace: str, heuristic_ids: Sequence[str]) -> list[str]:
        """The patterns behind heuristics (a heuristic's id derives from its pattern's)."""
        wanted = set(heuristic_ids)
        with self.lock:
            return [
                p.id
                for p in self.learner(namespace).all_patterns()
                if stable_id(namespace, "heuristic", p.id) in wanted
            ]

    def relearn(self, namespace: str, progress: Callable[[int, int], None] | None) -> int:
        """Rebuild the namespace's patterns and heuristics from every stored episode."""
        self.drain()
        total = self._store.count_episodes(EpisodeQuery(namespace, completed_only=True))
        return self.relearn_from(namespace, self.stored_pages(namespace, total), progress, total)

    def stored_pages(
        self, namespace: str, total: int | None = None, until: tuple[float, str] | None = None
    ) -> Iterator[list[Episode]]:
        """The namespace's completed episodes, oldest first, a page at a time (keyed by
        ``(start_time, id)``, so every page costs the same): ``total`` of them at most, and
        none after the key ``until`` (a Unix ``start_time`` and an id)."""
        done = 0
        after: tuple[datetime, str] | None = None
        while total is None or done < total:
            page = self._store.list_episodes(
                EpisodeQuery(namespace, completed_only=True, oldest_first=True,
                             limit=_PAGE, after=after)
            )  # fmt: skip
            if until is not None:
                page = [e for e in page if (e.start_time.timestamp(), e.id) <= until]
            if not page:
                return
            after = (page[-1].start_time, page[-1].id)
            done += len(page)
            yield page

    @staticmethod
    def reads_followed(episode: Episode) -> bool:
        """Whether learning ``episode`` reads the past episodes it followed from the store."""
        return bool(followed.links(episode.metadata, FOLLOWED_KEY))

    def relearn_from(
        self,
        namespace: str,
        pages: Iterable[Sequence[Episode]],
        progress: Callable[[int, int], None] | None,
        total: int = 0,
    ) -> int:
        """Rebuild the namespace's patterns and heuristics from ``pages`` of completed
        episodes given oldest first (``relearn``'s from the store; an import's as it checks
        them), replacing what was stored once the last page is learned. ``progress(done,
        total)`` after each page. Returns the episodes seen."""
        learner = PatternLearner(namespace, self._config)
        done = 0
        with self.lock:
            for page in pages:
                for episode in filter(teaches, page):
                    learner.observe(episode, defer_sequences=True)
                    used = followed.links(episode.metadata, FEEDBACK_KEY)
                    if used:
                        learner.record_feedback(used, ex.succeeded(episode))
                    self._followed(learner, episode)
                learner.settle_sequences()  # once per page, not once per episode
                learner.take_removed()  # merged away: the store is rewritten below anyway
                done += len(page)
                if progress is not None:
                    progress(done, max(total, done))
            self._store.clear_learning(namespace)
            self._persist(learner, learner.all_patterns(), checked=False)
            self._learners[namespace] = learner
        return done

    # -- lifecycle --------------------------------------------------------------------------

    def drain(self) -> None:
        self._queue.drain()

    @property
    def failed(self) -> list[str]:
        return list(self._queue.failed)

    def pending(self) -> int:
        return self._queue.pending()

    def close(self) -> None:
        self._queue.close()
