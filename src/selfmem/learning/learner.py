"""The pattern learner: merges per-episode observations into patterns, incrementally.

Pure in-memory state, no I/O: the orchestrator loads stored patterns into it, feeds it
completed episodes, and persists the patterns each call reports as changed.

Every episode first joins a task family (:mod:`.families`), found from the task itself.
Sequences, decision points and context patterns are learned inside families; error
recoveries are learned per tool and error class (the records and the counting:
:mod:`.pattern_counts`). Observing an episode and forgetting a deleted one are the same
counting with opposite signs (:mod:`.family_counting`, which also merges and divides
families), so what an episode taught is exactly what its deletion removes. Which patterns
are served is decided by :mod:`.serving`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from ..config import LearningConfig
from ..records.episodes import Episode, TaskContext
from ..records.learned import (
    AnyPattern,
    ContextPattern,
    ErrorRecovery,
    PatternKind,
    ToolSequence,
)
from . import extractors as ex
from . import followed, refusals, serving
from .ageing import ToolsSeen
from .changes import continued, new_way_runs, repaired_sequence, runs_since_change
from .family_counting import FamilyCounting
from .idle import idle_tools, unproven_tools
from .state import Stopped, same_task

__all__ = ["PatternLearner"]

#: Runs whose family :meth:`PatternLearner.family_of` remembers while the learner is unchanged.
_FAMILY_MEMO = 65_536

#: Runs in a row that must meet a new error, the tool never working, before it has stopped
#: working (:meth:`PatternLearner.stopped_tools`).
STOPPED_AFTER = 2


class PatternLearner(FamilyCounting):
    """Incremental learner for one namespace."""

    def __init__(self, namespace: str, config: LearningConfig | None = None) -> None:
        super().__init__(namespace, config)
        self._served: tuple[int, set[str]] = (-1, set())
        self._state_errors: tuple[int, set[str]] = (-1, set())
        self._idle: tuple[int, set[str]] = (-1, set())
        self._unproven: tuple[int, set[str]] = (-1, set())
        self._stopped: tuple[int, dict[str, Stopped]] = (-1, {})
        self._tests = serving.Tests()
        self._family_memo: tuple[int, dict[str, str | None]] = (-1, {})
        self._refusals: tuple[int, dict[str, list[ContextPattern]]] = (-1, {})
        self._tools_seen = ToolsSeen()

    # -- state ------------------------------------------------------------------------------

    def load(self, patterns: Iterable[AnyPattern]) -> None:
        """Adopt stored patterns (e.g. on open)."""
        self.version += 1
        self._tests.complete = False  # the next serving pass tests every pattern
        for pattern in patterns:
            self._counts.adopt(pattern)
            self._tools_seen.adopt(pattern)
            if isinstance(pattern, ToolSequence) and pattern.members.n > 0:
                self.families.add(pattern)

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

    def feature_paths(
        self, key: str, feature: str
    ) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]], set[str]]:
        """The procedures of the family's recent successful runs whose setting has
        ``feature`` (``tag=prod``; newest first) and of those whose setting has not, and the
        steps at which its way changed."""
        family = self.families.families.get(key)
        runs = [run for run in reversed(self._runs.get(key, ())) if run.success]
        return (
            [run.path for run in runs if feature in run.setting],
            [run.path for run in runs if feature not in run.setting],
            set(family.changed_tools) if family is not None else set(),
        )

    def holding(self, episode_ids: Collection[str]) -> list[str]:
        """The keys of the families that hold any of these episodes (those :meth:`family_of`
        was asked about since the learner last changed, without looking further)."""
        version, memo = self._family_memo
        known = {key for i in episode_ids if (key := memo.get(i))}
        if version == self.version and known:
            return sorted(known)
        ids = set(episode_ids)
        families = self.families.families
        return [key for key, f in families.items() if not ids.isdisjoint(f.episode_ids)]

    def failing_in(self, keys: Collection[str], setting: frozenset[str]) -> dict[str, str]:
        """The tools of the families ``keys`` refused in ``setting`` (:func:`.refusals.refused`:
        ``issue_internal_certificate`` under ``tag=prod``), each with the feature."""
        version, found = self._refusals
        if version != self.version:
            found = refusals.by_family(map(self._patterns.__getitem__, sorted(self._discoveries())))
            self._refusals = (self.version, found)
        tools: dict[str, str] = {}
        for key in sorted(keys):
            runs = self._runs.get(key, ())
            for pattern in found.get(key, ()):
                if refusals.refused(pattern, setting, runs) and self.is_served(pattern):
                    tools.setdefault(pattern.tool, pattern.feature)
        return tools

    def in_setting(
        self, keys: Collection[str], tools: Sequence[str], feature: str, failing: Collection[str]
    ) -> tuple[str, ...] | None:
        """What the recent runs of the families ``keys`` with ``feature`` did from ``tools``
        on, none of the ``failing`` tools taken (:func:`.refusals.went_there`)."""
        runs = [run for key in sorted(keys) for run in reversed(self._runs.get(key, ()))]
        return refusals.went_there(runs, tools, feature, failing, self.idle_tools(), self.config)

    def went_on(
        self, keys: Collection[str], tools: Sequence[str], context: TaskContext | None
    ) -> tuple[str, ...] | None:
        """The procedure of a recent successful run of these families that took ``tools``
        (in order) and went further (or all but the last of them: :func:`.extractors.goes_on`),
        of the task's language (when its ``context`` states one): one that took them all
        first, then the one sharing most features of its setting, then the newest. Runs from
        before their family's change, runs that used a tool which has stopped working since,
        and runs that failed when followed (in the task's setting too) are left out."""
        stopped = self.stopped_tools()
        setting = ex.setting_of(context) if context is not None else frozenset()
        where = followed.setting(context) if context is not None else None
        language = {f for f in setting if f.startswith("language=")}
        best: tuple[bool, int, float, tuple[str, ...]] | None = None
        for key in keys:
            family = self.families.families.get(key)
            if family is None:
                continue
            changed = family.changed_at.timestamp() if family.changed_at else 0.0
            for run in self._runs.get(key, ()):
                way = ex.goes_on(tools, run.path) if run.success else None
                if way is None or run.ended_at < changed or not language <= run.setting:
                    continue
                if any(
                    t in stopped and run.ended_at < stopped[t].since.timestamp() for t in run.path
                ) or _failed_when_followed(family, run.episode_id, where):
                    continue
                held = way == run.path
                rank = (held, len(setting & run.setting), run.ended_at, way)
                if best is None or rank[:3] > best[:3]:
                    best = rank
        return None if best is None else best[3]

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

    def effectiveness(self, pattern: AnyPattern) -> float:
        """The pattern's confidence decayed by its age (:mod:`.ageing`)."""
        at = self._tools_seen.age_from(pattern, self.families.families)
        return pattern.effectiveness(at, self.config.half_life_days)

    def get(self, pattern_id: str) -> AnyPattern | None:
        return self._patterns.get(pattern_id)

    def all_patterns(self) -> list[AnyPattern]:
        return list(self._patterns.values())

    # -- learning and forgetting ------------------------------------------------------------

    def observe(self, episode: Episode, *, defer_sequences: bool = False) -> list[AnyPattern]:
        """Learn from one completed episode; returns the patterns that changed.

        ``defer_sequences`` (for bulk relearning) only records the run; tool sequences of
        the touched families are then worked out once by :meth:`settle_sequences`. An
        abandoned episode is no verdict on its task: it teaches nothing.
        """
        if episode.outcome is None:
            raise ValueError("the learner needs a completed episode")
        if episode.outcome.is_abandoned:
            return []
        self.version += 1
        ended = episode.end_time or episode.start_time
        self._tools_seen.saw((step.tool for step in episode.steps), ended)
        key = followed.family_followed(episode, self._patterns, self.families)
        key = key or self.families.best(episode)
        family = self._family(key, episode)
        self._joins(family.key)
        self._window(family.key).append(ex.family_run(episode))
        changed = self._count_all(family, episode, +1)
        self._held.add(family.key, episode, family.members.n)
        changed += self._split_by_words(family, defer_sequences)
        if defer_sequences:
            self._deferred.add(family.key)
        else:
            self._settle(family)
        changed += self._merge_twin(family, defer_sequences)
        return changed + self._regroup(family, defer_sequences)

    def forget(self, episode: Episode) -> tuple[list[AnyPattern], list[str]]:
        """Undo what one deleted episode taught. Returns (changed patterns, removed ids).

        Counts, provenance and sums lose the episode; a pattern left with no support is
        removed entirely, so nothing derived only from the episode survives it.
        """
        if episode.outcome is not None and episode.outcome.is_abandoned:
            return [], []  # it taught nothing (see :meth:`observe`)
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
        """Whether a pattern has earned its place in recommendations (its age taken at
        ``now``, by default as :meth:`effectiveness` takes it)."""
        cfg = self.config
        if pattern.retired:
            return False
        if isinstance(pattern, ToolSequence):
            self._discoveries()  # may move feature-specific tools out of the sequence
            ok = serving.sequence_served(pattern, cfg) and not self._stopped_in(pattern)
        elif isinstance(pattern, ErrorRecovery):
            state = pattern.error_class in self.state_errors()
            if pattern.best_recovery is not None:  # a state error's tool was not replaced
                ok = not (state and pattern.best_mode == "replace")
            else:
                ok = serving.unrecoverable(pattern, cfg) and not state
        else:  # a decision whose better step has stopped working is not served either
            family = self.families.families.get(pattern.family)
            best = getattr(pattern, "best", None)
            stop = best is not None and family is not None and self._stopped_in(family, (best,))
            ok = pattern.id in self._discoveries() and not stop
        decayed = (
            self.effectiveness(pattern)
            if now is None
            else pattern.effectiveness(now, cfg.half_life_days)
        )
        return ok and decayed >= cfg.min_effectiveness

    def idle_tools(self) -> set[str]:
        """Tools that work in any state (:func:`.idle.idle_tools`); none unless calls out of
        turn fail in this namespace (a state error, raised by many tools: :meth:`state_errors`),
        since only then does a tool that never failed stand out."""
        version, found = self._idle
        if version != self.version:
            found = set()
            if self.state_errors():
                families = self.families.families.values()
                found = idle_tools(families, self._runs.values(), self.config)
            self._idle = (self.version, found)
        return found

    def unproven_tools(self) -> set[str]:
        """First steps nothing shows are needed (see :func:`.idle.unproven_tools`); none
        unless calls out of turn fail in this namespace, as for :meth:`idle_tools`."""
        version, found = self._unproven
        if version != self.version:
            found = set()
            if self.state_errors():
                families = self.families.families.values()
                idle = self.idle_tools()
                found = unproven_tools(families, self._runs.values(), self.config, idle)
            self._unproven = (self.version, found)
        return found

    def state_errors(self) -> set[str]:
        """Error classes that many different tools raised (:func:`serving.state_errors`)."""
        version, found = self._state_errors
        if version != self.version:
            recoveries = [p for p in self._patterns.values() if isinstance(p, ErrorRecovery)]
            found = serving.state_errors(recoveries)
            self._state_errors = (self.version, found)
        return found

    def stopped_tools(self) -> dict[str, Stopped]:
        """Tools that have stopped working: an error no run had met before, met by every run
        that called the tool since (at least :data:`STOPPED_AFTER`, the tool working in
        none: ``ErrorRecovery.breaking``), where it had worked before; not an error that
        only says a call came out of turn (:meth:`state_errors`). What a successful run did
        with it before no longer works, in any family: in the setting of the runs that met
        the error (everywhere once they ran in two or more), and only for their task once a
        run of another task saw it work (``works_elsewhere``), if it worked for that task."""
        version, found = self._stopped
        if version != self.version:
            streaks = [
                pattern
                for pattern in map(self._patterns.get, self._counts.breaking_ids())
                if isinstance(pattern, ErrorRecovery) and len(pattern.breaking) >= STOPPED_AFTER
            ]
            state = self.state_errors() if streaks else set()
            since: dict[str, datetime] = {}
            where: dict[str, set[str]] = {}
            tasks: dict[str, list[frozenset[str]] | None] = {}
            for pattern in streaks:
                task = pattern.breaking_paths.values() if pattern.works_elsewhere else None
                if pattern.error_class not in state and self._worked(pattern.tool, task):
                    tool = pattern.tool
                    since[tool] = min(since.get(tool, pattern.first_seen), pattern.first_seen)
                    where.setdefault(tool, set()).update(pattern.breaking.values())
                    # only for the breaking runs' task once a run of another saw it work
                    known = tasks.get(tool, [])
                    tasks[tool] = (
                        known + [frozenset(p) for p in pattern.breaking_paths.values()]
                        if pattern.works_elsewhere and known is not None
                        else None
                    )
            found = {
                tool: Stopped(
                    at,
                    frozenset(where[tool]) if len(where[tool]) == 1 else None,
                    tuple(paths) if (paths := tasks[tool]) else None,
                )
                for tool, at in since.items()
            }
            self._stopped = (self.version, found)
        return found

    def breaking_runs(self, tools: Iterable[str]) -> list[str]:
        """Ids of the runs, newest first, that met the errors by which these of ``tools``
        stopped working (:meth:`stopped_tools`): runs since the change, whatever their
        family."""
        stopped = self.stopped_tools().keys() & set(tools)
        found: list[str] = []
        for pattern in map(self._patterns.get, self._counts.breaking_ids()):
            if isinstance(pattern, ErrorRecovery) and pattern.tool in stopped:
                found += reversed(pattern.breaking)
        return list(dict.fromkeys(found))

    def _stopped_in(self, family: ToolSequence, tools: Iterable[str] = ()) -> bool:
        """Whether a step of the family's sequence (or one of ``tools``) has stopped working
        for its runs: in every setting, or in that of a successful run of the family."""
        stopped = self.stopped_tools()
        gone = [stopped[tool] for tool in (tools or family.tools) if tool in stopped]
        if not gone:
            return False
        runs = [run for run in self._runs.get(family.key, ()) if run.success]
        return any(
            stop.applies(frozenset(), family.tools)
            if stop.where is None
            else any(stop.applies(run.setting, family.tools) for run in runs)
            for stop in gone
        )

    def _worked(self, tool: str, paths: Iterable[Collection[str]] | None = None) -> bool:
        """Whether a run counted in some family called the tool without a failed call; with
        ``paths`` (what runs of one task got to work), in a family whose working tools are
        those of that task (:func:`same_task`): the tool was part of the task's way, not a
        step runs of another task tried and dropped."""
        tasks = None if paths is None else {frozenset(path) for path in paths}
        for family in self.families.families.values():
            stats = family.tool_calls.get(tool)
            if stats is None or stats.successes <= 0:
                continue
            if tasks is None:
                return True
            worked = [t for t, counts in family.tool_calls.items() if counts.successes > 0]
            if any(same_task(worked, path) for path in tasks):
                return True
        return False

    def patterns(
        self, kind: PatternKind | None = None, *, served_only: bool = True
    ) -> list[AnyPattern]:
        """Patterns, most effective first."""
        found = [p for p in self._patterns.values() if kind is None or p.kind == kind]
        found = [p for p in found if not served_only or self.is_served(p)]
        found.sort(key=lambda p: (self.effectiveness(p), p.support, p.id), reverse=True)
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


def _failed_when_followed(family: ToolSequence, episode_id: str, where: str | None) -> bool:
    """Whether the latest runs that followed an episode all failed, or those in the
    setting ``where`` did."""
    return followed.failed_when_followed(family, episode_id) or (
        where is not None and followed.failed_when_followed_in(family, episode_id, where)
    )
