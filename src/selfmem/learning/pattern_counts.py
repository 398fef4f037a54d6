"""The learner's records, and the counting of one episode into the ones it bears on.

:class:`PatternCounts` holds every pattern record of a namespace by id. Learning an episode
(``sign`` 1) creates the records it needs and counts it in; forgetting a deleted one (``sign``
-1) counts it out of the records it finds, so what an episode taught is exactly what its
deletion removes. Decision points and context patterns are counted inside the episode's task
family; error recoveries per tool and error class. Which of them are served is decided by
:mod:`.serving`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from ..config import LearningConfig
from ..records.episodes import Episode, utc_now
from ..records.learned import (
    AnyPattern,
    ContextPattern,
    DecisionPoint,
    ErrorRecovery,
    ToolSequence,
    stable_id,
)
from . import counting, merging, serving
from . import extractors as ex
from .state import Tally, count_choice, same_task, setting_key

__all__ = ["PatternCounts"]

_P = TypeVar("_P", ToolSequence, DecisionPoint, ErrorRecovery, ContextPattern)

#: Each record class's kind, as its ids are derived from it.
_KINDS: dict[type, str] = {
    cls: cls.model_fields["kind"].default.value
    for cls in (ToolSequence, DecisionPoint, ErrorRecovery, ContextPattern)
}


class PatternCounts:
    """A namespace's pattern records by id, and the counting of episodes into them."""

    def __init__(self, namespace: str, config: LearningConfig) -> None:
        self.namespace = namespace
        self._config = config
        self.patterns: dict[str, AnyPattern] = {}
        self._ids: dict[tuple[type, str], str] = {}  # an episode counts in ~100 patterns
        self._pairs: dict[tuple[str, str, str], tuple[ContextPattern, ContextPattern]] = {}
        #: Per tool, the ids of its error recoveries that may hold a streak of breaking runs.
        self.breaking: dict[str, set[str]] = {}

    def id(self, cls: type, key: str) -> str:
        """The id of the pattern of this class and key (hashed once, then remembered)."""
        pattern_id = self._ids.get((cls, key))
        if pattern_id is None:
            pattern_id = self._ids[cls, key] = stable_id(self.namespace, _KINDS[cls], key)
        return pattern_id

    def touch(self, cls: type[_P], key: str, episode: Episode, **fields: object) -> _P:
        pattern_id = self.id(cls, key)
        pattern = self.patterns.get(pattern_id)
        if pattern is None:
            seen = episode.end_time or utc_now()
            created = cls(
                id=pattern_id, namespace=self.namespace, key=key, first_seen=seen, last_seen=seen,
                **fields,
            )  # fmt: skip
            self.patterns[pattern_id] = created
            merging.narrow_context(created, episode, first=True)
            created.add_provenance(episode.id)
            return created
        assert isinstance(pattern, cls)
        return pattern

    def find(
        self, cls: type[_P], key: str, episode: Episode, tally: Tally, sign: int, **fields: object
    ) -> _P | None:
        """The pattern to count an episode in: created when learning, existing when forgetting."""
        if sign > 0:
            pattern = self.touch(cls, key, episode, **fields)
            counting.note(pattern, episode, tally)
            return pattern
        found = self.patterns.get(self.id(cls, key))
        return found if isinstance(found, cls) else None

    def decisions(
        self, family: str, episode: Episode, tally: Tally, sign: int
    ) -> list[DecisionPoint]:
        success = tally.success
        by_tool: dict[str, set[str]] = {}
        for before, after in ex.decision_transitions(episode):
            by_tool.setdefault(before, set()).add(after)
        changed = []
        for before, choices in sorted(by_tool.items()):
            key = f"{family}|{before}"
            pattern = self.find(
                DecisionPoint, key, episode, tally, sign, family=family, after_tool=before
            )
            if pattern is None:
                continue
            counting.count(pattern, tally, sign)
            for choice in choices:
                count_choice(pattern.choices, choice, sign, success)
            changed.append(pattern)
        return changed

    def errors(self, episode: Episode, tally: Tally, sign: int) -> list[ErrorRecovery]:
        success = tally.success
        worked = {step.tool for step in episode.steps if step.success}
        path = ex.procedure(episode)
        changed = []
        for event in ex.error_events(episode):
            key = f"{event.tool}|{event.error_class}"
            pattern = self.find(
                ErrorRecovery, key, episode, tally, sign,
                tool=event.tool, error_class=event.error_class,
            )  # fmt: skip
            if pattern is None:
                continue
            counting.count(pattern, tally, sign)
            _count_recovery(pattern, event, sign, success)
            serving.pick_recovery(pattern, self._config)
            self._streak(pattern, episode, path, event.tool not in worked, sign)
            changed.append(pattern)
        if sign > 0:
            changed += self._worked(worked, path)
        return changed

    def _streak(
        self, pattern: ErrorRecovery, episode: Episode, path: Sequence[str], broke: bool, sign: int
    ) -> None:
        """Count a run in (or out) of the streak of runs in which the error's tool failed
        with it and never worked (``ErrorRecovery.breaking``): a streak starts with the first
        run that shows the error, and goes on while every run of that task that calls the
        tool breaks."""
        breaking = pattern.breaking
        if sign < 0:
            breaking.pop(episode.id, None)
            pattern.breaking_paths.pop(episode.id, None)
        elif broke and (pattern.support == 1 or breaking):
            breaking[episode.id] = setting_key(ex.run_setting(episode))
            pattern.breaking_paths[episode.id] = sorted(set(path))
            self.breaking.setdefault(pattern.tool, set()).add(pattern.id)

    def _worked(self, worked: set[str], path: Sequence[str]) -> list[ErrorRecovery]:
        """End the streaks of the tools a run whose procedure is ``path`` saw working, when
        it did the task of one of the streak's runs (:func:`.state.same_task`); a run
        of another task only counts as one where the tool still works. Returns the patterns
        that changed."""
        changed = []
        for tool in sorted(worked & self.breaking.keys()):
            ids = self.breaking[tool]
            for pattern_id in sorted(ids):
                pattern = self.patterns.get(pattern_id)
                if not isinstance(pattern, ErrorRecovery) or not pattern.breaking:
                    ids.discard(pattern_id)
                    continue
                paths = pattern.breaking_paths.values()
                if paths and not any(same_task(path, other) for other in paths):
                    if not pattern.works_elsewhere:
                        pattern.works_elsewhere = True
                        changed.append(pattern)
                    continue
                pattern.breaking, pattern.breaking_paths = {}, {}
                pattern.works_elsewhere = False
                ids.discard(pattern_id)
                changed.append(pattern)
            if not ids:
                del self.breaking[tool]
        return changed

    def breaking_ids(self) -> list[str]:
        """The ids of the error recoveries that may hold a streak, in order."""
        return sorted(i for ids in self.breaking.values() for i in ids)

    def adopt(self, pattern: AnyPattern) -> None:
        """Take in a stored pattern (the learner's :meth:`load`)."""
        self.patterns[pattern.id] = pattern
        if isinstance(pattern, ErrorRecovery) and pattern.breaking:
            self.breaking.setdefault(pattern.tool, set()).add(pattern.id)

    def context(
        self, family: str, episode: Episode, tally: Tally, sign: int
    ) -> list[ContextPattern]:
        tools = sorted(set(ex.tool_path(episode)))
        failed = {step.tool for step in episode.steps if not step.success}
        changed: list[ContextPattern] = []
        for feature in ex.context_features(episode):
            for tool in tools:
                outcome, calls = self._pair(family, feature, tool, episode, tally, sign)
                if outcome is not None:
                    counting.count(outcome, tally, sign)
                    changed.append(outcome)
                if calls is not None:
                    counting.count(calls, tally, sign)
                    calls.successes += sign * (int(tool not in failed) - int(tally.success))
                    changed.append(calls)
        return changed

    def _pair(
        self, family: str, feature: str, tool: str, episode: Episode, tally: Tally, sign: int
    ) -> tuple[ContextPattern | None, ContextPattern | None]:
        """The outcome and calls patterns of a family, feature and tool, noted (learning) or
        as found (forgetting). An episode counts in dozens of these, so the pair is kept
        by its three names while both records are the learner's."""
        known = self._pairs.get((family, feature, tool)) if sign > 0 else None
        if known is not None:
            outcome, calls = known
            patterns = self.patterns
            if patterns.get(outcome.id) is outcome and patterns.get(calls.id) is calls:
                counting.note(outcome, episode, tally)
                counting.note(calls, episode, tally)
                return known
        fields = {"family": family, "feature": feature, "tool": tool}
        key = f"{family}|{feature}|{tool}"
        found = (
            self.find(ContextPattern, key, episode, tally, sign, **fields),
            self.find(
                ContextPattern, f"{key}|calls", episode, tally, sign, measure="calls", **fields
            ),
        )
        if found[0] is not None and found[1] is not None and sign > 0:
            self._pairs[family, feature, tool] = (found[0], found[1])
        return found


def _count_recovery(pattern: ErrorRecovery, event: ex.ErrorEvent, sign: int, success: bool) -> None:
    """Count what followed one error in a run: the actions that fixed it (the failing tool
    then worked), the tool used instead, or nothing that got past it."""
    if event.outcome == "fixed":
        pattern.recovered += sign
        for action in event.actions:
            count_choice(pattern.recoveries, action, sign, True)
            if action != "retry":
                count_choice(pattern.fix_runs, action, sign, success)
        for action in event.tried:
            count_choice(pattern.recoveries, action, sign, False)
    elif event.outcome == "replaced":
        pattern.recovered += sign
        for tool in event.actions:
            count_choice(pattern.replacements, tool, sign, success)
    else:
        pattern.unrecovered = max(0, pattern.unrecovered + sign)
        for action in event.actions:
            count_choice(pattern.recoveries, action, sign, False)
