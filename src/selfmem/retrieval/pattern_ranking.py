"""Ranking learned patterns and heuristics for a new task.

``score = effectiveness * (0.4 * context + 0.4 * lexical + 0.2 * kind_prior)`` where
*effectiveness* is the pattern's decayed confidence, *context* compares the pattern's context
with the task's (a field the pattern leaves open counts half), *lexical* is the overlap of
the pattern's words (tool names split on ``_``/``-``, error words) with the task description
relative to the smaller of the two, and *kind_prior* favours the most directly usable kinds
(a task family's tool sequence 1.0, recoveries and decisions 0.6, context patterns 0.5).
A pattern is only offered when it is plausibly about this task: it shares a word with the
description, or its context matches closely (``context >= 0.9``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..learning.heuristics import derive_heuristic
from ..learning.records import (
    AnyPattern,
    ContextPattern,
    DecisionPoint,
    ErrorRecovery,
    Heuristic,
    PatternContext,
    PatternKind,
    ToolSequence,
)
from ..models import TaskContext, TaskType
from .lexical import query_terms

__all__ = ["ScoredHeuristic", "ScoredPattern", "rank_patterns"]

_SPLIT = re.compile(r"[_\-\s./]+")
_KIND_PRIOR = {
    PatternKind.TOOL_SEQUENCE: 1.0,
    PatternKind.ERROR_RECOVERY: 0.6,
    PatternKind.DECISION_POINT: 0.6,
    PatternKind.CONTEXT_PATTERN: 0.5,
}


@dataclass(frozen=True, slots=True)
class ScoredPattern:
    pattern: AnyPattern
    score: float
    signals: dict[str, float]

    def explain(self) -> str:
        parts = ", ".join(f"{name} {value:.2f}" for name, value in self.signals.items())
        return f"score {self.score:.3f} ({parts}): {self.pattern.describe()}"


@dataclass(frozen=True, slots=True)
class ScoredHeuristic:
    heuristic: Heuristic
    score: float

    def explain(self) -> str:
        return self.heuristic.explain()


def _context_score(
    pattern: PatternContext, query: TaskContext | None, task_type: TaskType | None
) -> float:
    """Context fit in [0, 1] over the fields the task states; a field the pattern leaves
    open (it held across several contexts) earns half."""
    pairs: list[tuple[float, object, object]] = [
        (0.4, pattern.domain, query.domain if query else None),
        (0.3, pattern.language, query.language if query else None),
        (0.3, pattern.task_type, task_type),
    ]
    score = applicable = 0.0
    for weight, theirs, ours in pairs:
        if ours is None:
            continue
        applicable += weight
        if theirs is None:
            score += weight * 0.5
        elif str(theirs).lower() == str(ours).lower():
            score += weight
    return score / applicable if applicable else 0.5


def _words(pattern: AnyPattern) -> set[str]:
    if isinstance(pattern, ToolSequence):
        texts = pattern.tools
    elif isinstance(pattern, DecisionPoint):
        texts = [pattern.after_tool, pattern.best or "", pattern.worst or ""]
    elif isinstance(pattern, ErrorRecovery):
        texts = [pattern.tool, pattern.error_class, pattern.best_recovery or ""]
    else:
        assert isinstance(pattern, ContextPattern)
        texts = [pattern.tool, pattern.feature.split("=", 1)[-1]]
    return {word for text in texts for word in _SPLIT.split(text.lower()) if len(word) > 2}


def rank_patterns(
    patterns: Iterable[AnyPattern],
    description: str,
    context: TaskContext | None,
    task_type: TaskType | None,
    limit: int,
) -> tuple[list[ScoredPattern], list[ScoredHeuristic]]:
    """Rank served patterns for a task; each also yields its heuristic, ranked alike."""
    terms = set(query_terms(description))
    scored: list[ScoredPattern] = []
    for pattern in patterns:
        words = _words(pattern)
        overlap = len(words & terms)
        lexical = overlap / min(len(words), len(terms)) if words and terms else 0.0
        ctx = _context_score(pattern.context, context, task_type)
        if overlap == 0 and ctx < 0.9:
            continue
        effectiveness = pattern.effectiveness()
        prior = _KIND_PRIOR[pattern.kind]
        score = effectiveness * (0.4 * ctx + 0.4 * lexical + 0.2 * prior)
        signals = {"effectiveness": effectiveness, "context": ctx, "lexical": lexical,
                   "kind_prior": prior}  # fmt: skip
        scored.append(ScoredPattern(pattern, score, signals))
    scored.sort(key=lambda s: (s.score, s.pattern.support), reverse=True)
    top = scored[:limit]
    heuristics = [ScoredHeuristic(derive_heuristic(s.pattern), s.score) for s in top]
    return top, heuristics
