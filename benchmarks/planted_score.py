"""Scores served patterns and heuristics against the planted world by what they *say*.

A served pattern is read through its public fields only (``kind``, ``tools``, ``after_tool``
/ ``best`` / ``worst``, ``tool`` / ``error_class`` / ``best_recovery``, ``feature`` / ``tool``
/ ``association``, ``context``), never through the learner's internal keys:

- ``tool_sequence``: a true positive when its tools are the canonical sequence of a family
  whose domain, task type and language the pattern's context admits (a field left empty
  admits any; under a language that makes an extra tool pay off, the canonical sequence with
  that tool is also right);
- ``decision_point``: when "after X, prefer A over B" is a decision planted in one family;
- ``error_recovery``: when its tool and error class are a planted error and its claim is right:
  ``retry`` for a retry, the fix tool for a fix-then-retry, the replacement tool for a
  replacement, and "no known recovery" for the error that has none;
- ``context_pattern``: when it names the planted feature and tool with the planted direction.

Everything else served is a false positive, with a reason (noise tool, decoy feature,
family-level difference, merged families, wrong direction, wrong recovery claim). Recall
counts each planted fact once, however many served patterns state it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .planted_world import DECOY_TAGS, ERRORS, FAMILIES, NOISE_TOOLS, ErrorPlant, Family, World

__all__ = ["KINDS", "KindScore", "Score", "Verdict", "judge", "realized_effects", "score"]

KINDS = ("tool_sequence", "decision_point", "error_recovery", "context_pattern")
DECOY_FEATURES = {f"tag={tag}" for tag, _ in DECOY_TAGS} | {"language=cpp"}
FAMILY_LEVEL_PREFIXES = ("domain=", "task_type=", "language=")


def planted_facts() -> dict[str, set[str]]:
    """The names of the planted facts of each kind."""
    return {
        "tool_sequence": {family.name for family in FAMILIES},
        "decision_point": {family.name for family in FAMILIES if family.decision},
        "error_recovery": set(ERRORS),
        "context_pattern": {family.name for family in FAMILIES if family.context},
    }


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one served pattern was judged to be."""

    kind: str
    fact: str | None  # the planted fact it states, None for a false positive
    reason: str
    text: str


def _fits(key: tuple[str | None, str | None, str | None], family: Family) -> bool:
    """Whether a pattern's context (``None``: any) can describe the family's episodes."""
    domain, task_type, language = key
    languages = {lang for lang, _ in family.languages}
    return (
        domain in (None, family.domain)
        and task_type in (None, family.task_type.value)
        and (language is None or language in languages)
    )


def _family_tools(family: Family) -> set[str]:
    tools = set(family.canonical) | {ERRORS[name].fix_tool or "" for name in family.errors}
    tools |= {family.decision.bad} if family.decision else set()
    return tools | ({family.context.tool} if family.context else set())


def _families_of(tool: str) -> set[str]:
    return {family.name for family in FAMILIES if tool in _family_tools(family)}


def _context_key(pattern: Any) -> tuple[str | None, str | None, str | None]:
    context = pattern.context
    task_type = context.task_type.value if context.task_type is not None else None
    return context.domain, task_type, context.language


def accepted_sequences(family: Family, language: str | None) -> list[tuple[str, ...]]:
    """The canonical sequence, and under a language that helps an extra tool, with that tool."""
    accepted = [family.canonical]
    plant = family.context
    if plant and plant.association == "success" and plant.feature == f"language={language}":
        at = family.canonical.index(plant.insert_after) + 1
        accepted.append((*family.canonical[:at], plant.tool, *family.canonical[at:]))
    return accepted


def _judge_sequence(pattern: Any) -> tuple[str | None, str]:
    tools, key = tuple(pattern.tools), _context_key(pattern)
    for family in FAMILIES:
        if _fits(key, family) and tools in accepted_sequences(family, key[2]):
            return family.name, "match"
    if set(tools) & set(NOISE_TOOLS):
        return None, "noise tool in the sequence"
    fitting = [family.name for family in FAMILIES if _fits(key, family)]
    if len(fitting) == 1:
        return None, f"not the canonical sequence of {fitting[0]}"
    if fitting:
        return None, "not the canonical sequence of any family with this context"
    return None, "no family has this context"


def _judge_decision(pattern: Any) -> tuple[str | None, str]:
    after, best, worst = pattern.after_tool, pattern.best, pattern.worst
    for family in FAMILIES:
        plant = family.decision
        if plant is None or plant.after != after:
            continue
        if (best, worst) == (plant.good, plant.bad):
            return family.name, "match"
        if (best, worst) == (plant.bad, plant.good):
            return None, "wrong direction"
    if {after, best, worst} & set(NOISE_TOOLS):
        return None, "noise tool as a choice"
    if {best, worst} & {family.context.tool for family in FAMILIES if family.context}:
        return None, "a context effect served without its context"
    if best and worst and not _families_of(best) & _families_of(worst):
        return None, "family-level difference taken for a choice"
    return None, "not a planted decision"


