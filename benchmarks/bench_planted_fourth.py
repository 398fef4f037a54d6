"""Feed the retail back-office world of :mod:`benchmarks.planted_fourth` to the learner and
judge every served pattern against the planted truth.

    cd /work/main && PYTHONPATH= .venv/bin/python -m benchmarks.bench_planted_fourth \
        --sizes 100,500,2000,10000 --seeds 0,1,2 [--json]

For each size and seed: generate the stream (ending now), ``PatternLearner("default")
.observe`` every episode in time order (default config), take ``learner.patterns()`` (the
served patterns) and judge each one from its public fields only. The world and these rules
were written from a specification without reading the learner's code or documentation,
and fixed before any result was seen.

Judge rules (fixed before any result was seen)
----------------------------------------------
- ``ToolSequence`` (``tools``, ``conditional``, ``stale``): empty ``tools`` claims nothing
  and is skipped. ``stale=True`` is false (the world never changes). Otherwise true iff
  ``tools`` equals one of a family's canonical variants (its canonical tools with the better
  option at its decision step, any option at the decoy step, or that step left out; see
  :func:`planted_fourth_truth.canonical_variants`), contains no planted context tool (the
  harmful ``auto_apply_credit`` included), and every entry of ``conditional`` is that
  family's *helpful* planted context tool mapped to its planted feature (a conditional
  entry for the harmful tool would tell agents to add a tool that hurts: false). A true
  one finds that family's fact.
- ``DecisionPoint`` (``after_tool``, ``best``, ``worst``): skipped if ``best`` or ``worst``
  is missing. True iff ``(after_tool, best, worst)`` is a planted non-decoy decision's (the
  canonical tool before the slot, the better option, the worse option; for the
  three-option decision in ``stock_reconciliation`` ``worst`` may be either worse option).
  A served decision at the decoy (``ship_order``, after ``pick_items``) is false.
- ``ContextPattern`` (``feature``, ``tool``, ``association``, ``measure``): true iff
  ``(feature, tool)`` is a planted context effect's (e.g. ``tag=electronics``,
  ``language=german``), ``association`` is ``"success"`` for the four helpful effects and
  ``"failure"`` for the harmful one (``auto_apply_credit`` with ``tag=partial-delivery``),
  and ``measure == "outcome"``. ``aliases`` are shown, not judged.
- ``ErrorRecovery`` (``tool``, ``error_class``, ``best_recovery``, ``best_mode``): true iff
  ``tool`` is a planted error's tool and the claim is right for its kind: retry ->
  ``best_mode == "retry"``; fix -> ``best_recovery`` is the fix tool and ``best_mode ==
  "fix"``; replace -> ``best_recovery`` is the replacement and ``best_mode == "replace"``;
  none -> ``best_recovery is None``. ``error_class`` is not judged for the four tools with
  one planted error. ``book_carrier_pickup`` has two planted errors, each its own fact: a
  pattern of that tool is judged against the class whose distinctive word is contained in
  ``error_class.lower()`` -- ``throttled`` (message "Carrier API throttled request ...:
  retry after Ns", kind retry) or ``unverified`` (message "Pickup address unverified for
  postcode ...", kind fix, fix tool ``verify_pickup_address``); if neither word or both
  appear, the pattern is false.
- Precision = true / judged (skipped patterns are not judged). Recall per kind over the
  planted facts (14 families, 4 decisions, 5 context effects, 6 errors) and overall over
  all 29: a fact is found when at least one served pattern is true for it. Several true
  patterns for one fact all count as true (shown as duplicates).
- The summary gives, per size, the mean over seeds and the WORST seed: the seed with the
  lowest F1 of precision and overall recall (ties: lower recall, then lower seed).

Changes after the first run: none.
"""

from __future__ import annotations

from typing import Any

from selfmem.learning import ContextPattern, DecisionPoint, ErrorRecovery, ToolSequence

