"""Findings that another pattern already states: one finding, one pattern.

Context findings over the same runs (two features that always come together) become one
pattern that lists the others as ``aliases``; a decision that a served context pattern, an
error's replacement or the same step's options already state is not served again.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..records.learned import AnyPattern, ContextPattern, DecisionPoint, ErrorRecovery

__all__ = ["explained_decisions", "merge_duplicates", "options_test"]


def merge_duplicates(found: list[ContextPattern]) -> set[str]:
    """Ids of context findings that repeat another's evidence; the first feature keeps it."""
    groups: dict[tuple[object, ...], list[ContextPattern]] = {}
    for p in found:
        evidence = (
            p.family, p.tool, p.measure, p.support, p.successes, p.baseline.n,
            p.baseline.successes,
        )  # fmt: skip
        groups.setdefault(evidence, []).append(p)
    hidden: set[str] = set()
    for group in groups.values():
        group.sort(key=lambda p: p.feature)
        group[0].aliases = [p.feature for p in group[1:]]
        hidden.update(p.id for p in group[1:])
    return hidden


def options_test(pattern: AnyPattern) -> bool:
    """Whether the pattern compares the options of a step (a decision with ``option_stats``)."""
    return isinstance(pattern, DecisionPoint) and bool(pattern.option_stats)


def explained_decisions(
    patterns: Mapping[str, AnyPattern],
    passed: set[str],
    contexts: list[ContextPattern],
) -> set[str]:
    """Decision points that another pattern already states, one finding, one pattern: a
    choice is a tool that a served context pattern of the family explains (the tool's effect
    depends on a feature); the worse choice failed and its error's recovery is to replace it
    with the better (a deprecated tool and its successor); the same two options of a step,
    compared again on the runs that took them right after an optional step."""
    decisions = [d for pid in passed if isinstance(d := patterns[pid], DecisionPoint)]
    if not decisions:
        return set()
    specific = {(c.family, c.tool) for c in contexts if c.measure == "outcome"}
    replaced = {
        (e.tool, e.best_recovery)
        for e in patterns.values()
        if isinstance(e, ErrorRecovery) and e.best_mode == "replace"
    }
    # the options of a step, judged on all their runs, stated again after an optional step
    pooled = {(d.family, d.best, d.worst) for d in decisions if d.option_stats}
    return {
        d.id
        for d in decisions
        if (d.family, d.best) in specific
        or (d.family, d.worst) in specific
        or (d.worst, d.best) in replaced
        or (not d.option_stats and (d.family, d.best, d.worst) in pooled)
    }
