"""From core records to tool results, and from selfmem errors to MCP tool errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mcp.server.mcpserver.exceptions import ToolError

from .. import RetrievalResult, ScoredPattern
from ..errors import SelfMemError
from ..records.learned import AnyPattern, Heuristic
from .schemas import (
    ContextResult,
    EpisodeSummary,
    HeuristicOut,
    PatternOut,
    ScoredEpisodeOut,
    ScoredPatternOut,
)

__all__ = ["context_result", "heuristic_out", "pattern_out", "scored_pattern_out", "tool_errors"]

NOTHING_FOUND = "No relevant past experience found for this task."


@contextmanager
def tool_errors() -> Iterator[None]:
    """Turn every error selfmem raises on purpose into a tool error the model can read.

    The SDK reports a :class:`ToolError` as ``is_error=True`` with this message; anything
    else would be a crash, reported as a bare "Error executing tool".
    """
    try:
        yield
    except SelfMemError as exc:
        field = getattr(exc, "field", None)
        where = f" (field {field!r})" if field else ""
        raise ToolError(f"{type(exc).__name__}{where}: {exc}") from exc


def pattern_out(pattern: AnyPattern) -> PatternOut:
    return PatternOut(
        id=pattern.id,
        kind=pattern.kind,
        description=pattern.describe(),
        confidence=round(pattern.confidence, 4),
        support=pattern.support,
        successes=pattern.successes,
        context=pattern.context.describe(),
        retired=pattern.retired,
    )


def scored_pattern_out(scored: ScoredPattern) -> ScoredPatternOut:
    return ScoredPatternOut(
        pattern=pattern_out(scored.pattern),
        score=round(scored.score, 4),
        signals={name: round(value, 4) for name, value in scored.signals.items()},
    )


def heuristic_out(heuristic: Heuristic) -> HeuristicOut:
    return HeuristicOut(
        id=heuristic.id,
        kind=heuristic.kind,
        rule=heuristic.explain(),
        condition=heuristic.condition,
        action=heuristic.action,
        confidence=round(heuristic.confidence, 4),
        evidence=heuristic.evidence,
    )


def context_result(result: RetrievalResult, max_tokens: int) -> ContextResult:
    """The structured form of a retrieval; ``rendered`` is its prompt text."""
    return ContextResult(
        query=result.query,
        rendered=result.render(max_tokens=max_tokens) or NOTHING_FOUND,
        episodes=[
            ScoredEpisodeOut(
                episode=EpisodeSummary.of(scored.episode),
                score=round(scored.score, 4),
                signals={name: round(value, 4) for name, value in scored.signals.items()},
            )
            for scored in result.episodes
        ],
        patterns=[scored_pattern_out(scored) for scored in result.patterns],
        heuristics=[heuristic_out(scored.heuristic) for scored in result.heuristics],
        pattern_ids=result.pattern_ids(),
    )
