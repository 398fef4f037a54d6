"""The result of ``retrieve_relevant_context``: ranked experience and its prompt rendering."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..records.episodes import Episode, OutcomeStatus
from ..records.learned import ToolSequence
from .pattern_ranking import ScoredHeuristic, ScoredPattern

__all__ = ["RetrievalResult", "ScoredEpisode", "estimate_tokens"]


def estimate_tokens(text: str) -> int:
    """A cheap token estimate (about four characters per token)."""
    return (len(text) + 3) // 4


@dataclass(frozen=True, slots=True)
class ScoredEpisode:
    """A retrieved episode, its fused score and the signals behind it."""

    episode: Episode
    score: float
    signals: dict[str, float]

    def explain(self) -> str:
        parts = ", ".join(f"{name} {value:.2f}" for name, value in self.signals.items())
        return f"score {self.score:.3f} ({parts})"


@dataclass(slots=True)
class RetrievalResult:
    """Ranked episodes, learned patterns and heuristics for a task."""

    query: str
    episodes: list[ScoredEpisode] = field(default_factory=list)
    patterns: list[ScoredPattern] = field(default_factory=list)
    heuristics: list[ScoredHeuristic] = field(default_factory=list)

    def pattern_ids(self) -> list[str]:
        """Ids of the patterns behind this result (pass to ``record_feedback``)."""
        return [scored.pattern.id for scored in self.patterns]

    @property
    def successes(self) -> list[ScoredEpisode]:
        return [s for s in self.episodes if s.episode.outcome and s.episode.outcome.is_success]

    @property
    def failures(self) -> list[ScoredEpisode]:
        return [
            s
            for s in self.episodes
            if s.episode.outcome and s.episode.outcome.status is OutcomeStatus.FAILURE
        ]

    @property
    def abandoned(self) -> list[ScoredEpisode]:
        """Runs stopped before they finished: context, not evidence of what works."""
        return [s for s in self.episodes if s.episode.outcome and s.episode.outcome.is_abandoned]

    def __len__(self) -> int:
        return len(self.episodes) + len(self.patterns) + len(self.heuristics)

    def _repr_html_(self) -> str:  # Jupyter: ranked results, their signals, the prompt text
        from ..records.html import retrieval_html

        return retrieval_html(self.query, self.episodes, self.patterns, self.heuristics,
                              self.render())  # fmt: skip

    def render(self, max_tokens: int = 400) -> str:
        """Compact prompt text: what worked, what to avoid, a suggested tool sequence.

        Lines are added best first until the token budget is spent. Empty when nothing
        relevant was found.
        """
        lines = _render_lines(self)
        if not lines:
            return ""
        kept: list[str] = []
        used = 0
        for line in lines:
            cost = estimate_tokens(line) + 1
            if used + cost > max_tokens:
                break
            kept.append(line)
            used += cost
        while kept and kept[-1].endswith(":"):  # never end on a header without items
            kept.pop()
        return "\n".join(kept) if len(kept) > 1 else ""


def _render_lines(result: RetrievalResult) -> list[str]:
    unfinished = result.abandoned
    worked = [s for s in result.episodes if s not in result.failures and s not in unfinished]
    lines = ["Relevant past experience:"]
    learned = next(
        (s.pattern for s in result.patterns if isinstance(s.pattern, ToolSequence)), None
    )
    current = [s for s in result.successes if not _outdated(s)]
    best = next((s for s in current or result.successes if s.episode.steps), None)
    if learned is not None:
        lines.append(f"Suggested tool sequence: {' -> '.join(learned.tools)}")
    elif best is not None:
        worked_steps = [s for s in best.episode.steps if s.success]
        clean = best.episode.model_copy(update={"steps": worked_steps})
        lines.append(f"Suggested tool sequence: {clean.tool_sequence()}")
    if result.heuristics:
        lines.append("Learned rules:")
        lines.extend(f"- {scored.explain()}" for scored in result.heuristics)
    if worked:
        lines.append("What worked:")
        for scored in worked:
            ep = scored.episode
            outcome = ep.outcome.summary() if ep.outcome else "open"
            sequence = ep.tool_sequence() or "no tools"
            note = " (no longer works for similar tasks)" if _outdated(scored) else ""
            lines.append(f"- {ep.task_description[:160]} [{outcome[:120]}] via {sequence}{note}")
    if result.failures:
        lines.append("What to avoid:")
        for scored in result.failures:
            ep = scored.episode
            errors = [s for s in ep.steps if not s.success]
            detail = f"{errors[-1].tool}: {(errors[-1].error or '')[:120]}" if errors else ""
            reason = ep.outcome.reason if ep.outcome else ""
            lines.append(f"- {ep.task_description[:160]} failed ({reason}) {detail}".rstrip())
    if unfinished:
        lines.append("Stopped before finishing (no verdict):")
        for scored in unfinished:
            ep = scored.episode
            sequence = ep.tool_sequence() or "no tools"
            reason = (ep.outcome.reason if ep.outcome else None) or "abandoned"
            lines.append(f"- {ep.task_description[:160]} [abandoned: {reason[:80]}] via {sequence}")
    return lines if len(lines) > 1 else []


def _outdated(scored: ScoredEpisode) -> bool:
    """A run whose way of doing the task has stopped working (its family's procedure
    changed, or the runs that followed it failed)."""
    return "superseded" in scored.signals or "failed_when_followed" in scored.signals
