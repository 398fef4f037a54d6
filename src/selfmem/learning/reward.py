"""Reward scoring: a pure function of a completed episode.

``total = base * efficiency * complexity_bonus * quality_multiplier + learning_bonus``

- **base**: 1.0 for success, the completed fraction for a partial success, 0.0 for failure.
- **efficiency**: 1.0 up to ``expected_steps`` steps, then shrinking with the step count
  (never below ``min_efficiency``).
- **complexity_bonus**: harder tasks earn more (simple 1.0, moderate 1.1, complex 1.25).
- **quality_multiplier**: 1.0, minus ``error_penalty`` per error left unrecovered (an error
  is recovered when a later step succeeds with the same tool), never below 0.5.
- **learning_bonus**: ``recovery_bonus`` for each recovered error when the episode succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models import ComplexityLevel, Episode, OutcomeStatus, RewardScore

__all__ = ["RewardWeights", "compute_reward", "recovered_errors"]


@dataclass(frozen=True, slots=True)
class RewardWeights:
    expected_steps: int = 10
    min_efficiency: float = 0.5
    error_penalty: float = 0.1
    min_quality: float = 0.5
    recovery_bonus: float = 0.05
    max_learning_bonus: float = 0.2
    complexity: tuple[tuple[ComplexityLevel, float], ...] = (
        (ComplexityLevel.SIMPLE, 1.0),
        (ComplexityLevel.MODERATE, 1.1),
        (ComplexityLevel.COMPLEX, 1.25),
    )


def recovered_errors(episode: Episode) -> tuple[int, int]:
    """(recovered, unrecovered) error counts: recovered when the same tool later succeeds."""
    recovered = unrecovered = 0
    for index, step in enumerate(episode.steps):
        if step.success:
            continue
        later = episode.steps[index + 1 :]
        if any(s.success and s.tool == step.tool for s in later):
            recovered += 1
        else:
            unrecovered += 1
    return recovered, unrecovered


def compute_reward(episode: Episode, weights: RewardWeights = RewardWeights()) -> RewardScore:
    """Score a completed episode; every component is kept and explained."""
    if episode.outcome is None:
        raise ValueError("cannot score an episode without an outcome")
    outcome = episode.outcome
    base = outcome.completed_fraction
    steps = len(episode.steps)
    efficiency = 1.0
    if steps > weights.expected_steps:
        efficiency = max(weights.min_efficiency, weights.expected_steps / steps)
    complexity = dict(weights.complexity).get(episode.context.complexity, 1.0)
    recovered, unrecovered = recovered_errors(episode)
    quality = max(weights.min_quality, 1.0 - weights.error_penalty * unrecovered)
    bonus = 0.0
    if outcome.status is OutcomeStatus.SUCCESS:
        bonus = min(weights.max_learning_bonus, weights.recovery_bonus * recovered)
    total = max(0.0, base * efficiency * complexity * quality + bonus)
    explanation = [
        f"base {base:.2f} from {outcome.status.value}",
        f"efficiency {efficiency:.2f} for {steps} steps (expected <= {weights.expected_steps})",
        f"complexity x{complexity:.2f} ({episode.context.complexity.value})",
        f"quality x{quality:.2f}: {recovered} errors recovered, {unrecovered} left",
    ]
    if bonus:
        explanation.append(f"learning bonus +{bonus:.2f} for recovering from errors")
    return RewardScore(
        total=round(total, 4),
        base=round(base, 4),
        efficiency=round(efficiency, 4),
        complexity_bonus=complexity,
        quality_multiplier=round(quality, 4),
        learning_bonus=round(bonus, 4),
        explanation=explanation,
    )
