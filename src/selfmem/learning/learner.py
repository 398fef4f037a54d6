"""The pattern learner: merges per-episode observations into patterns, incrementally.

Pure in-memory state, no I/O: the orchestrator loads stored patterns into it, feeds it
completed episodes, and persists the patterns each call reports as changed.

Every episode first joins a task family (:mod:`.families`), found from the task itself.
Sequences, decision points and context patterns are learned inside families; error
recoveries are learned per tool and error class (the records and the counting:
:mod:`.pattern_counts`). Observing an episode and forgetting a deleted one are the same
counting with opposite signs (:meth:`PatternLearner._count_all`), so what an episode taught
is exactly what its deletion removes. Which patterns are served is decided by
:mod:`.serving`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime

from ..config import LearningConfig
from ..records.episodes import Episode, TaskContext, utc_now
from ..records.learned import (
    AnyPattern,
    ErrorRecovery,
    PatternKind,
    ToolSequence,
    stable_id,
)
from . import counting, followed, merging, serving
from . import extractors as ex
from .changes import continued, new_way_runs, repaired_sequence, runs_since_change
from .families import SAMPLE_CHARS, FamilyIndex, stated_context, task_terms
from .idle import idle_tools
from .pattern_counts import PatternCounts
from .settling import settle
from .state import FamilyRun, Tally
from .word_split import HELD_RUNS, HeldRuns, dividing_term

__all__ = ["PatternLearner"]

#: A family is compared with the others for a merge after each of its first runs up to this
#: many, then after every this-many runs.
_TWIN_EVERY_RUN = 16


#: Runs whose family :meth:`PatternLearner.family_of` remembers while the learner is unchanged.
_FAMILY_MEMO = 65_536


class PatternLearner:
    """Incremental learner for one namespace."""

    def __init__(self, namespace: str, config: LearningConfig | None = None) -> None:
        self.namespace = namespace
        self.config = config or LearningConfig()
        self._counts = PatternCounts(namespace, self.config)
        self._patterns = self._counts.patterns  # the same dict
        self.families = FamilyIndex(self.config.family_min_similarity)
        self._runs: dict[str, deque[FamilyRun]] = {}
        self._deferred: set[str] = set()
        self._served: tuple[int, set[str]] = (-1, set())
        self._state_errors: tuple[int, set[str]] = (-1, set())
        self._idle: tuple[int, set[str]] = (-1, set())
        self._tests = serving.Tests()
        self._dirty: set[str] = set()  # families counted since the last serving pass
        self._removed: list[str] = []  # ids of patterns merged away, until taken
        #: Bumped by every change to the patterns, so readers can cache what they derive.
        self.version = 0
        self._family_memo: tuple[int, dict[str, str | None]] = (-1, {})
        self._held = HeldRuns()  # the episodes of young families (see :mod:`.word_split`)
        self._seeded: set[str] = set()  # families given their history from the store

    # -- state ------------------------------------------------------------------------------

    def load(self, patterns: Iterable[AnyPattern]) -> None:
        """Adopt stored patterns (e.g. on open)."""
        self.version += 1
        self._tests.complete = False  # the next serving pass tests every pattern
        for pattern in patterns:
            self._patterns[pattern.id] = pattern
            if isinstance(pattern, ToolSequence) and pattern.members.n > 0:
                self.families.add(pattern)

    def windows(self) -> dict[str, list[FamilyRun]]:
        """A copy of every family's recent runs (to carry over into a reloaded learner)."""
        return {key: list(runs) for key, runs in self._runs.items()}

    def adopt_windows(self, windows: dict[str, list[FamilyRun]]) -> None:
        """Take families' recent runs from an earlier learner of this namespace."""
        for key, runs in windows.items():
            self._runs[key] = deque(runs, maxlen=self.config.max_family_runs)

    def knows_family(self, key: str) -> bool:
        """Whether the learner holds the family's recent runs and, while it is young, its
        episodes (or was given them: :meth:`seed_family`)."""
        family = self.families.families.get(key)
        return key in self._runs and (
            family is None
            or family.members.n > HELD_RUNS
            or key in self._seeded
            or self._held.of(key, family.members.n) is not None
        )

    def seed_family(self, key: str, episodes: Iterable[Episode]) -> None:
        """Give a family its recent history (oldest first) without re-counting patterns."""
        known = key in self._runs
        runs, family = self._window(key), self.families.families.get(key)
        episodes = list(episodes)
        self._seeded.add(key)
        self._held.seed(key, episodes, family.members.n if family is not None else 0)
        for episode in episodes if not known else ():
            runs.append(ex.family_run(episode))

    def family_of(self, episode: Episode) -> str | None:
        """The family an episode belongs (or would belong) to, without learning from it.
        Remembered until the learner changes (a retrieval asks it of every run it looks
        at, and comparing a run with the families costs far more than a lookup)."""
        version, memo = self._family_memo
        if version != self.version:
            memo = {}
            self._family_memo = (self.version, memo)
        elif episode.id in memo:
            return memo[episode.id]
        found = next(
            (key for key, family in self.families.families.items()
             if episode.id in family.episode_ids),
            None,
        ) or self.families.best(episode)  # fmt: skip
        if len(memo) < _FAMILY_MEMO:
            memo[episode.id] = found
        return found

    def new_way_runs(self, key: str) -> list[str]:
        """Ids of the family's successful runs since its procedure changed, newest first
        (:func:`.changes.new_way_runs`)."""
        family = self.families.families.get(key)
        return new_way_runs(family, self._runs.get(key, ())) if family is not None else []

    def runs_since_change(self, key: str) -> list[str]:
        """Ids of the family's runs, of any outcome, since its procedure changed, newest
        first (none when it has not changed)."""
        family = self.families.families.get(key)
        return runs_since_change(family, self._runs.get(key, ())) if family is not None else []

    def repaired_sequence(self, key: str) -> tuple[tuple[str, ...], list[str]] | None:
        """A changed family's old sequence with its broken steps replaced by what worked in
        their place since, and the runs since (:func:`.changes.repaired_sequence`)."""
        family = self.families.families.get(key)
        if family is None:
            return None
        return repaired_sequence(
            family, self._runs.get(key, ()), self.config, self.idle_tools(), self.state_errors()
        )

    def continued(self, key: str, found: Sequence[str]) -> tuple[str, ...] | None:
        """How far a changed family's runs got since, then the rest of its old way
        (:func:`.changes.continued`)."""
        family = self.families.families.get(key)
        if family is None:
            return None
        return continued(found, family, self._runs.get(key, ()), self.config)

    def family_episode_ids(self, key: str) -> list[str]:
        """The most recent episodes of a family (its provenance), oldest first."""
        family = self.families.families.get(key)
        return list(family.episode_ids) if family is not None else []

    def get(self, pattern_id: str) -> AnyPattern | None:
        return self._patterns.get(pattern_id)

    def all_patterns(self) -> list[AnyPattern]:
        return list(self._patterns.values())

    def _window(self, key: str) -> deque[FamilyRun]:
        return self._runs.setdefault(key, deque(maxlen=self.config.max_family_runs))

    # -- learning and forgetting ------------------------------------------------------------

    def observe(self, episode: Episode, *, defer_sequences: bool = False) -> list[AnyPattern]:
        """Learn from one completed episode; returns the patterns that changed.

        ``defer_sequences`` (for bulk relearning) only records the run; tool sequences of
        the touched families are then worked out once by :meth:`settle_sequences`.
        """
        if episode.outcome is None:
            raise ValueError("the learner needs a completed episode")
        self.version += 1
        key = followed.family_followed(episode, self._patterns, self.families)
        key = key or self.families.best(episode)
        family = self._family(key, episode)
        self._window(family.key).append(ex.family_run(episode))
        changed = self._count_all(family, episode, +1)
        self._held.add(family.key, episode, family.members.n)
        if ex.succeeded(episode):
            changed += self._split_by_words(family, defer_sequences)
        if defer_sequences:
            self._deferred.add(family.key)
        else:
            self._settle(family)
        return changed + self._merge_twin(family, defer_sequences)

    def _split_by_words(self, family: ToolSequence, defer: bool) -> list[AnyPattern]:
        """Move a young family's runs whose words decide a tool choice into a family of
        their own, which the two never merge back from (:mod:`.word_split`)."""
        held = self._held.of(family.key, family.members.n)
        term = dividing_term(held, self.config.fdr_q) if held else None
        if held is None or term is None:
            return []
        self.version += 1
        moving = self._held.take(family.key, term)
        changed: set[str] = {family.id}
        removed: list[str] = []
        for episode in moving:
            found, gone = self._uncount(family, episode)
            changed.update(p.id for p in found)
            removed += gone
        if term in task_terms(family.sample_task):  # a moved run's: one of those staying
            family.sample_task = self._held.first_task(family.key)[:SAMPLE_CHARS]
        first = next(e for e in moving if f"family:{e.id}" != family.key)
        split = self._family(None, first)
        for episode in moving:
            self._window(split.key).append(ex.family_run(episode))
            changed.update(p.id for p in self._count_all(split, episode, +1))
            self._held.add(split.key, episode, split.members.n)
        family.apart.append(split.key)
        split.apart.append(family.key)
        for each in (family, split):
            self._deferred.add(each.key) if defer else self._settle(each)
        self._removed += [i for i in removed if i not in self._patterns]  # not counted again
        return [self._patterns[i] for i in sorted(changed) if i in self._patterns]

    def take_removed(self) -> list[str]:
        """Ids of the patterns that learning removed (merged into others) since last asked:
        the caller deletes them from the store."""
        removed, self._removed = self._removed, []
        return removed

    def _merge_twin(self, family: ToolSequence, defer: bool) -> list[AnyPattern]:
        """Merge the family with one that has become the same kind of task (see
        :meth:`FamilyIndex.twin`): the larger keeps its key (the older on a tie), the
        other's decision and context patterns join their counterparts, and its records are
        removed. Families whose recent runs this learner does not hold are left alone.
        Checked after each of a family's first ``_TWIN_EVERY_RUN`` runs, then after every
        ``_TWIN_EVERY_RUN``-th."""
        members = family.members.n
        if members > _TWIN_EVERY_RUN and members % _TWIN_EVERY_RUN:
            return []  # comparing profiles costs; a large family changes slowly
        other_key = self.families.twin(family)
        if other_key is None or family.key not in self._runs or other_key not in self._runs:
            return []
        other = self.families.families[other_key]
        keep, gone = sorted((family, other), key=lambda f: (-f.members.n, f.key))
        runs = merging.merged_runs(self._runs[keep.key], self._runs.pop(gone.key))
        order = {run.episode_id: i for i, run in enumerate(runs)}
        self._runs[keep.key] = deque(runs, maxlen=self.config.max_family_runs)
        self._dirty.update((gone.key, keep.key))
        self.families.remove(gone.key)
        self.families.remove(keep.key)
        merging.absorb_profile(keep, gone, order)
        self._held.merge(keep.key, gone.key)
        merging.absorb_apart(keep, gone, self.families.families.values())
        stated_context(keep)
        self.families.add(keep)
        changed: list[AnyPattern] = [keep]
        moving = [p for p in self._patterns.values() if merging.moves_with_family(p, gone.key)]
        for pattern in [*moving, gone]:
            del self._patterns[pattern.id]
            self._removed.append(pattern.id)
        for pattern in moving:
            changed.append(self._move(pattern, gone.key, keep.key, order))
        self._deferred.discard(gone.key)
        if defer:
            self._deferred.add(keep.key)
        else:
            self._settle(keep)
        self.version += 1
        return changed

    def _move(self, pattern: AnyPattern, gone: str, keep: str, order: dict[str, int]) -> AnyPattern:
        key = merging.rekey(pattern.key, gone, keep)
        target_id = stable_id(self.namespace, pattern.kind.value, key)
        target = self._patterns.get(target_id)
        if target is None:
            target = pattern.model_copy(
                update={"id": target_id, "key": key, "family": keep,
                        "episode_ids": list(pattern.episode_ids)}
            )  # fmt: skip
            self._patterns[target_id] = target
        else:
            merging.absorb(target, pattern, order)
        return target

    def forget(self, episode: Episode) -> tuple[list[AnyPattern], list[str]]:
        """Undo what one deleted episode taught. Returns (changed patterns, removed ids).

        Counts, provenance and sums lose the episode; a pattern left with no support is
        removed entirely, so nothing derived only from the episode survives it.
        """
        self.version += 1
        unfollowed: list[AnyPattern] = [
            f for f in self.families.families.values() if followed.forget(f, episode.id)
        ]
        key = self.family_of(episode)
        family = self.families.families.get(key) if key else None
        if family is None:
            return unfollowed, []
        self._held.drop(family.key, [episode.id])
        changed, removed = self._uncount(family, episode)
        self._settle(family)
        gone = set(removed)
        return [p for p in [*unfollowed, *changed] if p.id not in gone], removed

    def _uncount(
        self, family: ToolSequence, episode: Episode
    ) -> tuple[list[AnyPattern], list[str]]:
        """Take an episode out of its family and every pattern it counts in. Returns the
        patterns that changed and the ids of those it left without support (removed)."""
        runs = self._runs.get(family.key)
        if runs is not None:
            kept = [run for run in runs if run.episode_id != episode.id]
            self._runs[family.key] = deque(kept, maxlen=self.config.max_family_runs)
        changed = self._count_all(family, episode, -1)
        removed = []
        for pattern in changed:
            pattern.episode_ids = [i for i in pattern.episode_ids if i != episode.id]
            if pattern.support <= 0 and not (
                isinstance(pattern, ToolSequence) and pattern.members.n > 0
            ):
                del self._patterns[pattern.id]
                removed.append(pattern.id)
        if family.members.n <= 0:
            self.families.remove(family.key)
            self._runs.pop(family.key, None)
        return changed, removed

    def _family(self, key: str | None, episode: Episode) -> ToolSequence:
        if key is not None:
            return self.families.families[key]
        new_key = f"family:{episode.id}"
        family = self._counts.touch(ToolSequence, new_key, episode)
        self.families.add(family)
        return family

    def _count_all(self, family: ToolSequence, episode: Episode, sign: int) -> list[AnyPattern]:
        changed: dict[str, AnyPattern] = {family.id: family}
        self._dirty.add(family.key)
        self.families.count(family, episode, sign)
        tally = Tally.of(episode, ex.succeeded(episode))
        if sign > 0:
            counting.note(family, episode, tally)
            stated_context(family, self.families.context_counts(family))
        counted: list[AnyPattern] = [
            *self._counts.decisions(family.key, episode, tally, sign),
            *self._counts.errors(episode, tally, sign),
            *self._counts.context(family.key, episode, tally, sign),
        ]
        changed.update((pattern.id, pattern) for pattern in counted)
        return list(changed.values())

    # -- tool sequences ---------------------------------------------------------------------

    def settle_sequences(self) -> list[ToolSequence]:
        """Work out the tool sequences of families whose runs were deferred."""
        self.version += 1
        changed = []
        for key in sorted(self._deferred):
            family = self.families.families.get(key)
            if family is not None:
                self._settle(family)
                changed.append(family)
        self._deferred.clear()
        return changed

    def _settle(self, family: ToolSequence) -> None:
        settle(family, list(self._runs.get(family.key, ())), self.config)

    # -- serving ----------------------------------------------------------------------------

    def _discoveries(self) -> set[str]:
        version, found = self._served
        if version != self.version:
            found = serving.discoveries(
                self._patterns, self.families.families, self.config, self._tests, self._dirty
            )
            self._dirty = set()
            conditional = serving.conditional_tools(
                [self._patterns[i] for i in sorted(found)], self.families.families
            )
            for key, family in self.families.families.items():
                wanted = conditional.get(key, {})
                if wanted != family.conditional:
                    family.conditional = wanted
                    if key in self._runs:
                        self._settle(family)
                    else:  # loaded without its recent runs: keep the counts, drop the tools
                        family.tools = [tool for tool in family.tools if tool not in wanted]
            self._served = (self.version, found)
        return found

    def is_served(self, pattern: AnyPattern, now: datetime | None = None) -> bool:
        """Whether a pattern has earned its place in recommendations."""
        cfg = self.config
        if pattern.retired:
            return False
        if isinstance(pattern, ToolSequence):
            self._discoveries()  # may move feature-specific tools out of the sequence
            ok = serving.sequence_served(pattern, cfg)
        elif isinstance(pattern, ErrorRecovery):
            state = pattern.error_class in self.state_errors()
            if pattern.best_recovery is not None:  # a state error's tool was not replaced
                ok = not (state and pattern.best_mode == "replace")
            else:
                ok = serving.unrecoverable(pattern, cfg) and not state
        else:
            ok = pattern.id in self._discoveries()
        return ok and pattern.effectiveness(now, cfg.half_life_days) >= cfg.min_effectiveness

    def idle_tools(self) -> set[str]:
        """Tools that work in any state (see :func:`.idle.idle_tools`); none unless calls
        out of turn fail in this namespace (some error class is a state error, raised by
        many tools: see :meth:`state_errors`), since only then does a tool that never failed
        stand out."""
        version, found = self._idle
        if version != self.version:
            found = set()
            if self.state_errors():
                families = self.families.families.values()
                found = idle_tools(families, self._runs.values(), self.config)
            self._idle = (self.version, found)
        return found

    def state_errors(self) -> set[str]:
        """Error classes that many different tools raised (:func:`serving.state_errors`)."""
        version, found = self._state_errors
        if version != self.version:
            recoveries = [p for p in self._patterns.values() if isinstance(p, ErrorRecovery)]
            found = serving.state_errors(recoveries)
            self._state_errors = (self.version, found)
        return found

    def patterns(
        self, kind: PatternKind | None = None, *, served_only: bool = True
    ) -> list[AnyPattern]:
        """Patterns, most effective first."""
        found = [
            p
            for p in self._patterns.values()
            if (kind is None or p.kind == kind) and (not served_only or self.is_served(p))
        ]
        now = utc_now()  # one moment for all: patterns alike but for their id keep one order
        found.sort(key=lambda p: (p.effectiveness(now), p.support, p.id), reverse=True)
        return found

    # -- feedback ---------------------------------------------------------------------------

    def record_feedback(self, pattern_ids: Iterable[str], success: bool) -> list[AnyPattern]:
        """Count a use of each pattern in an episode with this outcome.

        A pattern is retired once it has ``retire_min_uses`` uses and the upper confidence
        bound of its success rate in use is below ``retire_below_upper_bound`` (five uses
        that all failed are enough).
        """
        self.version += 1
        changed = []
        for pattern_id in dict.fromkeys(pattern_ids):
            pattern = self._patterns.get(pattern_id)
            if pattern is not None:
                serving.count_use(pattern, success, self.config)
                changed.append(pattern)
        return changed

    def record_followed(self, past: Episode, follower: Episode) -> ToolSequence | None:
        """Count a run that followed a past episode's plan (see :mod:`.followed`; a follower
        in another setting with that setting); returns the past episode's family, whose
        record changed (None: it has no family)."""
        key = self.family_of(past)
        family = self.families.families.get(key) if key else None
        if family is None or past.id == follower.id:
            return None
        self.version += 1
        where = "" if followed.same_setting(past, follower) else followed.setting(follower.context)
        followed.note(family, past.id, follower.id, ex.succeeded(follower), where)
        return family

    def failed_when_followed(
        self, episodes: Iterable[Episode], context: TaskContext | None = None
    ) -> set[str]:
        """Ids of the episodes whose latest followers all failed; with a task's
        ``context``, also those whose latest followers in its setting, another than
        theirs, all failed (:func:`.followed.failed_among`)."""
        if not any(f.followed for f in self.families.families.values()):
            return set()

        def family(episode: Episode) -> ToolSequence | None:
            key = self.family_of(episode)
            return self.families.families.get(key) if key else None

        return followed.failed_among(episodes, family, context)
