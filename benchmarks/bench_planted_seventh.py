"""Judge the learner on the seventh planted world, a logistics dispatch and fleet desk.

    cd /work/main && PYTHONPATH= .venv/bin/python -m benchmarks.bench_planted_seventh \
        --sizes 500,2000 --seeds 0,1,2

The world (:mod:`benchmarks.planted_seventh`, facts in :mod:`benchmarks.planted_seventh_truth`):
11 task families (20% of episodes down to 2%), two sharing their first three tools, one the
extension of another by two final steps, two worded alike; three effective decisions (+0.10,
+0.25 with three options, +0.40 taken 20% of the time), a decoy decision and a decoy confounded
with the ``priority`` tag; three context effects (a tool helpful only under ``tag=hazmat``, one
helpful only under ``language=de``, one harmful only under ``tag=oversize``) and a tool that
helps everywhere in its family; noise tools; five errors (retry, fix, replace, a fix behind
four wordings, none). Facts: 11 sequences, 3 decisions, 3 context effects, 5 errors.

Judge rules (fixed before the learner first ran on this world)
-------------------------------------------------------------
Each served pattern is judged true (naming the one planted fact it finds), false, or skipped;
precision = true / judged, recall = planted facts found at least once / planted facts, per
kind and overall. A fact found by several patterns counts once (the rest are listed as
duplicates, still true).

Sequence (``ToolSequence``), fact ``sequence:<family>``:
- no ``tools``: skipped (it claims nothing yet);
- key starting ``progress:`` or ``repair:``, or ``stale``: false (nothing in this world
  changes and every family has successful runs);
- ``tools`` must be exactly one family's canonical tools in order, where each effective
  decision slot holds its better option or is left out, each decoy slot holds any one of its
  options or is left out, the feature-free tool (``verify_license_class``) is in or out, and
  the three context-effect tools are out; anything else (a noise, recovery or deprecated tool,
  a worse option, a missing or repeated step, the tools of two families) is false;
- every entry of ``conditional`` must map one of that family's two helpful context tools to
  its feature (named as below); any other entry makes the sequence false.

Decision (``DecisionPoint``), fact ``decision:<name>``:
- any decision about either decoy (``best``, ``worst`` or a key of ``choices`` is one of its
  options): false;
- otherwise ``best`` or ``worst`` missing: skipped (no choice stands out, nothing claimed);
- true when ``best`` is a planted effective decision's better option, ``worst`` one of its
  worse options, and ``after_tool`` a tool of that family placed before the slot (a canonical
  or optional tool); otherwise false.

Context (``ContextPattern``), fact ``context:<name>``:
- true when ``tool`` is one of the three context-effect tools, ``feature`` (or one of its
  ``aliases``) names that tool's feature, ``association`` is ``success`` for the two helpful
  tools and ``failure`` for the harmful one, and ``measure`` is ``outcome``;
- a feature is named case-insensitively as ``tag=hazmat``, ``tags=hazmat``, ``tag:hazmat``,
  ``tags:hazmat`` or ``hazmat``; a language as ``language=de``, ``lang=de``, ``locale=de``
  (``=`` or ``:``) or ``de``;
- anything else is false: the feature-free tool, decision options, noise tools, other features.

Error (``ErrorRecovery``), fact ``error:<name>``; each planted error is on its own tool, so
``error_class`` is not judged (the four wordings of one error may be served as one class or
several):
- a tool with no planted error: false;
- ``query_telematics`` (transient): true when ``best_mode`` is ``retry``;
- ``assign_driver``: ``best_mode`` ``fix`` with ``best_recovery`` ``refresh_driver_roster``;
- ``sync_pallet_manifest``: ``fix`` with ``rebuild_manifest_cache``;
- ``print_bill_of_lading`` (deprecated): ``replace`` with ``generate_ebol``;
- ``clear_customs`` (no recovery): true when ``best_recovery`` and ``best_mode`` are both
  missing ("no known recovery"); any recovery claimed is false.

Changes after the first run
---------------------------
- None to the world. The stream starts on a fixed date (3 March 2025). At the first run the
  learner served nothing from it, because it took the age of evidence at the wall clock's
  time; it now takes it at its own (the newest episode it learned from), and this world is
  a history imported long after it happened.
"""

from __future__ import annotations

from itertools import product

from selfmem.learning import ContextPattern, DecisionPoint, ErrorRecovery, ToolSequence

from . import planted_report as report
from .planted_report import Pattern, Result, Verdict
from .planted_seventh import generate
from .planted_seventh_truth import (
    CONTEXT_EFFECTS,
    DECISION,
    DECISIONS,
    ERROR_OF_TOOL,
    FAMILIES,
    FAMILY,
    OPTIONAL_TOOL,
    Decision,
    Family,
    planted_facts,
)

_KEYS = {"tag": ("tag", "tags"), "language": ("language", "lang", "locale")}


