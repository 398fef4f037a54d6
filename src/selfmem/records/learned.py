"""Learned records: the four pattern kinds and the heuristics derived from them.

Every pattern carries its evidence (``support`` episodes, ``successes``), a ``confidence``
(the Wilson lower bound of its success rate), timing, provenance (recent episode ids) and
the context it applies to. Patterns are identified by ``(namespace, kind, key)``: the same
situation always maps to the same record, so evidence merges instead of duplicating.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from .episodes import TaskType, utc_now
from .stats import decay_factor, wilson_lower_bound

__all__ = [
    "AnyPattern",
    "ChoiceStats",
    "ContextPattern",
    "DecisionPoint",
    "ErrorRecovery",
    "Heuristic",
    "HeuristicKind",
    "PatternContext",
    "PatternKind",
    "ToolSequence",
    "pattern_adapter",
    "stable_id",
]

MAX_PROVENANCE = 50


def stable_id(*parts: str) -> str:
    """A short deterministic id for a record key."""
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=10).hexdigest()


class _Learned(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class PatternKind(StrEnum):
    TOOL_SEQUENCE = "tool_sequence"
    DECISION_POINT = "decision_point"
    ERROR_RECOVERY = "error_recovery"
    CONTEXT_PATTERN = "context_pattern"


class PatternContext(_Learned):
    """The context a pattern applies to; ``None`` fields mean "any"."""

    domain: str | None = None
    language: str | None = None
    task_type: TaskType | None = None
    tags: list[str] = Field(default_factory=list)

    def describe(self) -> str:
        parts = [
            f"{name} {value}"
            for name, value in (
                ("domain", self.domain),
                ("language", self.language),
                ("task type", self.task_type.value if self.task_type else None),
            )
            if value
        ]
        if self.tags:
            parts.append("tags " + ", ".join(self.tags))
        return "; ".join(parts) or "any context"


class ChoiceStats(_Learned):
    """How often an option was taken and how often it ended in success."""

    n: int = 0
    successes: int = 0

    @property
    def rate(self) -> float:
        return self.successes / self.n if self.n else 0.0

    @property
    def confidence(self) -> float:
        return wilson_lower_bound(self.successes, self.n)


class _PatternBase(_Learned):
    id: str
    namespace: str
    key: str
    support: int = 0
    successes: int = 0
    reward_sum: float = 0.0
    latency_ms_sum: float = 0.0
    first_seen: datetime = Field(default_factory=utc_now)
    last_seen: datetime = Field(default_factory=utc_now)
    episode_ids: list[str] = Field(default_factory=list)
    context: PatternContext = Field(default_factory=PatternContext)
    feedback_uses: int = 0
    feedback_successes: int = 0
    retired: bool = False

    @property
    def success_rate(self) -> float:
        return self.successes / self.support if self.support else 0.0

    @property
    def confidence(self) -> float:
        """Wilson lower bound of the success rate over support plus feedback."""
        return wilson_lower_bound(
            self.successes + self.feedback_successes, self.support + self.feedback_uses
        )

    @property
    def avg_reward(self) -> float:
        return self.reward_sum / self.support if self.support else 0.0

    @property
    def avg_latency_ms(self) -> float:
        return self.latency_ms_sum / self.support if self.support else 0.0

    def effectiveness(self, now: datetime | None = None, half_life_days: float = 30.0) -> float:
        """Confidence decayed by the age of the newest evidence; 0 once retired."""
        if self.retired:
            return 0.0
        age = ((now or utc_now()) - self.last_seen).total_seconds() / 86_400
        return self.confidence * decay_factor(age, half_life_days)

    def add_provenance(self, episode_id: str) -> None:
        if episode_id not in self.episode_ids:
            self.episode_ids = [*self.episode_ids, episode_id][-MAX_PROVENANCE:]

    def describe(self) -> str:  # pragma: no cover - every kind overrides
        raise NotImplementedError


class ToolSequence(_PatternBase):
    """Tools that successful episodes of one task family use, in order (gaps tolerated)."""

    kind: Literal[PatternKind.TOOL_SEQUENCE] = PatternKind.TOOL_SEQUENCE
    tools: list[str] = Field(default_factory=list)

    def describe(self) -> str:
        return (
            f"for {self.context.describe()}, the sequence {' -> '.join(self.tools)} "
            f"succeeded in {self.successes} of {self.support} episodes"
        )


class DecisionPoint(_PatternBase):
    """After ``after_tool``, the choice of next tool correlates with the outcome."""

    kind: Literal[PatternKind.DECISION_POINT] = PatternKind.DECISION_POINT
    after_tool: str
    choices: dict[str, ChoiceStats] = Field(default_factory=dict)
    best: str | None = None
    worst: str | None = None

    @property
    def confidence(self) -> float:
        """Confidence in the better choice (Wilson lower bound of its success rate)."""
        best = self.choices.get(self.best or "")
        if best is None:
            return 0.0
        return wilson_lower_bound(
            best.successes + self.feedback_successes, best.n + self.feedback_uses
        )

    def describe(self) -> str:
        if self.best is None or self.worst is None:
            seen = ", ".join(f"{c} {s.successes}/{s.n}" for c, s in sorted(self.choices.items()))
            return f"after {self.after_tool}, no choice stands out yet ({seen})"
        best = self.choices.get(self.best or "", ChoiceStats())
        worst = self.choices.get(self.worst or "", ChoiceStats())
        return (
            f"after {self.after_tool}, {self.best} led to success {best.successes}/{best.n} "
            f"times while {self.worst} did {worst.successes}/{worst.n}"
        )


class ErrorRecovery(_PatternBase):
    """A tool's error class and the recovery actions that led to success."""

    kind: Literal[PatternKind.ERROR_RECOVERY] = PatternKind.ERROR_RECOVERY
    tool: str
    error_class: str
    recoveries: dict[str, ChoiceStats] = Field(default_factory=dict)
    unrecovered: int = 0
    best_recovery: str | None = None

    @property
    def confidence(self) -> float:
        """Confidence in the best recovery, or that the error has none."""
        stats = self.recoveries.get(self.best_recovery or "")
        if stats is None:
            return wilson_lower_bound(self.unrecovered, self.support)
        return wilson_lower_bound(
            stats.successes + self.feedback_successes, stats.n + self.feedback_uses
        )

    def describe(self) -> str:
        if self.best_recovery is None:
            return f"{self.tool} failing with '{self.error_class}' has no known recovery"
        stats = self.recoveries[self.best_recovery]
        return (
            f"when {self.tool} fails with '{self.error_class}', {self.best_recovery} "
            f"recovered it {stats.successes} of {stats.n} times"
        )