def _claim(pattern: Any) -> str:
    if pattern.best_recovery is None:
        return "none"
    tokens = set(re.split(r"[^A-Za-z0-9_]+", pattern.best_recovery)) - {"", pattern.tool}
    return "retry" if tokens == {"retry"} else "+".join(sorted(tokens))


def _expected(plant: ErrorPlant) -> str:
    if plant.recovery in ("retry", "none"):
        return plant.recovery
    return plant.fix_tool or ""


def _judge_error(pattern: Any) -> tuple[str | None, str]:
    error_class = str(pattern.error_class).lower()
    for plant in ERRORS.values():
        if plant.tool == pattern.tool and plant.signature in error_class:
            claim, expected = _claim(pattern), _expected(plant)
            if claim == expected:
                return plant.name, "match"
            return None, f"claims {claim!r} for {plant.name}, planted {expected!r}"
    return None, "not a planted error"


def _judge_context(pattern: Any) -> tuple[str | None, str]:
    feature, tool, association = pattern.feature, pattern.tool, str(pattern.association)
    for family in FAMILIES:
        plant = family.context
        if plant is None or plant.feature != feature:
            continue
        if plant.tool == tool:
            if plant.association == association:
                return family.name, "match"
            return None, "wrong direction"
        return None, "planted feature, tool without a planted effect"
    if feature in DECOY_FEATURES:
        return None, "decoy feature"
    if tool in NOISE_TOOLS:
        return None, "noise tool"
    if str(feature).startswith(FAMILY_LEVEL_PREFIXES):
        return None, "family-level difference taken for a context effect"
    return None, "not a planted context effect"


_JUDGES = {
    "tool_sequence": _judge_sequence,
    "decision_point": _judge_decision,
    "error_recovery": _judge_error,
    "context_pattern": _judge_context,
}


def judge(pattern: Any) -> Verdict:
    """The verdict on one served pattern."""
    kind = str(getattr(pattern.kind, "value", pattern.kind))
    fact, reason = _JUDGES[kind](pattern)
    return Verdict(kind, fact, reason, pattern.describe())


@dataclass(slots=True)
class KindScore:
    served: int = 0
    true_positives: int = 0
    planted: int = 0
    recalled: int = 0

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.served if self.served else None

    @property
    def recall(self) -> float | None:
        return self.recalled / self.planted if self.planted else None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "precision": self.precision, "recall": self.recall}


@dataclass(slots=True)
class Score:
    """Precision and recall per kind and overall, with every verdict."""

    kinds: dict[str, KindScore]
    verdicts: list[Verdict] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    @property
    def overall(self) -> KindScore:
        total = KindScore()
        for kind in self.kinds.values():
            total.served += kind.served
            total.true_positives += kind.true_positives
            total.planted += kind.planted
            total.recalled += kind.recalled
        return total

    def false_positive_reasons(self) -> Counter[str]:
        return Counter(f"{v.kind}: {v.reason}" for v in self.verdicts if v.fact is None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kinds": {kind: value.as_dict() for kind, value in self.kinds.items()},
            "overall": self.overall.as_dict(),
            "missed": self.missed,
            "verdicts": [asdict(verdict) for verdict in self.verdicts],
        }


def score(verdicts: Iterable[Verdict]) -> Score:
    """Aggregate verdicts against the planted facts."""
    facts = planted_facts()
    result = Score({kind: KindScore(planted=len(facts[kind])) for kind in KINDS})
    found: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for verdict in verdicts:
        result.verdicts.append(verdict)
        if verdict.kind not in result.kinds:
            continue
        kind = result.kinds[verdict.kind]
        kind.served += 1
        if verdict.fact is not None:
            kind.true_positives += 1
            found[verdict.kind].add(verdict.fact)
    for name, kind in result.kinds.items():
        kind.recalled = len(found[name] & facts[name])
        result.missed += [f"{name}: {fact}" for fact in sorted(facts[name] - found[name])]
    return result


def _rate(values: Sequence[bool]) -> dict[str, float | int]:
    return {"n": len(values), "success": round(sum(values) / len(values), 3) if values else 0.0}


def realized_effects(world: World) -> dict[str, dict[str, Any]]:
    """The planted effects as they came out in the generated episodes (a sanity check)."""
    out: dict[str, dict[str, Any]] = {}
    for family in FAMILIES:
        episodes = [e for e in world.episodes if e.family == family.name]
        row: dict[str, Any] = {"all": _rate([e.success for e in episodes])}
        if family.decision:
            for label, chose in (("good", True), ("bad", False)):
                picked = [e.success for e in episodes if e.chose_good is chose]
                row[f"decision_{label}"] = _rate(picked)
        if family.context:
            for present in (True, False):
                for used in (True, False):
                    picked = [
                        e.success
                        for e in episodes
                        if e.feature_present is present and e.used_context_tool is used
                    ]
                    side = "with" if present else "without"
                    row[f"{side}_feature_{'tool' if used else 'no_tool'}"] = _rate(picked)
        out[family.name] = row
    return out
