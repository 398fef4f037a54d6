"""Feed the booking-desk world of :mod:`benchmarks.planted_third` to the learner and judge
every served pattern against the planted truth.

    cd /work/main && PYTHONPATH= .venv/bin/python -m benchmarks.bench_planted_third \
        --sizes 500,2000,10000 --seeds 0,1,2 [--json]

For each size and seed: generate the stream, ``PatternLearner("default").observe`` every
episode in time order (default config), take ``learner.patterns()`` (the served patterns)
and judge each one from its public fields only.

Judge rules (fixed before any result was seen)
----------------------------------------------
- ``ToolSequence`` (``tools``, ``conditional``, ``stale``): empty ``tools`` claims nothing
  and is skipped. ``stale=True`` is false (the world never changes). Otherwise true iff
  ``tools`` equals one of a family's canonical variants (its canonical tools with the better
  option at its decision step, either option at the decoy step, or that step left out; see
  :func:`planted_third.canonical_variants`), contains no planted context tool, and every
  entry of ``conditional`` is that family's planted context tool mapped to its planted
  feature. A true one finds that family's fact.
- ``DecisionPoint`` (``after_tool``, ``best``, ``worst``): skipped if ``best`` or ``worst``
  is missing. True iff ``(after_tool, best, worst)`` equals a planted non-decoy decision
  (the canonical tool before the slot, the better option, the worse option). A served
  decision at the decoy is false.
- ``ContextPattern`` (``feature``, ``tool``, ``association``, ``measure``): true iff
  ``tool`` and ``feature`` (e.g. ``tag=peak-season``, ``language=japanese``) are a planted
  context effect's, ``association == "success"`` (every planted context tool helps) and
  ``measure == "outcome"``.
- ``ErrorRecovery`` (``tool``, ``best_recovery``, ``best_mode``): true iff ``tool`` is a
  planted error's tool and the claim is right for its kind: retry -> ``best_mode ==
  "retry"``; fix -> ``best_recovery`` is the fix tool and ``best_mode == "fix"``; replace ->
  ``best_recovery`` is the replacement and ``best_mode == "replace"``; none ->
  ``best_recovery is None``. ``error_class`` is shown, not judged.
- Precision = true / judged (skipped patterns are not judged). Recall per kind over the
  planted facts (10 families, 4 decisions, 4 context effects, 4 errors) and overall over
  all 22: a fact is found when at least one served pattern is true for it. Several true
  patterns for one fact all count as true (shown as duplicates).
"""

from __future__ import annotations

from selfmem.learning import ContextPattern, DecisionPoint, ErrorRecovery, ToolSequence

from . import planted_report as report
from .planted_report import Pattern, Result, Verdict
from .planted_third import generate
from .planted_third_truth import (
    CONTEXT_EFFECTS,
    DECISIONS,
    ERRORS,
    FAMILIES,
    Decision,
    canonical_variants,
)

# ---------------------------------------------------------------------------------------
# The planted facts
# ---------------------------------------------------------------------------------------

_FAMILY = {f.name: f for f in FAMILIES}
_CONTEXT_TOOLS = {c.tool for c in CONTEXT_EFFECTS}


def _after_tool(decision: Decision) -> str:
    return _FAMILY[decision.family].tools[decision.slot - 1]


def planted_facts() -> dict[str, list[str]]:
    """Fact ids per kind."""
    return {
        "sequence": [f"sequence:{f.name}" for f in FAMILIES],
        "decision": [f"decision:{d.family}" for d in DECISIONS if not d.decoy],
        "context": [f"context:{c.family}" for c in CONTEXT_EFFECTS],
        "error": [f"error:{e.family}" for e in ERRORS],
    }


# ---------------------------------------------------------------------------------------
# Judging one pattern: (kind, verdict, fact); verdict None = skipped
# ---------------------------------------------------------------------------------------


def judge(pattern: Pattern) -> Verdict:
    if isinstance(pattern, ToolSequence):
        return _judge_sequence(pattern)
    if isinstance(pattern, DecisionPoint):
        return _judge_decision(pattern)
    if isinstance(pattern, ContextPattern):
        return _judge_context(pattern)
    return _judge_error(pattern)


def _judge_sequence(p: ToolSequence) -> Verdict:
    if not p.tools:
        return "sequence", None, None
    if p.stale or _CONTEXT_TOOLS & set(p.tools):
        return "sequence", False, None
    for family in FAMILIES:
        if tuple(p.tools) not in canonical_variants(family):
            continue
        allowed = {c.tool: c.feature for c in CONTEXT_EFFECTS if c.family == family.name}
        if all(allowed.get(tool) == feature for tool, feature in p.conditional.items()):
            return "sequence", True, f"sequence:{family.name}"
    return "sequence", False, None


def _judge_decision(p: DecisionPoint) -> Verdict:
    if p.best is None or p.worst is None:
        return "decision", None, None
    for d in DECISIONS:
        if not d.decoy and (p.after_tool, p.best, p.worst) == (_after_tool(d), d.better, d.worse):
            return "decision", True, f"decision:{d.family}"
    return "decision", False, None


def _judge_context(p: ContextPattern) -> Verdict:
    for c in CONTEXT_EFFECTS:
        planted = (c.tool, c.feature, "success", "outcome")
        if (p.tool, p.feature, p.association, p.measure) == planted:
            return "context", True, f"context:{c.family}"
    return "context", False, None


def _judge_error(p: ErrorRecovery) -> Verdict:
    for e in ERRORS:
        if p.tool != e.tool:
            continue
        right = {
            "retry": p.best_mode == "retry",
            "fix": (p.best_recovery, p.best_mode) == (e.fix_tool, "fix"),
            "replace": (p.best_recovery, p.best_mode) == (e.replacement, "replace"),
            "none": p.best_recovery is None,
        }[e.kind]
        return "error", right, f"error:{e.family}" if right else None
    return "error", False, None


# ---------------------------------------------------------------------------------------
# The runs and the report (shared with the other planted judges)
# ---------------------------------------------------------------------------------------


def run_one(size: int, seed: int) -> Result:
    return report.run_one(size, seed, generate=generate, judge=judge, planted=planted_facts())


def main(argv: list[str] | None = None) -> None:
    report.main(argv, __doc__, run_one)


if __name__ == "__main__":
    main()
