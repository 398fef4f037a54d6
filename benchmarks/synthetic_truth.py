"""The ground truth of the synthetic episodes, in the pattern learner's terms: one fact per
planted pattern and heuristic, plus the facts the plants imply (see
:mod:`benchmarks.synthetic` and docs/learning_accuracy.md)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from selfmem.records.learned import (
    AnyPattern,
    ContextPattern,
    DecisionPoint,
    ErrorRecovery,
    Heuristic,
    HeuristicKind,
    PatternKind,
    ToolSequence,
)

from .synthetic_world import (
    FAMILIES,
    NO_RECOVERY,
    NOISE_TOOLS,
    RETRY,
    ContextPlant,
    DecisionPlant,
    ErrorPlant,
    Family,
    error_class,
)

__all__ = ["HeuristicFact", "PatternFact", "Truth", "truth_of"]

# -- ground truth -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class PatternFact:
    """A pattern in the learner's terms: kind, key (the situation) and conclusion.

    ``key`` is the learner's pattern key (family key, after-tool, ``tool|error class`` or
    ``feature|tool``); ``conclusion`` is what a correct pattern says about it: the tools of a
    sequence, ``(best, worst)`` of a decision, ``(best_recovery,)`` of an error (``"-"`` for
    none) or ``(association,)`` of a context pattern.
    """

    kind: PatternKind
    key: str
    conclusion: tuple[str, ...]
    why: str = field(default="planted", compare=False)

    @classmethod
    def of(cls, pattern: AnyPattern) -> PatternFact:
        """What a learned pattern claims, in the same terms."""
        return cls(pattern.kind, _truth_key(pattern), _conclusion(pattern), why="learned")


def _truth_key(pattern: AnyPattern) -> str:
    """The learned pattern's situation in the world's terms. The learner finds families from
    the tasks themselves and keys them by their first episode; the world keys a family by its
    ``(domain, task type, language)``, which every episode of one family shares, so a learned
    family maps to the world's key through the context its episodes have in common."""
    if isinstance(pattern, ToolSequence):
        ctx = pattern.context
        task_type = ctx.task_type.value if ctx.task_type else "?"
        return f"{ctx.domain}|{task_type}|{(ctx.language or '-').lower()}"
    if isinstance(pattern, DecisionPoint):
        return pattern.after_tool
    if isinstance(pattern, ContextPattern):
        return f"{pattern.feature}|{pattern.tool}"
    return pattern.key


def _conclusion(pattern: AnyPattern) -> tuple[str, ...]:
    if isinstance(pattern, ToolSequence):
        return tuple(pattern.tools)
    if isinstance(pattern, DecisionPoint):
        return (str(pattern.best), str(pattern.worst))
    if isinstance(pattern, ErrorRecovery):
        return (pattern.best_recovery or NO_RECOVERY,)
    assert isinstance(pattern, ContextPattern)
    return (pattern.association,)


_WORD = re.compile(r"[a-z_]+")
_UNKNOWN_SOURCE = (PatternKind.TOOL_SEQUENCE, "?")


@dataclass(frozen=True, slots=True, order=True)
class HeuristicFact:
    """A heuristic in comparable terms: kind, source situation, tool and the tools it names.

    ``source`` is the ``(kind, key)`` of the pattern the heuristic derives from;
    ``action_tools`` are the known tool names its action text mentions, in order.
    """

    kind: HeuristicKind
    source: tuple[PatternKind, str]
    tool: str | None
    action_tools: tuple[str, ...]

    @classmethod
    def of(
        cls,
        heuristic: Heuristic,
        sources: Mapping[str, tuple[PatternKind, str]],
        tools: Iterable[str],
    ) -> HeuristicFact:
        """What a derived heuristic says; ``sources`` maps pattern ids to ``(kind, key)``."""
        ids = heuristic.source_pattern_ids
        source = sources.get(ids[0], _UNKNOWN_SOURCE) if ids else _UNKNOWN_SOURCE
        known = set(tools)
        named = tuple(word for word in _WORD.findall(heuristic.action) if word in known)
        return cls(heuristic.kind, source, heuristic.tool, named)


