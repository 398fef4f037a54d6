"""How episodes, patterns and heuristics look on a terminal and in ``--json``."""

from __future__ import annotations

from typing import Any

from ..records.episodes import Episode, OutcomeStatus, TaskOutcome
from ..records.learned import AnyPattern
from .output import Output, cell

__all__ = ["episode_header", "outcome_text", "pattern_record", "show_episode", "show_pattern"]

_TEXT = 200  # characters of a step's observation shown in a table (--json has all of it)


def episode_header(episode: Episode) -> dict[str, Any]:
    """An episode without its steps, as JSON-ready data."""
    return episode.model_dump(mode="json", exclude={"steps"})


def pattern_record(pattern: AnyPattern) -> dict[str, Any]:
    """A pattern as JSON-ready data, with its description and confidence."""
    return {**pattern.model_dump(mode="json"), "description": pattern.describe(),
            "confidence": pattern.confidence}  # fmt: skip


def outcome_text(outcome: TaskOutcome | None) -> str:
    """``success``, ``success: login test passes``, ``failure: <reason>``: the status, then
    the verdict (the reason of a failure) when there is one, never the status twice."""
    if outcome is None:
        return "open (not completed)"
    status = outcome.status.value
    stopped = (OutcomeStatus.FAILURE, OutcomeStatus.ABANDONED)
    detail = outcome.reason if outcome.status in stopped else outcome.verdict
    return f"{status}: {detail}" if detail else status


def _context(episode: Episode) -> str:
    ctx = episode.context
    parts = [f"domain {ctx.domain}", f"complexity {ctx.complexity.value}"]
    parts += [f"{name} {value}" for name, value in
              (("language", ctx.language), ("framework", ctx.framework)) if value]  # fmt: skip
    if ctx.tags:
        parts.append("tags " + ", ".join(ctx.tags))
    return "; ".join(parts)


def _bullets(out: Output, title: str, items: list[str]) -> None:
    if items:
        out.line(f"{title}:")
        for item in items:
            out.line(f"  - {item}")


def show_episode(out: Output, episode: Episode, *, steps: bool = True) -> None:
    """The episode for people: header, steps, outcome, reward and reflection."""
    outcome = outcome_text(episode.outcome)
    out.fields([
        ("id", episode.id), ("namespace", episode.namespace), ("task", episode.task_description),
        ("type", episode.task_type.value), ("context", _context(episode)),
        ("started", episode.start_time), ("ended", episode.end_time), ("outcome", outcome),
        ("reward", episode.reward.total if episode.reward else None),
        ("steps", len(episode.steps)),
    ])  # fmt: skip
    if steps and episode.steps:
        out.line()
        rows = [
            (s.step_number, s.tool, "ok" if s.success else "FAILED", s.latency_ms,
             cell(s.error if s.error else s.observation, width=_TEXT))
            for s in episode.steps
        ]  # fmt: skip
        out.table(("#", "tool", "result", "ms", "observation / error"), rows, empty="")
    if episode.reward and episode.reward.explanation:
        out.line()
        _bullets(out, "reward", episode.reward.explanation)
    if episode.reflection:
        r = episode.reflection
        out.line()
        for title, items in (("what worked", r.what_worked), ("what failed", r.what_failed),
                             ("improvements", r.improvements), ("insights", r.insights),
                             ("recommendations", r.recommendations)):  # fmt: skip
            _bullets(out, title, items)


def show_pattern(out: Output, pattern: AnyPattern) -> None:
    out.fields([
        ("id", pattern.id), ("kind", pattern.kind.value), ("pattern", pattern.describe()),
        ("confidence", pattern.confidence), ("support", pattern.support),
        ("successes", pattern.successes), ("average reward", pattern.avg_reward),
        ("context", pattern.context.describe()), ("first seen", pattern.first_seen),
        ("last seen", pattern.last_seen), ("retired", pattern.retired),
        ("recent episodes", ", ".join(pattern.episode_ids[-3:]) or None),
    ])  # fmt: skip
    if pattern.feedback_uses:
        out.line(f"{'feedback':<18} {pattern.feedback_successes} of "
                 f"{pattern.feedback_uses} uses succeeded")  # fmt: skip
