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
    HeuristicTrigger,
    ToolSequence,
    stable_id,
)

__all__ = ["derive_heuristic", "derive_heuristics"]


_Rule = tuple[HeuristicKind, str, str, list[str], HeuristicTrigger]


def _sequence_rule(pattern: ToolSequence) -> _Rule:
    task = f"tasks like '{pattern.sample_task[:80]}'" if pattern.sample_task else "this task"
    steps = " -> ".join(pattern.tools)
    if pattern.key.startswith("progress:"):  # how far failed runs got: not a way that works
        action = f"start with {steps}, which is as far as the most similar runs got"
        action += " (none succeeded)"
    elif pattern.key.startswith("transfer:"):  # learned in another language or framework
        action = f"follow {steps}, as runs in another language or framework did"
        action += ", adapting their language-specific steps"
    else:
        action = f"follow {steps}"
    return (
        HeuristicKind.FOLLOW_SEQUENCE,
        f"When working on {task} ({pattern.context.describe()})",
        action,
        list(pattern.tools),
        HeuristicTrigger(family=pattern.key),
    )


def _recovery_rule(pattern: ErrorRecovery) -> _Rule:
    condition = f"When {pattern.tool} fails with '{pattern.error_class}'"
    trigger = HeuristicTrigger(tool=pattern.tool, error_class=pattern.error_class)
    best = pattern.best_recovery
    if best is None:
        action = "do not retry it blindly: nothing has recovered it"
        return HeuristicKind.AVOID, condition, action, [pattern.tool], trigger
    mode = pattern.best_mode or ("retry" if best == "retry" else "fix")
    if mode == "retry":
        return HeuristicKind.RECOVER, condition, f"retry {pattern.tool}", [pattern.tool], trigger
    if mode == "replace":
        action = f"run {best} instead of {pattern.tool}"
        return HeuristicKind.RECOVER, condition, action, [best], trigger
    action = f"run {best}, then retry {pattern.tool}"
    return HeuristicKind.RECOVER, condition, action, [best, pattern.tool], trigger


def _rule(pattern: AnyPattern) -> _Rule:
    if isinstance(pattern, ToolSequence):
        return _sequence_rule(pattern)
    if isinstance(pattern, DecisionPoint):
        return (
            HeuristicKind.PREFER,
            f"After {pattern.after_tool}",
            f"run {pattern.best} rather than {pattern.worst}",
            [pattern.best or ""],
            HeuristicTrigger(after_tool=pattern.after_tool, family=pattern.family or None),
        )
    if isinstance(pattern, ErrorRecovery):
        return _recovery_rule(pattern)
    assert isinstance(pattern, ContextPattern)
    kind = HeuristicKind.PREFER if pattern.association == "success" else HeuristicKind.AVOID
    verb = "use" if kind is HeuristicKind.PREFER else "avoid"
    return (
        kind,
        f"When {pattern.feature.replace('=', ' is ')}",
        f"{verb} {pattern.tool}",
        [pattern.tool],
        HeuristicTrigger(feature=pattern.feature, family=pattern.family or None),
    )


def derive_heuristic(pattern: AnyPattern) -> Heuristic:
    """The heuristic a served pattern supports."""
    kind, condition, action, tools, trigger = _rule(pattern)
    best = pattern.best_stats() if isinstance(pattern, ErrorRecovery) else None
    if isinstance(pattern, DecisionPoint) and pattern.best is not None:
        choice = pattern.choices[pattern.best]
        evidence, successes = choice.n, choice.successes
    elif best is not None:
        evidence, successes = best.n, best.successes
    else:
        evidence, successes = pattern.support, pattern.successes
    return Heuristic(
        id=stable_id(pattern.namespace, "heuristic", pattern.id),
        namespace=pattern.namespace,
        kind=kind,
        condition=condition,
        action=action,
        tool=tools[0] if tools else None,
        tools=tools,
        trigger=trigger,
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
