"""Heuristics: condition -> action rules derived from served patterns.

One heuristic per served pattern, so evidence is never double counted:

- a tool sequence      -> *follow the sequence* for that task family;
- a decision point     -> *prefer* the better next tool over the worse one;
- an error recovery    -> *recover* with the tool that worked (or *avoid* blind retries);
- a context pattern    -> *prefer* or *avoid* a tool under that context feature.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..records.learned import (
    AnyPattern,
    ContextPattern,
    DecisionPoint,
    ErrorRecovery,
    Heuristic,
    HeuristicKind,
    ToolSequence,
    stable_id,
)

__all__ = ["derive_heuristic", "derive_heuristics"]


def _rule(pattern: AnyPattern) -> tuple[HeuristicKind, str, str, str | None]:
    if isinstance(pattern, ToolSequence):
        return (
            HeuristicKind.FOLLOW_SEQUENCE,
            f"When working on {pattern.context.describe()}",
            f"follow {' -> '.join(pattern.tools)}",
            pattern.tools[0],
        )
    if isinstance(pattern, DecisionPoint):
        return (
            HeuristicKind.PREFER,
            f"After {pattern.after_tool}",
            f"run {pattern.best} rather than {pattern.worst}",
            pattern.best,
        )
    if isinstance(pattern, ErrorRecovery):
        condition = f"When {pattern.tool} fails with '{pattern.error_class}'"
        if pattern.best_recovery is None:
            return (
                HeuristicKind.AVOID,
                condition,
                "do not retry it blindly: nothing has recovered it",
                pattern.tool,
            )
        if pattern.best_recovery == "retry":
            return HeuristicKind.RECOVER, condition, f"retry {pattern.tool}", pattern.tool
        return (
            HeuristicKind.RECOVER,
            condition,
            f"run {pattern.best_recovery}, then retry {pattern.tool}",
            pattern.best_recovery,
        )
    assert isinstance(pattern, ContextPattern)
    kind = HeuristicKind.PREFER if pattern.association == "success" else HeuristicKind.AVOID
    verb = "use" if kind is HeuristicKind.PREFER else "avoid"
    return (
        kind,
        f"When {pattern.feature.replace('=', ' is ')}",
        f"{verb} {pattern.tool}",
        pattern.tool,
    )


def derive_heuristic(pattern: AnyPattern) -> Heuristic:
    """The heuristic a served pattern supports."""
    kind, condition, action, tool = _rule(pattern)
    if isinstance(pattern, DecisionPoint) and pattern.best is not None:
        best = pattern.choices[pattern.best]
        evidence, successes = best.n, best.successes
    elif isinstance(pattern, ErrorRecovery) and pattern.best_recovery is not None:
        stats = pattern.recoveries[pattern.best_recovery]
        evidence, successes = stats.n, stats.successes
    else:
        evidence, successes = pattern.support, pattern.successes
    return Heuristic(
        id=stable_id(pattern.namespace, "heuristic", pattern.id),
        namespace=pattern.namespace,
        kind=kind,
        condition=condition,
        action=action,
        tool=tool,
        evidence=evidence,
        successes=successes,
        confidence=round(pattern.confidence, 4),
        context=pattern.context.model_copy(),
        source_pattern_ids=[pattern.id],
        episode_ids=list(pattern.episode_ids[-10:]),
        updated_at=pattern.last_seen,
    )


def derive_heuristics(patterns: Iterable[AnyPattern]) -> list[Heuristic]:
    """Heuristics for served patterns, most confident first."""
    found = [derive_heuristic(pattern) for pattern in patterns]
    found.sort(key=lambda h: (h.confidence, h.evidence), reverse=True)
    return found
