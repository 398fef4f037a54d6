"""Episodes from outside (an export file): checked exactly as the API checks their parts.

An export file is input like any other: it may have been edited, or written by something
else. :func:`prepare_imported` passes every part of an episode through the functions the
API uses (limits, JSON safety, lone surrogates, redaction), so ``selfmem import`` cannot
store what ``start_episode`` / ``log_step`` / ``complete_episode`` would refuse. What an
episode computed on completion (reward, reflection) is checked for size and redacted.

An episode that selfmem exported passes unchanged: checking is idempotent on what the
checks themselves produced (redacted text, truncated tool output).
"""

from __future__ import annotations

from typing import Any

from ..config import Limits
from ..errors import InvalidInputError, LimitExceededError
from ..records.episodes import Episode, ExecutionStep, Reflection, RewardScore
from .redaction import redact_text
from .validation import (
    check_id,
    note_replaced,
    prepare_episode,
    prepare_outcome,
    prepare_start_time,
    prepare_step,
)
from .values import clean_text, json_value

__all__ = ["prepare_imported"]


def _steps(steps: list[ExecutionStep], limits: Limits, redact: bool) -> list[ExecutionStep]:
    if len(steps) > limits.max_steps_per_episode:
        raise LimitExceededError(
            "steps per episode", limits.max_steps_per_episode, len(steps), unit="steps"
        )
    prepared = [
        prepare_step(step if step.step_number is not None else
                     step.model_copy(update={"step_number": position}), limits, redact)
        for position, step in enumerate(steps, start=1)
    ]  # fmt: skip
    numbers = [step.step_number for step in prepared]
    if len(set(numbers)) != len(numbers):
        raise InvalidInputError("two steps have the same step_number", field="steps")
    return prepared


def _texts(values: list[str], field: str, redact: bool, replaced: list[str]) -> list[str]:
    cleaned = [clean_text(value, field, replaced) for value in values]
    return [redact_text(value) for value in cleaned] if redact else cleaned


def _reward(reward: RewardScore, limits: Limits, redact: bool, replaced: list[str]) -> RewardScore:
    for name in ("efficiency", "complexity_bonus", "quality_multiplier", "learning_bonus"):
        json_value(getattr(reward, name), f"reward.{name}", max_depth=1, replace=False)
    explanation = _texts(reward.explanation, "reward.explanation", redact, replaced)
    if sum(len(line) for line in explanation) > limits.max_outcome_chars:
        raise LimitExceededError("reward.explanation", limits.max_outcome_chars,
                                 sum(len(line) for line in explanation))  # fmt: skip
    return reward.model_copy(update={"explanation": explanation})


def _reflection(
    reflection: Reflection, limits: Limits, redact: bool, replaced: list[str]
) -> Reflection:
    update: dict[str, Any] = {}
    total = 0
    for name in ("what_worked", "what_failed", "improvements", "insights", "recommendations"):
        update[name] = _texts(getattr(reflection, name), f"reflection.{name}", redact, replaced)
        total += sum(len(line) for line in update[name])
    update["generated_by"] = clean_text(reflection.generated_by, "reflection", replaced)
    total += len(update["generated_by"])
    if total > limits.max_outcome_chars:
        raise LimitExceededError("reflection", limits.max_outcome_chars, total)
    return reflection.model_copy(update=update)


def _times(episode: Episode) -> None:
    prepare_start_time(episode.start_time)
    if episode.end_time is not None and episode.end_time < episode.start_time:
        raise InvalidInputError("end_time is before start_time", field="end_time")
    if (episode.end_time is None) != (episode.outcome is None):
        raise InvalidInputError(
            "a completed episode has both an end_time and an outcome; an open one neither",
            field="outcome",
        )


def prepare_imported(episode: Episode, namespace: str, limits: Limits, redact: bool) -> Episode:
    """``episode`` moved into ``namespace``, every field checked, limited and redacted.

    Raises :class:`~selfmem.errors.InvalidInputError` naming the field and the limit.
    """
    check_id(episode.id, "id")
    if redact and redact_text(episode.id) != episode.id:
        raise InvalidInputError("id looks like it holds a secret", field="id")
    _times(episode)
    header = prepare_episode(
        namespace, episode.task_description, episode.context, episode.task_type,
        episode.metadata, limits, redact,
    )  # fmt: skip
    replaced: list[str] = []
    outcome = episode.outcome
    if outcome is not None:
        outcome = prepare_outcome(outcome, limits, redact, replaced)
    reward = episode.reward and _reward(episode.reward, limits, redact, replaced)
    reflection = episode.reflection and _reflection(episode.reflection, limits, redact, replaced)
    return header.model_copy(
        update={
            "id": episode.id,
            "start_time": episode.start_time,
            "end_time": episode.end_time,
            "steps": _steps(episode.steps, limits, redact),
            "outcome": outcome,
            "reward": reward,
            "reflection": reflection,
            "metadata": note_replaced(header.metadata, replaced),
        }
    )
