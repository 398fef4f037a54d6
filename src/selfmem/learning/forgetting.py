"""Forgetting a deleted episode: the inverse of ``PatternLearner.observe`` for each kind."""

from __future__ import annotations

from collections import deque

from ..records.episodes import Episode
from ..records.learned import (
    AnyPattern,
    ChoiceStats,
    ContextPattern,
    DecisionPoint,
    ErrorRecovery,
    PatternKind,
    ToolSequence,
    stable_id,
)
from . import extractors as ex
from .state import LearnerState

__all__ = ["Forgetting"]


class Forgetting:
    """One :meth:`PatternLearner.forget` call: the inverse of ``observe`` for each kind."""

    def __init__(self, learner: LearnerState, episode: Episode) -> None:
        self.learner = learner
        self.episode = episode
        self.success = ex.succeeded(episode)
        self.changed: dict[str, AnyPattern] = {}
        self.removed: list[str] = []

    def _get(self, kind: PatternKind, key: str) -> AnyPattern | None:
        return self.learner._patterns.get(stable_id(self.learner.namespace, kind.value, key))

    def _uncount(self, pattern: AnyPattern) -> None:
        pattern.support -= 1
        pattern.successes -= int(self.success)
        pattern.reward_sum -= self.episode.reward.total if self.episode.reward else 0.0
        pattern.latency_ms_sum -= sum(step.latency_ms for step in self.episode.steps)

    def _settle(self, pattern: AnyPattern) -> None:
        pattern.episode_ids = [eid for eid in pattern.episode_ids if eid != self.episode.id]
        if pattern.support <= 0:
            del self.learner._patterns[pattern.id]
            self.changed.pop(pattern.id, None)
            self.removed.append(pattern.id)
        else:
            self.changed[pattern.id] = pattern

    def family(self) -> None:
        key = ex.family_key(self.episode)
        runs = self.learner._families.get(key)
        if runs is not None:
            runs = deque((r for r in runs if r.episode_id != self.episode.id), maxlen=runs.maxlen)
            self.learner._families[key] = runs
            self.learner._baselines.pop(key, None)
        pattern = self._get(PatternKind.TOOL_SEQUENCE, key)
        if not isinstance(pattern, ToolSequence):
            return
        consensus = self.learner._consensus([r.path for r in runs or () if r.success])
        if len(consensus) < 2:
            pattern.support = 0
        else:
            self.learner._recount_sequence(pattern, consensus, runs or ())
        self._settle(pattern)

    def decisions(self) -> None:
        by_tool: dict[str, set[str]] = {}
        for before, after in ex.decision_transitions(self.episode):
            by_tool.setdefault(before, set()).add(after)
        for before, choices in by_tool.items():
            pattern = self._get(PatternKind.DECISION_POINT, before)
            if not isinstance(pattern, DecisionPoint):
                continue
            self._uncount(pattern)
            for choice in choices:
                _decrement(pattern.choices, choice, self.success)
            self.learner._rank_choices(pattern)
            self._settle(pattern)

    def errors(self) -> None:
        for event in ex.error_events(self.episode):
            pattern = self._get(PatternKind.ERROR_RECOVERY, f"{event.tool}|{event.error_class}")
            if not isinstance(pattern, ErrorRecovery):
                continue
            self._uncount(pattern)
            if event.recovered:
                for tool in event.recovery_tools:
                    _decrement(pattern.recoveries, tool, self.success)
            else:
                pattern.unrecovered = max(0, pattern.unrecovered - 1)
            self.learner._pick_recovery(pattern)
            self._settle(pattern)

    def context(self) -> None:
        tools = set(ex.tool_path(self.episode))
        for tool in tools:
            _decrement(self.learner._tool_totals, tool, self.success)
        for feature in ex.context_features(self.episode):
            for tool in tools:
                pattern = self._get(PatternKind.CONTEXT_PATTERN, f"{feature}|{tool}")
                if isinstance(pattern, ContextPattern):
                    self._uncount(pattern)
                    self._settle(pattern)


def _decrement(table: dict[str, ChoiceStats], key: str, success: bool) -> None:
    stats = table.get(key)
    if stats is None:
        return
    stats.n -= 1
    stats.successes -= int(success)
    if stats.n <= 0:
        del table[key]
