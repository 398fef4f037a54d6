"""Deterministic reflection: what worked, what failed, what to improve, from the steps alone."""

from __future__ import annotations

from collections import Counter

from ..models import Episode, ExecutionStep, OutcomeStatus, Reflection, TaskOutcome

__all__ = ["reflect", "tool_sequence"]

_SLOW_MS = 5_000.0


def tool_sequence(episode: Episode, max_len: int = 12) -> str:
    """``a -> b -> c`` of the tools used, consecutive repeats collapsed."""
    tools: list[str] = []
    for step in episode.steps:
        if not tools or tools[-1] != step.tool:
            tools.append(step.tool)
    shown = tools[:max_len]
    return " -> ".join(shown) + (" -> ..." if len(tools) > max_len else "")


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
        insights.append(f"recovered from {len(errors)} failed step(s) and still succeeded")
    if episode.steps:
        distinct = len({s.tool for s in episode.steps})
        insights.append(f"{len(episode.steps)} steps with {distinct} distinct tools")
    return insights


def _recommendations(
    episode: Episode, outcome: TaskOutcome, sequence: str, errors: list[ExecutionStep]
) -> list[str]:
    if outcome.status is OutcomeStatus.SUCCESS and sequence:
        return [f"for similar {episode.task_type.value} tasks, try: {sequence}"]
    if outcome.status is OutcomeStatus.FAILURE and errors:
        return [f"avoid repeating {errors[-1].tool} the same way; it failed last"]
    return []


def reflect(episode: Episode) -> Reflection:
    """Reflect on a completed episode without an LLM."""
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
        recommendations=_recommendations(episode, outcome, sequence, errors),
    )