class ContextPattern(_PatternBase):
    """A context feature under which a tool succeeds or fails unusually often."""

    kind: Literal[PatternKind.CONTEXT_PATTERN] = PatternKind.CONTEXT_PATTERN
    feature: str
    tool: str
    association: Literal["success", "failure"] = "success"
    baseline: ChoiceStats = Field(default_factory=ChoiceStats)

    @property
    def confidence(self) -> float:
        """Confidence in the association (of success, or of failure)."""
        hits = self.successes if self.association == "success" else self.support - self.successes
        return wilson_lower_bound(hits, self.support)

    def describe(self) -> str:
        return (
            f"with {self.feature}, {self.tool} succeeded {self.successes}/{self.support} times "
            f"versus {self.baseline.successes}/{self.baseline.n} elsewhere"
        )


AnyPattern = Annotated[
    ToolSequence | DecisionPoint | ErrorRecovery | ContextPattern, Field(discriminator="kind")
]
pattern_adapter: TypeAdapter[AnyPattern] = TypeAdapter(AnyPattern)


class HeuristicKind(StrEnum):
    FOLLOW_SEQUENCE = "follow_sequence"
    PREFER = "prefer"
    AVOID = "avoid"
    RECOVER = "recover"


class Heuristic(_Learned):
    """A condition -> action rule derived from a pattern, with its evidence."""

    id: str
    namespace: str
    kind: HeuristicKind
    condition: str
    action: str
    tool: str | None = None
    evidence: int = 0
    successes: int = 0
    confidence: float = 0.0
    context: PatternContext = Field(default_factory=PatternContext)
    source_pattern_ids: list[str] = Field(default_factory=list)
    episode_ids: list[str] = Field(default_factory=list)
    updated_at: datetime = Field(default_factory=utc_now)

    def explain(self) -> str:
        """The rule and its evidence in one sentence."""
        return (
            f"{self.condition}, {self.action} "
            f"(seen in {self.evidence} episodes, {self.successes} successful; "
            f"confidence {self.confidence:.2f})."
        )
