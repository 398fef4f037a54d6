"""Ranking learned patterns and heuristics for a new task.

``score = effectiveness * (0.4 * context + 0.4 * lexical + 0.2 * kind_prior)`` where
*effectiveness* is the pattern's decayed confidence, *context* compares the pattern's context
with the task's (a field the pattern leaves open counts half), *lexical* is the overlap of
the pattern's words (tool names split on ``_``/``-``, error words) with the task description
relative to the smaller of the two (words lightly stemmed on both sides, so "tests" meets
``run_tests``), and *kind_prior* favours the most directly usable kinds (a task family's
tool sequence 1.0, recoveries and decisions 0.6, context patterns 0.5).
A pattern is only offered when it is plausibly about this task: it shares a word with the
description, or its context matches closely (``context >= 0.9``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..learning.heuristics import derive_heuristic
from ..records.episodes import TaskContext, TaskType
from ..records.learned import (
    AnyPattern,
    ContextPattern,
    DecisionPoint,
    ErrorRecovery,
    Heuristic,
    PatternContext,
    PatternKind,
    ToolSequence,
)
from ..text.tokens import query_terms

__all__ = ["PatternCatalog", "ScoredHeuristic", "ScoredPattern", "rank_patterns"]

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

    @property
    def heuristic(self) -> Heuristic:
        """The one-sentence rule this pattern supports."""
        return derive_heuristic(self.pattern)

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


def stem(word: str) -> str:
    """A light suffix strip so "tests" meets ``run_tests`` and "deploying" meets ``deploy``."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


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
    return {stem(w) for text in texts for w in _SPLIT.split(text.lower()) if len(w) > 2}


def _field_keys(context: PatternContext) -> list[tuple[str, str]]:
    pairs = (("domain", context.domain), ("language", context.language),
             ("task_type", context.task_type))  # fmt: skip
    return [(name, str(value).lower()) for name, value in pairs if value is not None]


@dataclass(frozen=True, slots=True)
class _Entry:
    pattern: AnyPattern
    words: frozenset[str]
    effectiveness: float
    prior: float


class PatternCatalog:
    """Served patterns with what ranking needs computed once: words, effectiveness, prior,
    and indexes by word and by context value, so a query only scores the patterns that can
    be offered (they share a word with it, or every context field it states matches)."""

    def __init__(self, patterns: Iterable[AnyPattern]) -> None:
        self._entries = [
            _Entry(p, frozenset(_words(p)), p.effectiveness(), _KIND_PRIOR[p.kind])
            for p in patterns
        ]
        self._by_word: dict[str, list[int]] = {}
        self._by_field: dict[tuple[str, str], set[int]] = {}
        for i, entry in enumerate(self._entries):
            for word in entry.words:
                self._by_word.setdefault(word, []).append(i)
            for key in _field_keys(entry.pattern.context):
                self._by_field.setdefault(key, set()).add(i)

    def __len__(self) -> int:
        return len(self._entries)

    def _candidates(
        self, terms: set[str], context: TaskContext | None, task_type: TaskType | None
    ) -> set[int]:
        found = {i for term in terms for i in self._by_word.get(term, ())}
        stated = [("domain", context.domain if context else None),
                  ("language", context.language if context else None),
                  ("task_type", task_type)]  # fmt: skip
        keys = [(name, str(value).lower()) for name, value in stated if value is not None]
        if keys:
            fits = set.intersection(*(self._by_field.get(key, set()) for key in keys))
            found |= fits
        return found

    def rank(
        self,
        description: str,
        context: TaskContext | None,
        task_type: TaskType | None,
        limit: int,
    ) -> tuple[list[ScoredPattern], list[ScoredHeuristic]]:
        """The ``limit`` best patterns for a task, each with its heuristic."""
        terms = {stem(term) for term in query_terms(description)}
        scored: list[ScoredPattern] = []
        for i in sorted(self._candidates(terms, context, task_type)):
            entry = self._entries[i]
            overlap = len(entry.words & terms)
            words = entry.words
            lexical = overlap / min(len(words), len(terms)) if words and terms else 0.0
            ctx = _context_score(entry.pattern.context, context, task_type)
            if overlap == 0 and ctx < 0.9:
                continue
            effectiveness = entry.effectiveness
            score = effectiveness * (0.4 * ctx + 0.4 * lexical + 0.2 * entry.prior)
            signals = {"effectiveness": effectiveness, "context": ctx, "lexical": lexical,
                       "kind_prior": entry.prior}  # fmt: skip
            scored.append(ScoredPattern(entry.pattern, score, signals))
        scored.sort(key=lambda s: (s.score, s.pattern.support), reverse=True)
        # copies: the learner keeps changing its records after this returns
        top = [ScoredPattern(s.pattern.model_copy(deep=True), s.score, s.signals)
               for s in scored[:limit]]  # fmt: skip
        heuristics = [ScoredHeuristic(derive_heuristic(s.pattern), s.score) for s in top]
        return top, heuristics


def rank_patterns(
    patterns: Iterable[AnyPattern],
    description: str,
    context: TaskContext | None,
    task_type: TaskType | None,
    limit: int,
) -> tuple[list[ScoredPattern], list[ScoredHeuristic]]:
    """Rank served patterns for a task; each also yields its heuristic, ranked alike."""
    return PatternCatalog(patterns).rank(description, context, task_type, limit)
