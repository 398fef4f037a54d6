"""What the pattern learner keeps between episodes, as seen by the code that updates it.

:class:`FamilyRun` and :class:`Baseline` are the learner's per-family records;
:class:`LearnerState` is the part of :class:`~selfmem.learning.learner.PatternLearner` that
:mod:`~selfmem.learning.forgetting` reads and updates, so the two modules do not import each
other.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..config import LearningConfig
from ..records.learned import AnyPattern, ChoiceStats, DecisionPoint, ErrorRecovery, ToolSequence

__all__ = ["Baseline", "FamilyRun", "LearnerState"]


@dataclass(frozen=True, slots=True)
class FamilyRun:
    """What the learner remembers of one episode of a task family."""

    episode_id: str
    path: tuple[str, ...]
    success: bool
    steps: int
    duration_ms: float
    reward: float = 0.0
    latency_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class Baseline:
    """What is typical for a task family: used by the reward's efficiency factor."""

    runs: int
    median_steps: float
    median_duration_ms: float
    known_paths: frozenset[tuple[str, ...]]

class LearnerState(Protocol):
    """The learner's state and the recounting steps that forgetting shares with observing."""

    namespace: str
    config: LearningConfig
    _patterns: dict[str, AnyPattern]
    _families: dict[str, deque[FamilyRun]]
    _tool_totals: dict[str, ChoiceStats]
    _baselines: dict[str, Baseline]

    def _consensus(self, paths: Sequence[tuple[str, ...]]) -> tuple[str, ...]: ...

    def _recount_sequence(
        self, pattern: ToolSequence, consensus: tuple[str, ...], runs: Iterable[FamilyRun]
    ) -> None: ...

    def _rank_choices(self, pattern: DecisionPoint) -> None: ...

    def _pick_recovery(self, pattern: ErrorRecovery) -> None: ...
