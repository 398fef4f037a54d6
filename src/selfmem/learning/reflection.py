"""Deterministic reflection: what worked, what failed, what to improve, from the steps alone."""

from __future__ import annotations

from collections import Counter

from ..models import Episode, OutcomeStatus, Reflection

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
    calls = Counter(
        (step.tool, repr(sorted(step.parameters.items()))) for step in episode.steps
    )
    return [tool for (tool, _), count in calls.items() if count > 1]


def reflect(episode: Episode) -> Reflection:
    """Reflect on a completed episode without an LLM."""
    if episode.outcome is None:
        raise ValueError("cannot reflect on an episode without an outcome")
    outcome = episode.outcome
    worked: list[str] = []
    failed: list[str] = []
    improvements: list[str] = []
    insights: list[str] = []
    recommendations: list[str] = []
    sequence = tool_sequence(episode)
    ok_tools = sorted({s.tool for s in episode.steps if s.success})
    if outcome.status is not OutcomeStatus.FAILURE and sequence:
        worked.append(f"tool sequence {sequence} reached {outcome.status.value.replace('_', ' ')}")
    if ok_tools:
        worked.append(f"successful tools: {', '.join(ok_tools)}")
    for step in episode.steps:
        if not step.success:
            where = f"step {step.step_number} " if step.step_number else ""
            failed.append(f"{where}{step.tool} failed: {step.error or 'no detail'}")
    if outcome.status is OutcomeStatus.FAILURE:
        failed.append(f"task failed: {outcome.reason}")
    failed.extend(f"not completed: {item}" for item in outcome.failed)
    for tool in _repeated_calls(episode):
        improvements.append(f"{tool} was called more than once with the same arguments")
    for step in episode.steps:
        if step.latency_ms >= _SLOW_MS:
            improvements.append(f"{step.tool} took {step.latency_ms / 1000:.1f}s")
    errors = [s for s in episode.steps if not s.success]
    if errors and outcome.status is OutcomeStatus.SUCCESS:
        insights.append(f"recovered from {len(errors)} failed step(s) and still succeeded")
    if episode.steps:
        insights.append(f"{len(episode.steps)} steps with {len(set(s.tool for s in episode.steps))} distinct tools")
    if outcome.status is OutcomeStatus.SUCCESS and sequence:
        recommendations.append(f"for similar {episode.task_type.value} tasks, try: {sequence}")
    elif outcome.status is OutcomeStatus.FAILURE and errors:
        recommendations.append(f"avoid repeating {errors[-1].tool} the same way; it failed last")
    return Reflection(
        what_worked=worked,
        what_failed=failed,
        improvements=improvements,
        insights=insights,
        recommendations=recommendations,
    )