from . import planted_report as report
from .planted_fourth import generate
from .planted_fourth_truth import (
    CONTEXT_EFFECTS,
    DECISIONS,
    ERRORS,
    FAMILIES,
    PlantedError,
    canonical_variants,
    context_tools,
)
from .planted_report import KINDS, Pattern, Result, Verdict, ratio

# ---------------------------------------------------------------------------------------
# The planted facts
# ---------------------------------------------------------------------------------------

_CONTEXT_TOOLS = context_tools()


def planted_facts() -> dict[str, list[str]]:
    """Fact ids per kind."""
    return {
        "sequence": [f"sequence:{f.name}" for f in FAMILIES],
        "decision": [f"decision:{d.family}" for d in DECISIONS if not d.decoy],
        "context": [f"context:{c.family}" for c in CONTEXT_EFFECTS],
        "error": [f"error:{e.name}" for e in ERRORS],
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
        allowed = {
            c.tool: c.feature for c in CONTEXT_EFFECTS if c.family == family.name and c.effect > 0
        }
        if all(allowed.get(tool) == feature for tool, feature in p.conditional.items()):
            return "sequence", True, f"sequence:{family.name}"
    return "sequence", False, None


def _judge_decision(p: DecisionPoint) -> Verdict:
    if p.best is None or p.worst is None:
        return "decision", None, None
    for d in DECISIONS:
        if d.decoy:
            continue
        if p.after_tool == d.after_tool and p.best == d.better and p.worst in d.worse:
            return "decision", True, f"decision:{d.family}"
    return "decision", False, None


def _judge_context(p: ContextPattern) -> Verdict:
    for c in CONTEXT_EFFECTS:
        planted = (c.tool, c.feature, c.association, "outcome")
        if (p.tool, p.feature, p.association, p.measure) == planted:
            return "context", True, f"context:{c.family}"
    return "context", False, None


def _error_for(p: ErrorRecovery) -> PlantedError | None:
    """The planted error a pattern is judged against (None: no planted error fits)."""
    errors = [e for e in ERRORS if e.tool == p.tool]
    if len(errors) <= 1:
        return errors[0] if errors else None
    text = p.error_class.lower()
    matching = [e for e in errors if e.word in text]
    return matching[0] if len(matching) == 1 else None


def _judge_error(p: ErrorRecovery) -> Verdict:
    e = _error_for(p)
    if e is None:
        return "error", False, None
    right = {
        "retry": p.best_mode == "retry",
        "fix": (p.best_recovery, p.best_mode) == (e.fix_tool, "fix"),
        "replace": (p.best_recovery, p.best_mode) == (e.replacement, "replace"),
        "none": p.best_recovery is None,
    }[e.kind]
    return "error", right, f"error:{e.name}" if right else None


# ---------------------------------------------------------------------------------------
# The runs and the report (shared with the other planted judges)
# ---------------------------------------------------------------------------------------


def run_one(size: int, seed: int) -> Result:
    return report.run_one(size, seed, generate=generate, judge=judge, planted=planted_facts())


def print_summary(results: list[Result]) -> None:
    """The mean and the worst seed per size, then the precision of each kind."""
    report.print_summary(results, worst_seed=True)
    print("\n== precision per kind (true/judged, summed over seeds)")
    print(f"   {'size':>6s} " + " ".join(f"{k:>9s}" for k in KINDS))
    for size in sorted({r.size for r in results}):
        rs = [r for r in results if r.size == size]
        cells = " ".join(
            f"{ratio(sum(r.true[k] for r in rs), sum(r.judged[k] for r in rs)):>9s}" for k in KINDS
        )
        print(f"   {size:6d} {cells}")


def to_json(r: Result) -> dict[str, Any]:
    return report.to_json(r) | {"precision_by_kind": {k: r.kind_precision(k) for k in KINDS}}


def main(argv: list[str] | None = None) -> None:
    report.main(argv, __doc__, run_one, summary=print_summary, as_json=to_json, ensure_ascii=False)


if __name__ == "__main__":
    main()
