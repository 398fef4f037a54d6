"""The pattern learner: merges per-episode observations into patterns, incrementally.

Pure in-memory state, no I/O: the orchestrator loads stored patterns into it, feeds it
completed episodes, and persists the patterns each call reports as changed.

Serving rules (see :class:`LearningConfig`) keep noise out: a pattern is served only with
enough support, a trustworthy success rate (Wilson lower bound) and, for the comparative
kinds (decision points, context patterns), a significant difference (two-proportion z).
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TypeVar

from ..config import LearningConfig
from ..records.episodes import Episode, utc_now
from ..records.learned import (
    AnyPattern,
    ChoiceStats,
    ContextPattern,
    DecisionPoint,
    ErrorRecovery,
    PatternContext,
    PatternKind,
    ToolSequence,
    stable_id,
)
from ..records.stats import two_proportion_z, wilson_lower_bound
from . import extractors as ex
from .forgetting import Forgetting
from .state import Baseline, FamilyRun

__all__ = ["PatternLearner"]

_P = TypeVar("_P", ToolSequence, DecisionPoint, ErrorRecovery, ContextPattern)


def _run_of(episode: Episode) -> FamilyRun:
    return FamilyRun(
        episode.id,
        ex.tool_path(episode),
        ex.succeeded(episode),
        len(episode.steps),
        episode.duration_ms or 0.0,
        episode.reward.total if episode.reward else 0.0,
        sum(step.latency_ms for step in episode.steps),
    )


def _merge_context(pattern: AnyPattern, episode: Episode, first: bool) -> None:
    ctx = episode.context
    if first:
        pattern.context = PatternContext(
            domain=ctx.domain,
            language=ctx.language,
            task_type=episode.task_type,
            tags=list(ctx.tags),
        )
        return
    current = pattern.context
    if current.domain != ctx.domain:
        current.domain = None
    if current.language != ctx.language:
        current.language = None
    if current.task_type != episode.task_type:
        current.task_type = None
    if current.tags:
        current.tags = [tag for tag in current.tags if tag in ctx.tags]


class PatternLearner:
    """Incremental learner for one namespace."""

    def __init__(self, namespace: str, config: LearningConfig | None = None) -> None:
        self.namespace = namespace
        self.config = config or LearningConfig()
        self._patterns: dict[str, AnyPattern] = {}
        self._families: dict[str, deque[FamilyRun]] = {}
        self._tool_totals: dict[str, ChoiceStats] = {}
        self._baselines: dict[str, Baseline] = {}  # per family, dropped when it changes
        self._deferred: dict[str, list[Episode]] = {}
        #: Bumped by every change to the patterns, so readers can cache what they derive.
        self.version = 0

    # -- state ------------------------------------------------------------------------------

    def load(self, patterns: Iterable[AnyPattern]) -> None:
        """Adopt stored patterns (e.g. on open)."""
        self.version += 1
        for pattern in patterns:
            self._patterns[pattern.id] = pattern
            if isinstance(pattern, ContextPattern) and pattern.feature.startswith("domain="):
                totals = self._tool_totals.setdefault(pattern.tool, ChoiceStats())
                totals.n += pattern.support
                totals.successes += pattern.successes

    def windows(self) -> dict[str, list[FamilyRun]]:
        """A copy of every family's recent runs (to carry over into a reloaded learner)."""
        return {key: list(runs) for key, runs in self._families.items()}

    def adopt_windows(self, windows: dict[str, list[FamilyRun]]) -> None:
        """Take families' recent runs from an earlier learner of this namespace."""
        for key, runs in windows.items():
            self._families[key] = deque(runs, maxlen=self.config.max_family_runs)
            self._baselines.pop(key, None)

    def knows_family(self, key: str) -> bool:
        return key in self._families

    def seed_family(self, key: str, episodes: Iterable[Episode]) -> None:
        """Give a family its recent history (oldest first) without re-counting patterns."""
        runs = self._families.setdefault(key, deque(maxlen=self.config.max_family_runs))
        self._baselines.pop(key, None)
        for episode in episodes:
            runs.append(_run_of(episode))

    def get(self, pattern_id: str) -> AnyPattern | None:
        return self._patterns.get(pattern_id)

    def all_patterns(self) -> list[AnyPattern]:
        return list(self._patterns.values())

    def baseline(self, key: str) -> Baseline | None:
        cached = self._baselines.get(key)
        if cached is not None:
            return cached
        runs = [run for run in self._families.get(key, ()) if run.success]
        if not runs:
            return None
        self._baselines[key] = found = Baseline(
            runs=len(runs),
            median_steps=statistics.median(run.steps for run in runs),
            median_duration_ms=statistics.median(run.duration_ms for run in runs),
            known_paths=frozenset(run.path for run in runs),
        )
        return found

    # -- learning ---------------------------------------------------------------------------

    def observe(self, episode: Episode, *, defer_sequences: bool = False) -> list[AnyPattern]:
        """Learn from one completed episode; returns the patterns that changed.

        ``defer_sequences`` (for bulk relearning) only records the run; tool sequences of
        the touched families are then worked out once by :meth:`settle_sequences`.
        """
        self.version += 1
        if episode.outcome is None:
            raise ValueError("the learner needs a completed episode")
        changed: dict[str, AnyPattern] = {}
        family: ToolSequence | None = None
        if defer_sequences:
            self._defer_family(episode)
        else:
            family = self._observe_family(episode)
        for pattern in (
            family,
            *self._observe_decisions(episode),
            *self._observe_errors(episode),
            *self._observe_context(episode),
        ):
            if pattern is not None:
                changed[pattern.id] = pattern
        return list(changed.values())

    def _touch(self, cls: type[_P], key: str, episode: Episode, **fields: object) -> _P:
        pattern_id = stable_id(self.namespace, cls.model_fields["kind"].default, key)
        pattern = self._patterns.get(pattern_id)
        first = pattern is None
        if pattern is None:
            seen = episode.end_time or utc_now()
            pattern = cls(
                id=pattern_id, namespace=self.namespace, key=key, first_seen=seen, last_seen=seen,
                **fields,
            )  # fmt: skip
            self._patterns[pattern_id] = pattern
        assert isinstance(pattern, cls)
        _merge_context(pattern, episode, first)
        end = episode.end_time or utc_now()
        pattern.last_seen = max(pattern.last_seen, end)
        pattern.add_provenance(episode.id)
        return pattern

    @staticmethod
    def _count(pattern: AnyPattern, episode: Episode, success: bool) -> None:
        pattern.support += 1
        pattern.successes += int(success)
        pattern.reward_sum += episode.reward.total if episode.reward else 0.0
        pattern.latency_ms_sum += sum(step.latency_ms for step in episode.steps)

    def _defer_family(self, episode: Episode) -> None:
        key = ex.family_key(episode)
        runs = self._families.setdefault(key, deque(maxlen=self.config.max_family_runs))
        runs.append(_run_of(episode))
        self._baselines.pop(key, None)
        self._deferred.setdefault(key, []).append(episode)

    def settle_sequences(self) -> list[ToolSequence]:
        """Work out the tool sequences of families whose runs were deferred."""
        self.version += 1
        changed: list[ToolSequence] = []
        deferred, self._deferred = self._deferred, {}
        for key, episodes in deferred.items():
            runs = self._families[key]
            consensus = self._consensus([run.path for run in runs if run.success])
            if len(consensus) < 2:
                continue
            pattern: ToolSequence | None = None
            for episode in episodes:
                pattern = self._touch(ToolSequence, key, episode)
            assert pattern is not None
            self._recount_sequence(pattern, consensus, runs)
            changed.append(pattern)
        return changed

    def _observe_family(self, episode: Episode) -> ToolSequence | None:
        key = ex.family_key(episode)
        runs = self._families.setdefault(key, deque(maxlen=self.config.max_family_runs))
        runs.append(_run_of(episode))
        self._baselines.pop(key, None)
        consensus = self._consensus([run.path for run in runs if run.success])
        if len(consensus) < 2:
            return None
        pattern = self._touch(ToolSequence, key, episode)
        self._recount_sequence(pattern, consensus, runs)
        return pattern

    @staticmethod
    def _recount_sequence(
        pattern: ToolSequence, consensus: tuple[str, ...], runs: Iterable[FamilyRun]
    ) -> None:
        matching = [run for run in runs if ex.is_subsequence(consensus, run.path)]
        pattern.tools = list(consensus)
        pattern.support = len(matching)
        pattern.successes = sum(run.success for run in matching)
        pattern.reward_sum = sum(run.reward for run in matching)
        pattern.latency_ms_sum = sum(run.latency_ms for run in matching)

    def _consensus(self, paths: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
        """Tools present in most successful paths, ordered by their mean relative position.

        A tool used twice in a path (e.g. tests run before and after a fix) counts as two
        slots, so the sequence can hold it twice.
        """
        if len(paths) < self.config.min_support:
            return ()
        presence: dict[tuple[str, int], int] = {}
        position: dict[tuple[str, int], float] = {}
        for path in paths:
            seen: dict[str, int] = {}
            for index, tool in enumerate(path):
                slot = (tool, seen.get(tool, 0))
                seen[tool] = slot[1] + 1
                presence[slot] = presence.get(slot, 0) + 1
                position[slot] = position.get(slot, 0.0) + index / max(1, len(path) - 1)
        needed = self.config.sequence_min_frequency * len(paths)
        frequent = [slot for slot, count in presence.items() if count >= needed]
        frequent.sort(key=lambda slot: (position[slot] / presence[slot], slot[1]))
        return tuple(tool for tool, _ in frequent)

    def _observe_decisions(self, episode: Episode) -> list[DecisionPoint]:
        success = ex.succeeded(episode)
        by_tool: dict[str, set[str]] = {}
        for before, after in ex.decision_transitions(episode):
            by_tool.setdefault(before, set()).add(after)
        changed = []
        for before, choices in by_tool.items():
            pattern = self._touch(DecisionPoint, before, episode, after_tool=before)
            self._count(pattern, episode, success)
            for choice in choices:
                stats = pattern.choices.setdefault(choice, ChoiceStats())
                stats.n += 1
                stats.successes += int(success)
            self._rank_choices(pattern)
            changed.append(pattern)
        return changed

    def _rank_choices(self, pattern: DecisionPoint) -> None:
        cfg = self.config
        # a choice must be a real habit: it followed the tool in a share of the runs of it,
        # so rare noise steps after a tool are never compared
        ran = self._tool_totals.get(pattern.after_tool, ChoiceStats()).n
        floor = max(cfg.min_support, cfg.decision_min_choice_share * ran)
        eligible = [(c, s) for c, s in pattern.choices.items() if s.n >= floor]
        pattern.best = pattern.worst = None
        if len(eligible) < 2:
            return
        best = max(eligible, key=lambda item: (item[1].confidence, item[0]))
        worst = min(eligible, key=lambda item: (item[1].rate, item[0]))
        effect = best[1].rate - worst[1].rate
        z = two_proportion_z(best[1].successes, best[1].n, worst[1].successes, worst[1].n)
        if best[0] != worst[0] and effect >= cfg.decision_min_effect and z >= cfg.decision_min_z:
            pattern.best, pattern.worst = best[0], worst[0]

    def _observe_errors(self, episode: Episode) -> list[ErrorRecovery]:
        success = ex.succeeded(episode)
        changed = []
        for event in ex.error_events(episode):
            key = f"{event.tool}|{event.error_class}"
            pattern = self._touch(
                ErrorRecovery, key, episode, tool=event.tool, error_class=event.error_class
            )
            self._count(pattern, episode, success)
            if event.recovered:
                for tool in event.recovery_tools:
                    stats = pattern.recoveries.setdefault(tool, ChoiceStats())
                    stats.n += 1
                    stats.successes += int(success)
            else:
                pattern.unrecovered += 1
            self._pick_recovery(pattern)
            changed.append(pattern)
        return changed

    def _pick_recovery(self, pattern: ErrorRecovery) -> None:
        eligible = [
            (tool, stats)
            for tool, stats in pattern.recoveries.items()
            if stats.n >= self.config.min_support
            and stats.confidence >= self.config.recovery_min_confidence
        ]
        pattern.best_recovery = (
            max(eligible, key=lambda item: (item[1].confidence, item[1].n))[0] if eligible else None
        )

    def _observe_context(self, episode: Episode) -> list[ContextPattern]:
        success = ex.succeeded(episode)
        tools = set(ex.tool_path(episode))
        for tool in tools:
            totals = self._tool_totals.setdefault(tool, ChoiceStats())
            totals.n += 1
            totals.successes += int(success)
        changed = []
        for feature in ex.context_features(episode):
            for tool in tools:
                pattern = self._touch(
                    ContextPattern, f"{feature}|{tool}", episode, feature=feature, tool=tool
                )
                self._count(pattern, episode, success)
                changed.append(pattern)
        return changed

    # -- forgetting (the episode was deleted) ------------------------------------------------

    def forget(self, episode: Episode) -> tuple[list[AnyPattern], list[str]]:
        """Undo what one deleted episode taught. Returns (changed patterns, removed ids).

        Counts, provenance and sums lose the episode; a pattern left with no support is
        removed entirely, so nothing derived only from the episode survives it.
        """
        self.version += 1
        forgetting = Forgetting(self, episode)
        forgetting.family()
        forgetting.decisions()
        forgetting.errors()
        forgetting.context()
        return list(forgetting.changed.values()), forgetting.removed

    # -- serving ----------------------------------------------------------------------------

    def _refresh_context(self, pattern: ContextPattern) -> bool:
        totals = self._tool_totals.get(pattern.tool, ChoiceStats())
        outside = ChoiceStats(
            n=totals.n - pattern.support, successes=totals.successes - pattern.successes
        )
        pattern.baseline = outside
        cfg = self.config
        if pattern.support < cfg.context_min_support or outside.n < cfg.context_min_support:
            return False
        effect = pattern.success_rate - outside.rate
        z = two_proportion_z(pattern.successes, pattern.support, outside.successes, outside.n)
        pattern.association = "success" if effect > 0 else "failure"
        return abs(effect) >= cfg.context_min_effect and abs(z) >= cfg.context_min_z

    def is_served(self, pattern: AnyPattern, now: datetime | None = None) -> bool:
        """Whether a pattern has earned its place in recommendations."""
        cfg = self.config
        if pattern.retired:
            return False
        if isinstance(pattern, ToolSequence):
            ok = (
                pattern.support >= cfg.min_support
                and len(pattern.tools) >= 2
                and pattern.confidence >= cfg.sequence_min_confidence
            )
        elif isinstance(pattern, DecisionPoint):
            ok = pattern.best is not None
        elif isinstance(pattern, ErrorRecovery):
            ok = pattern.best_recovery is not None or (
                pattern.unrecovered >= cfg.min_support and not pattern.recoveries
            )
        else:
            ok = self._refresh_context(pattern)
        return ok and pattern.effectiveness(now, cfg.half_life_days) >= cfg.min_effectiveness

    def patterns(
        self, kind: PatternKind | None = None, *, served_only: bool = True
    ) -> list[AnyPattern]:
        """Patterns, most effective first."""
        found = [
            p
            for p in self._patterns.values()
            if (kind is None or p.kind == kind) and (not served_only or self.is_served(p))
        ]
        found.sort(key=lambda p: (p.effectiveness(), p.support), reverse=True)
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
        cfg = self.config
        for pattern_id in dict.fromkeys(pattern_ids):
            pattern = self._patterns.get(pattern_id)
            if pattern is None:
                continue
            pattern.feedback_uses += 1
            pattern.feedback_successes += int(success)
            upper = 1.0 - wilson_lower_bound(
                pattern.feedback_uses - pattern.feedback_successes, pattern.feedback_uses
            )
            if (
                pattern.feedback_uses >= cfg.retire_min_uses
                and upper < cfg.retire_below_upper_bound
            ):
                pattern.retired = True
            changed.append(pattern)
        return changed