def names(feature: str, planted: tuple[str, str]) -> bool:
    """Whether ``feature`` names the planted ``(kind, value)`` in any accepted form."""
    text = feature.strip().lower()
    kind, value = planted
    for sep in "=:":
        key, found, rest = text.partition(sep)
        if found:
            return key.strip() in _KEYS[kind] and rest.strip() == value
    return text == value


# ---------------------------------------------------------------------------------------
# Sequences
# ---------------------------------------------------------------------------------------


def _slot_choices(step: str) -> list[str | None]:
    if step.startswith("@"):
        decision = DECISION[step[1:]]
        return [None, *decision.options] if decision.decoy else [None, decision.better]
    if step.startswith("?"):
        optional = OPTIONAL_TOOL[step[1:]]
        return [None, optional.tool] if optional.feature is None else [None]
    return [step]


def acceptable(family: Family) -> set[tuple[str, ...]]:
    """Every tool list the rules accept as the family's sequence."""
    choices = [_slot_choices(step) for step in family.steps]
    return {tuple(t for t in combo if t is not None) for combo in product(*choices)}


SEQUENCES: dict[tuple[str, ...], str] = {
    tools: family.name for family in FAMILIES for tools in acceptable(family)
}
assert len(SEQUENCES) == sum(len(acceptable(f)) for f in FAMILIES), "two families overlap"


def _conditional_ok(family: str, conditional: dict[str, str]) -> bool:
    for tool, feature in conditional.items():
        optional = OPTIONAL_TOOL.get(tool)
        if (
            optional is None
            or optional.family != family
            or optional.feature is None
            or optional.effect <= 0
            or not names(feature, optional.feature)
        ):
            return False
    return True


def judge_sequence(pattern: ToolSequence) -> Verdict:
    if not pattern.tools:
        return ("sequence", None, None)
    if pattern.stale or pattern.key.startswith(("progress:", "repair:")):
        return ("sequence", False, None)
    family = SEQUENCES.get(tuple(pattern.tools))
    if family is None or not _conditional_ok(family, pattern.conditional):
        return ("sequence", False, None)
    return ("sequence", True, f"sequence:{family}")


# ---------------------------------------------------------------------------------------
# Decisions
# ---------------------------------------------------------------------------------------


def _before_slot(decision: Decision) -> set[str]:
    steps = FAMILY[decision.family].steps
    slot = steps.index(f"@{decision.name}")
    return {step.lstrip("?") for step in steps[:slot] if not step.startswith("@")}


DECOY_OPTIONS = {option for d in DECISIONS if d.decoy for option in d.options}


def judge_decision(pattern: DecisionPoint) -> Verdict:
    if {pattern.best, pattern.worst, *pattern.choices} & DECOY_OPTIONS:
        return ("decision", False, None)
    if pattern.best is None or pattern.worst is None:
        return ("decision", None, None)
    for d in DECISIONS:
        if (
            not d.decoy
            and pattern.best == d.better
            and pattern.worst in d.worse
            and pattern.after_tool in _before_slot(d)
        ):
            return ("decision", True, f"decision:{d.name}")
    return ("decision", False, None)


# ---------------------------------------------------------------------------------------
# Context patterns and errors
# ---------------------------------------------------------------------------------------


def judge_context(pattern: ContextPattern) -> Verdict:
    for effect in CONTEXT_EFFECTS:
        assert effect.feature is not None
        if pattern.tool != effect.tool or pattern.measure != "outcome":
            continue
        named = any(names(f, effect.feature) for f in [pattern.feature, *pattern.aliases])
        direction = "success" if effect.effect > 0 else "failure"
        if named and pattern.association == direction:
            return ("context", True, f"context:{effect.name}")
    return ("context", False, None)


def judge_error(pattern: ErrorRecovery) -> Verdict:
    error = ERROR_OF_TOOL.get(pattern.tool)
    if error is None:
        return ("error", False, None)
    if error.mode is None:
        right = pattern.best_recovery is None and pattern.best_mode is None
    elif error.mode == "retry":
        right = pattern.best_mode == "retry"
    else:
        right = pattern.best_mode == error.mode and pattern.best_recovery == error.recovery
    return ("error", True, f"error:{error.name}") if right else ("error", False, None)


def judge(pattern: Pattern) -> Verdict:
    if isinstance(pattern, ToolSequence):
        return judge_sequence(pattern)
    if isinstance(pattern, DecisionPoint):
        return judge_decision(pattern)
    if isinstance(pattern, ContextPattern):
        return judge_context(pattern)
    return judge_error(pattern)


def run_one(size: int, seed: int) -> Result:
    return report.run_one(size, seed, generate=generate, judge=judge, planted=planted_facts())


def summary(results: list[Result]) -> None:
    report.print_summary(results, worst_seed=True)


def main(argv: list[str] | None = None) -> None:
    report.main(argv, __doc__, run_one, summary=summary)


if __name__ == "__main__":
    main()