@dataclass(frozen=True, slots=True)
class Truth:
    """The patterns and heuristics the learner should find, and every tool name in the world."""

    patterns: frozenset[PatternFact]
    heuristics: frozenset[HeuristicFact]
    tools: frozenset[str]


def _sequence_facts(family: Family) -> tuple[PatternFact, HeuristicFact]:
    pattern = PatternFact(PatternKind.TOOL_SEQUENCE, family.key, family.tools)
    heuristic = HeuristicFact(
        HeuristicKind.FOLLOW_SEQUENCE, (pattern.kind, pattern.key), family.tools[0], family.tools
    )
    return pattern, heuristic


def _decision_facts(plant: DecisionPlant) -> tuple[PatternFact, HeuristicFact]:
    pattern = PatternFact(PatternKind.DECISION_POINT, plant.after, (plant.good, plant.bad))
    heuristic = HeuristicFact(
        HeuristicKind.PREFER, (pattern.kind, pattern.key), plant.good, (plant.good, plant.bad)
    )
    return pattern, heuristic


def _error_facts(plant: ErrorPlant) -> tuple[PatternFact, HeuristicFact]:
    key = f"{plant.tool}|{error_class(plant.message)}"
    pattern = PatternFact(PatternKind.ERROR_RECOVERY, key, (plant.recovery,))
    source = (pattern.kind, key)
    if plant.recovery == RETRY:
        heuristic = HeuristicFact(HeuristicKind.RECOVER, source, plant.tool, (plant.tool,))
    else:
        named = (plant.recovery, plant.tool)
        heuristic = HeuristicFact(HeuristicKind.RECOVER, source, plant.recovery, named)
    return pattern, heuristic


def _context_facts(plant: ContextPlant) -> list[tuple[PatternFact, HeuristicFact]]:
    pattern = PatternFact(
        PatternKind.CONTEXT_PATTERN, f"tag={plant.tag}|{plant.tool}", ("failure",)
    )
    heuristic = HeuristicFact(
        HeuristicKind.AVOID, (pattern.kind, pattern.key), plant.tool, (plant.tool,)
    )
    # Implied: the tool's error is never recovered (the agent gives up), so the learner
    # should also report that error class as having no known recovery.
    key = f"{plant.tool}|{error_class(plant.message)}"
    why = f"implied by the tag={plant.tag} effect: the agent always gives up"
    unrecovered = PatternFact(PatternKind.ERROR_RECOVERY, key, (NO_RECOVERY,), why=why)
    avoid = HeuristicFact(HeuristicKind.AVOID, (unrecovered.kind, key), plant.tool, ())
    return [(pattern, heuristic), (unrecovered, avoid)]


def _family_facts(family: Family) -> list[tuple[PatternFact, HeuristicFact]]:
    facts = [_sequence_facts(family)]
    if family.decision:
        facts.append(_decision_facts(family.decision))
    if family.error:
        facts.append(_error_facts(family.error))
    if family.context:
        facts.extend(_context_facts(family.context))
    return facts


def _world_tools(families: Iterable[Family]) -> frozenset[str]:
    tools = set(NOISE_TOOLS)
    for family in families:
        tools.update(family.tools)
        if family.decision:
            tools.add(family.decision.bad)
        if family.error and family.error.recovery != RETRY:
            tools.add(family.error.recovery)
    return frozenset(tools)


def truth_of(families: Iterable[Family] = FAMILIES) -> Truth:
    """The ground truth planted by ``families`` (independent of the sampled episodes)."""
    families = tuple(families)
    facts = [fact for family in families for fact in _family_facts(family)]
    return Truth(
        patterns=frozenset(pattern for pattern, _ in facts),
        heuristics=frozenset(heuristic for _, heuristic in facts),
        tools=_world_tools(families),
    )
