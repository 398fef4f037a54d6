"""Reward scoring: a pure function of a completed episode (and, if a caller gives one, a baseline).

``SelfLearningMemory`` scores every episode without a baseline, against the fixed
expectation of :class:`~selfmem.config.RewardWeights`: the same episode always gets the same
reward, whatever the learner has seen and however long the run took on the wall clock.

``total = base * efficiency * complexity_bonus * quality_multiplier + learning_bonus``,
clamped at 0, every component kept in :class:`~selfmem.RewardScore`.

- **base**: 1.0 for success, the completed fraction for a partial success, 0.0 for failure.
- **efficiency**: the mean of a step factor and a duration factor, each
  ``typical / actual`` clamped to ``[min_efficiency, max_efficiency]``. *Typical* is the
  median of a caller-supplied :class:`~selfmem.learning.Baseline` once it has
  ``min_baseline_runs`` runs, else ``expected_steps`` steps and no duration factor.
  Durations count only when the typical run takes at least ``min_timed_duration_ms``.
- **complexity_bonus**: harder tasks earn more (simple 1.0, moderate 1.1, complex 1.25).
- **quality_multiplier**: 1.0 minus ``error_penalty`` per error left unrecovered and
  ``retry_penalty`` per extra identical retry, never below ``min_quality``. An error is
  recovered when the same tool later succeeds.
- **learning_bonus** (success only): ``recovery_bonus`` per recovered error, plus
  ``new_approach_bonus`` when a caller-supplied baseline has never seen the tool path
  succeed; capped at ``max_learning_bonus``.
"""

from __future__ import annotations

import itertools

from ..config import RewardWeights
from ..records.episodes import Episode, OutcomeStatus, RewardScore
from .extractors import tool_path
from .state import Baseline

__all__ = ["compute_reward", "recovered_errors"]

_DEFAULT_WEIGHTS = RewardWeights()


def _count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 error``, ``2 errors``: the count and its noun in agreement."""
    if n == 1:
        return f"1 {noun}"
    return (
        f"{n} {plural or noun + 's'}"
        if plural is None or " " not in noun
        else (f"{n} {noun.rsplit(' ', 1)[0]} {plural}")
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


def _retries(episode: Episode) -> int:
    """Consecutive calls of the same tool with the same parameters."""
    steps = episode.steps
    return sum(
        1 for a, b in itertools.pairwise(steps) if a.tool == b.tool and a.parameters == b.parameters
    )


def _ratio(typical: float, actual: float, weights: RewardWeights) -> float:
    if actual <= 0 or typical <= 0:
        return 1.0
    return min(weights.max_efficiency, max(weights.min_efficiency, typical / actual))


def _efficiency(
    episode: Episode, baseline: Baseline | None, weights: RewardWeights
) -> tuple[float, str]:
    steps = len(episode.steps)
    if baseline is None or baseline.runs < weights.min_baseline_runs:
        factor = (
            1.0
            if steps <= weights.expected_steps
            else _ratio(weights.expected_steps, steps, weights)
        )
        return factor, f"{steps} steps (expected at most {weights.expected_steps})"
    step_factor = _ratio(baseline.median_steps, steps, weights)
    duration = episode.duration_ms or 0.0
    if baseline.median_duration_ms < weights.min_timed_duration_ms:
        # sub-second runs: wall-clock differences are noise, judge by steps alone
        return step_factor, (
            f"{steps} steps vs typical {baseline.median_steps:g} over {baseline.runs} "
            "successful runs"
        )
    duration_factor = _ratio(baseline.median_duration_ms, duration, weights)
    return (step_factor + duration_factor) / 2, (
        f"{steps} steps and {duration / 1000:.1f}s vs typical {baseline.median_steps:g} steps "
        f"and {baseline.median_duration_ms / 1000:.1f}s over {baseline.runs} successful runs"
    )


def compute_reward(
    episode: Episode,
    weights: RewardWeights = _DEFAULT_WEIGHTS,
    baseline: Baseline | None = None,
) -> RewardScore:
    """Score a completed episode; every component is kept and explained."""
    if episode.outcome is None:
        raise ValueError("cannot score an episode without an outcome")
    outcome = episode.outcome
    base = outcome.completed_fraction
    efficiency, efficiency_note = _efficiency(episode, baseline, weights)
    complexity = dict(weights.complexity).get(episode.context.complexity, 1.0)
    recovered, unrecovered = recovered_errors(episode)
    retries = _retries(episode)
    quality = max(
        weights.min_quality,
        1.0 - weights.error_penalty * unrecovered - weights.retry_penalty * retries,
    )
    bonus = 0.0
    notes: list[str] = []
    if outcome.status is OutcomeStatus.SUCCESS:
        if recovered:
            bonus += weights.recovery_bonus * recovered
            notes.append(f"recovered from {recovered} error" + ("" if recovered == 1 else "s"))
        if (
            baseline is not None
            and episode.steps
            and tool_path(episode) not in baseline.known_paths
        ):
            bonus += weights.new_approach_bonus
            notes.append("a new successful approach for this task family")
        bonus = min(weights.max_learning_bonus, bonus)
    total = max(0.0, base * efficiency * complexity * quality + bonus)
    explanation = [
        f"base {base:.2f} from {outcome.status.value}",
        f"efficiency {efficiency:.2f}: {efficiency_note}",
        f"complexity x{complexity:.2f} ({episode.context.complexity.value})",
        f"quality x{quality:.2f}: {_count(recovered, 'error')} recovered, "
        f"{_count(unrecovered, 'error')} left, {_count(retries, 'identical retry', 'retries')}",
    ]
    if bonus:
        explanation.append(f"learning bonus +{bonus:.2f}: {', '.join(notes)}")
    return RewardScore(
        total=round(total, 4),
        base=round(base, 4),
        efficiency=round(efficiency, 4),
        complexity_bonus=complexity,
        quality_multiplier=round(quality, 4),
        learning_bonus=round(bonus, 4),
        explanation=explanation,
    )
