"""A namespace's task families, and the counting of episodes into them and out of them.

:class:`FamilyCounting` holds what the pattern learner (:mod:`.learner`) keeps of each
family: its record and patterns, its recent runs (the window sequences are worked out from)
and, while it is young, its episodes (:mod:`.word_split`). It counts an episode into a family
and out of it with opposite signs, and regroups families: two that have become the same kind
of task are merged, and a young family whose tool choice the tasks' words decide is divided.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from ..config import LearningConfig
from ..records.episodes import Episode
from ..records.learned import MAX_PROVENANCE, AnyPattern, ToolSequence, stable_id
from . import ageing, counting, followed, merging
from . import extractors as ex
from .families import SAMPLE_CHARS, FamilyIndex, task_terms
from .pattern_counts import PatternCounts
from .settling import settle
from .state import FamilyRun, Tally
from .stated_context import stated_context
from .word_split import HELD_RUNS, HeldRuns, by_end, dividing_terms

__all__ = ["FamilyCounting"]

#: A family is compared with the others for a merge after each of its first runs up to this
#: many, then after every this-many runs.
_TWIN_EVERY_RUN = 16
#: A young family that gained no run over this many observed episodes is quiet: its runs are
#: compared with the other families then, and again each time its quiet has doubled.
_QUIET_RUNS = 64
#: A family's runs are also compared with the other families when it reaches these sizes.
_RECHECK_AT = (8, 16, 32)


class FamilyCounting:
    """The families of one namespace and the patterns counted within them."""

    def __init__(self, namespace: str, config: LearningConfig | None = None) -> None:
        self.namespace = namespace
        self.config = config or LearningConfig()
        self._counts = PatternCounts(namespace, self.config)
        self._patterns = self._counts.patterns  # the same dict
        self.families = FamilyIndex(self.config.family_min_similarity)
        self._runs: dict[str, deque[FamilyRun]] = {}
        self._held = HeldRuns()  # the episodes of young families (see :mod:`.word_split`)
        self._deferred: set[str] = set()
        self._dirty: set[str] = set()  # families counted since the last serving pass
        self._removed: list[str] = []  # ids of patterns merged away, until taken
        self._observed = 0  # episodes observed by this learner
        self._joined: dict[str, int] = {}  # per family: ``_observed`` when it last gained a run
        self._quiet_checked: dict[str, int] = {}  # per family: how quiet when last compared
        #: Bumped by every change to the patterns, so readers can cache what they derive.
        self.version = 0

    # -- recent runs --------------------------------------------------------------------------

    def windows(self) -> dict[str, list[FamilyRun]]:
        """A copy of every family's recent runs (to carry over into a reloaded learner)."""
        return {key: list(runs) for key, runs in self._runs.items()}

    def adopt_windows(self, windows: dict[str, list[FamilyRun]]) -> None:
        """Take families' recent runs from an earlier learner of this namespace. A family
        small enough that its provenance names every run keeps only those: another process
        may have moved runs out of it (:meth:`_split_by_words`)."""
        for key, runs in windows.items():
            family = self.families.families.get(key)
            if family is not None and family.members.n <= MAX_PROVENANCE:
                members = set(family.episode_ids)
                runs = [run for run in runs if run.episode_id in members]
            self._runs[key] = deque(runs, maxlen=self.config.max_family_runs)

    def knows_family(self, key: str) -> bool:
        """Whether the learner holds the family's recent runs and, while it is young, all
        its episodes (else the caller gives them: :meth:`seed_family`)."""
        family = self.families.families.get(key)
        return key in self._runs and (
            family is None
            or family.members.n > HELD_RUNS
            or self._held.of(key, family.members.n) is not None
        )

    def seed_family(self, key: str, episodes: Iterable[Episode]) -> None:
        """Give a family its recent history (oldest first) without re-counting patterns."""
        known = key in self._runs
        runs, family = self._window(key), self.families.families.get(key)
        episodes = list(episodes)
        self._held.seed(key, episodes, family.members.n if family is not None else 0)
        for episode in episodes if not known else ():
            runs.append(ex.family_run(episode))

    def family_episode_ids(self, key: str) -> list[str]:
        """The recent runs of a family: those its sequence was last counted over
        (``ToolSequence.recent``) and its provenance (the window of a learner that deleted a
        run before it had seen the family's others may lack some)."""
        family = self.families.families.get(key)
        if family is None:
            return []
        return list(dict.fromkeys([*family.recent, *family.episode_ids]))

    def _window(self, key: str) -> deque[FamilyRun]:
        return self._runs.setdefault(key, deque(maxlen=self.config.max_family_runs))

    # -- regrouping ----------------------------------------------------------------------------

    def _split_by_words(self, family: ToolSequence, defer: bool) -> list[AnyPattern]:
        """Move a young family's runs whose words decide a tool choice into a family of
        their own, which the two never merge back from (:mod:`.word_split`). Error
        recoveries, learned per tool and not per family, are left as they are."""
        held = self._held.of(family.key, family.members.n)
        words = dividing_terms(held, self.config.fdr_q) if held else None
        if held is None or words is None:
            return []
        self.version += 1
        moving = sorted(self._held.take(family.key, words), key=by_end)
        changed: set[str] = {family.id}
        removed: list[str] = []
        for episode in moving:
            found, gone = self._uncount(family, episode, whole=False)
            changed.update(p.id for p in found)
            removed += gone
        if set(words) & set(task_terms(family.sample_task)):  # a moved run's: one staying
            family.sample_task = self._held.first_task(family.key)[:SAMPLE_CHARS]
        split = self._family(None, moving[0], self._new_key(f"family:{moving[0].id}/{words[0]}"))
        self._joined[split.key] = self._observed
        for episode in moving:
            self._window(split.key).append(ex.family_run(episode))
            tally = Tally.of(episode, ex.succeeded(episode))
            changed.update(p.id for p in self._count_family(split, episode, tally, +1))
            self._held.add(split.key, episode, split.members.n)
        followed.move(family, split, [episode.id for episode in moving])
        for key in family.apart:  # what the family was divided from, its part was too
            other = self.families.families.get(key)
            if other is not None:
                other.apart.append(split.key)
                changed.add(other.id)
        split.apart = [family.key, *family.apart]
        family.apart.append(split.key)
        for each in (family, split):
            self._deferred.add(each.key) if defer else self._settle(each)
        self._removed += removed
        return [self._patterns[i] for i in sorted(changed) if i in self._patterns]

    def _joins(self, key: str) -> None:
        """Family ``key`` gained an observed run."""
        self._observed += 1
        self._joined[key] = self._observed
        self._quiet_checked.pop(key, None)

    def _regroup(self, family: ToolSequence, defer: bool) -> list[AnyPattern]:
        """Give the runs of a young family to the families that now take them in better
        (:meth:`_rehome`): the family an episode just joined when it reaches one of the sizes
        ``_RECHECK_AT``, and every ``_QUIET_RUNS`` observed episodes, the quiet ones. The
        first runs of a namespace form families while there are few to join: some mix
        several tasks, and once each task has a family of its own, no run joins them again."""
        changed: list[AnyPattern] = []
        if self.families.families.get(family.key) is family and family.members.n in _RECHECK_AT:
            changed += self._rehome(family.key, defer)
        if self._observed % _QUIET_RUNS:
            return changed
        for key in self._held.families():
            quiet = self._observed - self._joined.get(key, 0)
            if quiet >= max(_QUIET_RUNS, 2 * self._quiet_checked.get(key, 0)):
                self._quiet_checked[key] = quiet
                changed += self._rehome(key, defer)
        for key in [k for k in self._joined if k not in self.families.families]:
            del self._joined[key]
            self._quiet_checked.pop(key, None)
        return list({pattern.id: pattern for pattern in changed}.values())

    def _rehome(self, key: str, defer: bool) -> list[AnyPattern]:
        """Move each successful run of a young family that another family would take in
        better than the family's other runs do (:meth:`FamilyIndex.elsewhere`,
        :meth:`FamilyIndex.fit_without`) to that family, oldest first; a family left without
        runs is removed. A failed run did only part of its task, so it says less about which
        task it was; runs the agent said followed the family's plan stay
        (:func:`.followed.family_followed`)."""
        family = self.families.families.get(key)
        held = self._held.of(key, family.members.n) if family is not None else None
        if family is None or held is None:
            return []
        changed: list[AnyPattern] = []
        touched: set[str] = set()
        for episode, _terms in sorted(held, key=lambda item: by_end(item[0])):
            if not ex.succeeded(episode):
                continue
            if followed.family_followed(episode, self._patterns, self.families) == key:
                continue
            found = self.families.elsewhere(episode, family)
            if found is None or found[1] not in self._runs:
                continue
            if found[0] > self.families.fit_without(episode, family):
                changed += self._move_run(episode, family, self.families.families[found[1]])
                touched.update((key, found[1]))
        for each in sorted(touched):
            self._deferred.add(each) if defer else self._settle_key(each)
        return changed

    def _move_run(
        self, episode: Episode, family: ToolSequence, target: ToolSequence
    ) -> list[AnyPattern]:
        """Move one run, with every count it makes within its family, to family ``target``."""
        self.version += 1
        self._held.drop(family.key, [episode.id])
        changed, removed = self._uncount(family, episode, whole=False)
        runs = merging.merged_runs(self._runs[target.key], [ex.family_run(episode)])
        self._runs[target.key] = deque(runs, maxlen=self.config.max_family_runs)
        tally = Tally.of(episode, ex.succeeded(episode))
        counted = self._count_family(target, episode, tally, +1)
        order = {run.episode_id: i for i, run in enumerate(runs)}
        for pattern in counted:  # the moved run is older than the target's latest
            pattern.episode_ids.sort(key=lambda i: order.get(i, -1))
        changed += counted
        self._held.add(target.key, episode, target.members.n)
        followed.move(family, target, [episode.id])
        if family.members.n <= 0:
            self._patterns.pop(family.id, None)
            removed.append(family.id)
            self._deferred.discard(family.key)
            self._held.drop(family.key)
        self._removed += removed
        return [p for p in changed if p.id in self._patterns]

    def _settle_key(self, key: str) -> None:
        family = self.families.families.get(key)
        if family is not None:
            self._settle(family)

    def _new_key(self, key: str) -> str:
        """``key``, or with a number after it if a family of that key exists already."""
        found, number = key, 1
        while self._counts.id(ToolSequence, found) in self._patterns:
            number += 1
            found = f"{key}.{number}"
        return found

    def take_removed(self) -> list[str]:
        """Ids of the patterns that learning removed (merged into others) since last asked:
        the caller deletes them from the store."""
        removed, self._removed = self._removed, []
        return [i for i in dict.fromkeys(removed) if i not in self._patterns]  # or made again

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
        apart = merging.absorb_apart(keep, gone, self.families.families.values())
        stated_context(keep)
        self.families.add(keep)
        changed: list[AnyPattern] = [keep, *apart]
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

    # -- counting -------------------------------------------------------------------------------

    def _uncount(
        self, family: ToolSequence, episode: Episode, *, whole: bool = True
    ) -> tuple[list[AnyPattern], list[str]]:
        """Take an episode out of its family and every pattern it counts in (not ``whole``:
        only those of its family). Returns the patterns that changed and the ids of those it
        left without support (removed)."""
        runs = self._runs.get(family.key)
        if runs is not None:
            kept = [run for run in runs if run.episode_id != episode.id]
            self._runs[family.key] = deque(kept, maxlen=self.config.max_family_runs)
        if whole:
            changed = self._count_all(family, episode, -1)
        else:
            tally = Tally.of(episode, ex.succeeded(episode))
            changed = self._count_family(family, episode, tally, -1)
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
        elif family.sample_task == episode.task_description[:SAMPLE_CHARS]:
            # the words of a deleted or moved run do not stay: a held run's, or none
            family.sample_task = self._held.first_task(family.key)[:SAMPLE_CHARS]
        return changed, removed

    def _family(self, key: str | None, episode: Episode, new_key: str = "") -> ToolSequence:
        """Family ``key``, or a new one started by the episode (keyed ``new_key``)."""
        if key is not None:
            return self.families.families[key]
        new_key = new_key or f"family:{episode.id}"
        family = self._counts.touch(ToolSequence, new_key, episode)
        self.families.add(family)
        return family

    def _count_all(self, family: ToolSequence, episode: Episode, sign: int) -> list[AnyPattern]:
        """Count an episode in (``sign`` 1) or out (-1) of its family and every pattern it
        bears on; returns those patterns."""
        tally = Tally.of(episode, ex.succeeded(episode))
        counted = self._count_family(family, episode, tally, sign)
        counted += self._counts.errors(episode, tally, sign)
        return list({pattern.id: pattern for pattern in counted}.values())

    def _count_family(
        self, family: ToolSequence, episode: Episode, tally: Tally, sign: int
    ) -> list[AnyPattern]:
        """The family's part of :meth:`_count_all`: its profile, decisions and context
        patterns."""
        self._dirty.add(family.key)
        self.families.count(family, episode, sign)
        if sign > 0:
            counting.note(family, episode, tally)
            ageing.saw(family.tools_seen, (step.tool for step in episode.steps), tally.ended)
            stated_context(family, self.families.context_counts(family))
        return [
            family,
            *self._counts.decisions(family.key, episode, tally, sign),
            *self._counts.context(family.key, episode, tally, sign),
        ]

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
        runs = list(self._runs.get(family.key, ()))
        settle(family, runs, self.config)
        family.recent = [run.episode_id for run in runs]
