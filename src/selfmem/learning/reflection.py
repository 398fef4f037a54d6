"""Reflection: what worked, what failed, what to improve, and what learned patterns advise.

:func:`reflect` is deterministic and needs no LLM. Any object with a ``reflect(episode,
patterns)`` method satisfies :class:`Reflector` (e.g. one that asks a chat model);
:func:`reflect_safely` falls back to the deterministic reflection if it fails.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ..records.episodes import Episode, ExecutionStep, OutcomeStatus, Reflection, TaskOutcome
from ..records.learned import AnyPattern, DecisionPoint, ErrorRecovery, ToolSequence
from .error_classes import normalize_error
from .extractors import is_subsequence, tool_path

__all__ = ["DeterministicReflector", "Reflector", "reflect", "reflect_safely", "tool_sequence"]

logger = logging.getLogger(__name__)

_SLOW_MS = 5_000.0


def _count(n: int, noun: str) -> str:
    """``1 error``, ``2 errors``: the count and its noun in agreement."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def tool_sequence(episode: Episode, max_len: int = 12) -> str:
    """``a -> b -> c`` of the tools used, consecutive repeats collapsed."""
    return episode.tool_sequence(max_len)


def _repeated_calls(episode: Episode) -> list[str]:
    """Tools called successfully more than once with identical arguments (redundant work)."""
    calls = Counter(
        (step.tool, repr(sorted(step.parameters.items()))) for step in episode.steps if step.success
    )
    return [tool for (tool, _), count in calls.items() if count > 1]


def _what_worked(episode: Episode, outcome: TaskOutcome, sequence: str) -> list[str]:
    worked: list[str] = []
    if outcome.status is not OutcomeStatus.FAILURE and sequence:
        worked.append(f"tool sequence {sequence} reached {outcome.status.value.replace('_', ' ')}")
    ok_tools = sorted({s.tool for s in episode.steps if s.success})
    if ok_tools:
        worked.append(f"successful tools: {', '.join(ok_tools)}")
    return worked


def _what_failed(episode: Episode, outcome: TaskOutcome) -> list[str]:
    failed: list[str] = []
    for step in episode.steps:
        if not step.success:
            where = f"step {step.step_number} " if step.step_number else ""
            failed.append(f"{where}{step.tool} failed: {step.error or 'no detail'}")
    if outcome.status is OutcomeStatus.FAILURE:
        failed.append(f"task failed: {outcome.reason}")
    failed.extend(f"not completed: {item}" for item in outcome.failed)
    return failed


def _improvements(episode: Episode) -> list[str]:
    found = [
        f"{tool} was called more than once with the same arguments"
        for tool in _repeated_calls(episode)
    ]
    found.extend(
        f"{step.tool} took {step.latency_ms / 1000:.1f}s"
        for step in episode.steps
        if step.latency_ms >= _SLOW_MS
    )
    return found


def _insights(episode: Episode, outcome: TaskOutcome, errors: list[ExecutionStep]) -> list[str]:
    insights: list[str] = []
    if errors and outcome.status is OutcomeStatus.SUCCESS:
        insights.append(f"recovered from {_count(len(errors), 'failed step')} and still succeeded")
    if episode.steps:
        distinct = len({s.tool for s in episode.steps})
        insights.append(
            f"{_count(len(episode.steps), 'step')} with {_count(distinct, 'distinct tool')}"
        )
    return insights


def _recommendations(
    episode: Episode, outcome: TaskOutcome, sequence: str, errors: list[ExecutionStep]
) -> list[str]:
    if outcome.status is OutcomeStatus.SUCCESS and sequence:
        return [f"for similar {episode.task_type.value} tasks, try: {sequence}"]
    if outcome.status is OutcomeStatus.FAILURE and errors:
        return [f"avoid repeating {errors[-1].tool} the same way; it failed last"]
    return []


def _pattern_advice(episode: Episode, patterns: Sequence[AnyPattern]) -> list[str]:
    """Recommendations from learned patterns that bear on this episode, citing their ids."""
    path = tool_path(episode)
    failed = {(s.tool, normalize_error(s.error)) for s in episode.steps if not s.success}
    transitions = set(itertools.pairwise(path))
    advice: list[str] = []
    for pattern in patterns:
        if isinstance(pattern, ErrorRecovery) and (pattern.tool, pattern.error_class) in failed:
            advice.append(f"[pattern {pattern.id}] {pattern.describe()}")
        elif (
            isinstance(pattern, DecisionPoint)
            and (pattern.after_tool, pattern.worst) in transitions
        ):
            advice.append(
                f"[pattern {pattern.id}] after {pattern.after_tool}, prefer {pattern.best} "
                f"over {pattern.worst}"
            )
        elif isinstance(pattern, ToolSequence) and not is_subsequence(pattern.tools, path):
            advice.append(
                f"[pattern {pattern.id}] similar tasks succeed with {' -> '.join(pattern.tools)}"
            )
    return advice


def reflect(episode: Episode, patterns: Sequence[AnyPattern] = ()) -> Reflection:
    """Reflect on a completed episode without an LLM.

    ``patterns`` are learned patterns relevant to the episode; those that bear on what
    happened (an error with a known recovery, a worse choice at a decision point, a tool
    sequence not followed) become recommendations that cite the pattern id.
    """
    if episode.outcome is None:
        raise ValueError("cannot reflect on an episode without an outcome")
    outcome = episode.outcome
    sequence = tool_sequence(episode)
    errors = [s for s in episode.steps if not s.success]
    return Reflection(
        what_worked=_what_worked(episode, outcome, sequence),
        what_failed=_what_failed(episode, outcome),
        improvements=_improvements(episode),
        insights=_insights(episode, outcome, errors),
        recommendations=[
            *_recommendations(episode, outcome, sequence, errors),
            *_pattern_advice(episode, patterns),
        ],
    )


@runtime_checkable
class Reflector(Protocol):
    """Writes a reflection for a completed episode (e.g. with an LLM)."""

    def reflect(self, episode: Episode, patterns: Sequence[AnyPattern]) -> Reflection: ...


class DeterministicReflector:
    """The default :class:`Reflector`: :func:`reflect`."""

    def reflect(self, episode: Episode, patterns: Sequence[AnyPattern]) -> Reflection:
        return reflect(episode, patterns)


def reflect_safely(
    reflector: Reflector | None, episode: Episode, patterns: Sequence[AnyPattern] = ()
) -> Reflection:
    """Use ``reflector``; on any failure log it and fall back to :func:`reflect`."""
    if reflector is None:
        return reflect(episode, patterns)
    try:
        reflection = reflector.reflect(episode, patterns)
        if not isinstance(reflection, Reflection):
            raise TypeError(f"reflector returned {type(reflection).__name__}, not Reflection")
        return reflection
    except Exception:  # a user-supplied plugin must never lose the episode
        logger.warning("reflector failed for episode %s; using the deterministic one",
                       episode.id, exc_info=True)  # fmt: skip
        return reflect(episode, patterns)
