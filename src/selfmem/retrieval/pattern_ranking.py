"""Ranking learned patterns and heuristics for a new task.

A new task is first matched to the **task families** it may belong to, by the same
similarity that grouped past episodes (:mod:`selfmem.learning.families`: the words of the
description weighted by rarity, and the context as a smaller signal). A pattern's
*relevance* is then:

- a family's tool sequence, decision points and context patterns: the task's similarity to
  that family;
- an error recovery: the similarity of a matched family that uses its tool (times 0.8);
- for every kind, at least 0.8 times the overlap of the pattern's words with the description
  (tool names split on ``_``/``-``, error words, lightly stemmed so "tests" meets
  ``run_tests``), relative to the smaller of the two word sets.

``score = effectiveness * (0.6 * relevance + 0.25 * context + 0.15 * kind_prior)`` where
*effectiveness* is the pattern's decayed confidence, *context* compares the pattern's context
with the task's (a field the pattern leaves open counts half), and *kind_prior* favours the
most directly usable kinds (a task family's tool sequence 1.0, recoveries and decisions 0.6,
context patterns 0.5). A pattern with no relevance is never offered, however well its context
fits; a context pattern whose feature contradicts the task's stated context (another
language, say) is not offered either.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from ..learning.families import FamilyIndex, stem
from ..learning.heuristics import derive_heuristic
from ..records.episodes import TaskContext, TaskType, utc_now
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

__all__ = [
    "PatternCatalog",
    "ScoredHeuristic",
    "ScoredPattern",
    "context_score",
    "rank_patterns",
]

#: How much word overlap with a pattern's tool names counts as relevance, next to the
#: similarity of the task to the pattern's family.
_LEXICAL_SHARE = 0.8
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


def context_score(
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
    needs: frozenset[str] = frozenset()  # words the task must name for it to be offered


def _needs(pattern: AnyPattern) -> frozenset[str]:
    """A recovery served on one use (a lead, not yet trusted) is offered only for a task
    that names its tool ("deploy failed with ..."): it is for the moment of that failure, and
    must not crowd a new task's context with one-off fixes of tools the task may not use."""
    if not isinstance(pattern, ErrorRecovery):
        return frozenset()
    stats = pattern.best_stats()
    if stats is None or stats.n > 1:
        return frozenset()
    return frozenset(stem(term) for term in query_terms(pattern.tool))


def _family_of(pattern: AnyPattern) -> str | None:
    if isinstance(pattern, ToolSequence):
        return pattern.key
    if isinstance(pattern, DecisionPoint | ContextPattern):
        return pattern.family or None
    return None


def _contradicts(
    pattern: AnyPattern, context: TaskContext | None, task_type: TaskType | None
) -> bool:
    """A context pattern about a feature the task's stated context rules out."""
    if not isinstance(pattern, ContextPattern) or context is None:
        return False
    name, _, value = pattern.feature.partition("=")
    stated = {
        "domain": context.domain,
        "language": (context.language or "").lower() or None,
        "framework": (context.framework or "").lower() or None,
        "task_type": task_type.value if isinstance(task_type, TaskType) else task_type,
    }
    if name == "tag":
        return False
    current = stated.get(name)
    return current is not None and str(current) != value


class PatternCatalog:
    """Served patterns with what ranking needs computed once: words, effectiveness (by
    ``effectiveness``, the learner's, which takes each pattern's age from what it is about),
    prior, and a snapshot of the task families (built from ``families``, the learner's family
    records, which may include families whose own sequence is not served)."""

    def __init__(
        self,
        patterns: Iterable[AnyPattern],
        families: Iterable[ToolSequence] = (),
        effectiveness: Callable[[AnyPattern], float] | None = None,
    ) -> None:
        patterns = list(patterns)
        if effectiveness is None:  # decayed at the newest evidence of the patterns given
            now = max((p.last_seen for p in patterns), default=None) or utc_now()

            def effectiveness(pattern: AnyPattern) -> float:
                return pattern.effectiveness(now)

        self._entries = [
            _Entry(p, frozenset(_words(p)), effectiveness(p), _KIND_PRIOR[p.kind], _needs(p))
            for p in patterns
        ]
        self._decisions = [p for p in patterns if isinstance(p, DecisionPoint)]
        self._fixes = {
            (p.best_recovery, p.tool, p.error_class)
            for p in patterns
            if isinstance(p, ErrorRecovery) and p.best_mode == "fix" and p.best_recovery
        }
        self._families = FamilyIndex(min_similarity=1.0)
        for family in families:
            self._families.add(family.detached())
        for entry in self._entries:
            if (
                isinstance(entry.pattern, ToolSequence)
                and entry.pattern.key not in self._families.families
            ):
                self._families.add(entry.pattern.detached())

    def __len__(self) -> int:
        return len(self._entries)

    def fixes(self, state_errors: Collection[str] = ()) -> set[tuple[str, str]]:
        """(fix, tool) of the served recoveries that run a fix before retrying the tool,
        but for errors that say what state the task was in (``state_errors``: the fix is
        a step the task needs there, not a recovery)."""
        return {(fix, tool) for fix, tool, error in self._fixes if error not in state_errors}

    def decisions(self, families: Collection[str]) -> list[DecisionPoint]:
        """The served decisions made within these task families, most effective first."""
        return [d for d in self._decisions if d.family in families]

    def _relevance(
        self, entry: _Entry, terms: set[str], matched: dict[str, float]
    ) -> tuple[float, float]:
        """(relevance, lexical overlap) of one pattern for the task."""
        words = entry.words
        overlap = len(words & terms)
        lexical = overlap / min(len(words), len(terms)) if words and terms else 0.0
        family = _family_of(entry.pattern)
        relevance = _LEXICAL_SHARE * lexical
        if family is not None:
            return max(matched.get(family, 0.0), relevance), lexical
        if isinstance(entry.pattern, ErrorRecovery):
            tool = entry.pattern.tool
            for key, similarity in matched.items():
                profile = self._families.families[key]
                if tool in profile.tool_stats:
                    relevance = max(relevance, 0.8 * similarity)
        return relevance, lexical

    def rank(
        self,
        description: str,
        context: TaskContext | None,
        task_type: TaskType | None,
        limit: int,
    ) -> tuple[list[ScoredPattern], list[ScoredHeuristic]]:
        """The ``limit`` best patterns for a task, each with its heuristic."""
        terms = {stem(term) for term in query_terms(description)}
        matched = {
            key: similarity
            for similarity, _, key in self._families.match(description, context, task_type)[:5]
        }
        scored: list[ScoredPattern] = []
        for entry in self._entries:
            if not entry.needs <= terms:
                continue
            relevance, lexical = self._relevance(entry, terms, matched)
            if relevance <= 0 or _contradicts(entry.pattern, context, task_type):
                continue
            ctx = context_score(entry.pattern.context, context, task_type)
            effectiveness = entry.effectiveness
            score = effectiveness * (0.6 * relevance + 0.25 * ctx + 0.15 * entry.prior)
            signals = {"effectiveness": effectiveness, "relevance": relevance, "context": ctx,
                       "lexical": lexical, "kind_prior": entry.prior}  # fmt: skip
            scored.append(ScoredPattern(entry.pattern, score, signals))
        scored.sort(key=lambda s: (s.score, s.pattern.support, s.pattern.id), reverse=True)
        # copies: the learner keeps changing its records after this returns
        top = [ScoredPattern(s.pattern.detached(), s.score, s.signals)
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
