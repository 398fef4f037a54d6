"""Judge of the fifth planted world (a hospital IT and clinical-data desk): what the
learner serves, checked against the facts planted by :mod:`benchmarks.planted_fifth`.

Written from the world's spec alone, without reading how the learner works. Episodes are
fed in time order to ``PatternLearner("default").observe`` by
:func:`benchmarks.planted_report.run_one`; every served pattern is judged here through its
public fields only.

Planted facts (25): 12 sequences (``seq:<family>``), 4 decisions (``dec:<family>``), 4
context effects (``ctx:<family>``) and 5 errors (``err:<tool>``); the tables are in
:mod:`benchmarks.planted_fifth_truth`.

Judge rules (fixed before the first run):

- **ToolSequence.** Empty ``tools``: skipped. ``stale=True``: false (the world never
  changes). Otherwise true iff ``tools`` equals one of a family's canonical variants: its
  canonical tools with the better option at a decision slot (any option at the decoy
  decision's slot). No skippable step is defined, so a variant never leaves a step out. A
  variant never contains a context tool; ``conditional`` may only map a helpful context
  tool of that same family to its planted feature (e.g. ``{"explain_query_plan":
  "language=sql"}``). Any other entry in ``conditional`` (a noise tool, the harmful
  context tool, a wrong feature, another family's tool) makes the pattern false. Fact:
  ``seq:<family>``.
- **DecisionPoint.** ``best`` or ``worst`` None: skipped. True iff ``after_tool`` is the
  canonical tool before a planted non-decoy decision's slot, ``best`` is its better option
  and ``worst`` one of its other options. Anything at the decoy slot, or with the options
  reversed, or elsewhere: false. Fact: ``dec:<family>``.
- **ContextPattern.** True iff ``(feature, tool, association, measure)`` equals a planted
  context effect's ``(feature, tool, "success" or "failure" by the effect's sign,
  "outcome")``. Features are written ``tag=<tag>`` or ``language=<language>``. The planted
  effects are on the run's outcome, never on the tool's own calls, so ``measure="calls"``
  is false. Anything else (noise tools, ``write_incident_note``, ``urgent``, the decoy tags,
  a feature on a canonical tool) is false. Fact: ``ctx:<family>``.
- **ErrorRecovery.** True iff ``tool`` is a planted error's tool and ``(best_recovery,
  best_mode)`` is the right claim for its kind: retry and the varied error ``("retry",
  "retry")``; fix ``("refresh_service_token", "fix")``; replacement ``("query_vna_index",
  "replace")``; no recovery ``(None, None)``. ``error_class`` is not judged (the varied
  error may be split into several classes: each one with the right claim is true, a
  duplicate of the one fact). Any other tool: false. Fact: ``err:<tool>``.

Precision is true / judged over all kinds; recall is found facts / planted facts, per kind
and overall. The summary gives, per size, the mean over seeds and the worst seed (lowest
F1; ties: lower recall).

Changes after the first run: none (the generator, the world and these rules are as they were
when the learner first ran).

Run: ``cd /work/main && PYTHONPATH= .venv/bin/python -m benchmarks.bench_planted_fifth
--sizes 100,500,2000,10000 --seeds 0,1,2 [--json]``.
"""

from __future__ import annotations

from functools import partial

from selfmem.records import ContextPattern, DecisionPoint, ErrorRecovery, ToolSequence

from . import planted_fifth as world
from . import planted_fifth_truth as truth
from . import planted_report as report

__all__ = ["judge", "main", "planted_facts", "run_one"]


def planted_facts() -> dict[str, list[str]]:
    """The fact ids per kind."""
    return {
        "sequence": [f"seq:{f.name}" for f in truth.FAMILIES],
        "decision": [d.id for d in truth.DECISIONS if not d.decoy],
        "context": [c.id for c in truth.CONTEXT_EFFECTS],
        "error": [e.id for e in truth.ERRORS],
    }


# ---------------------------------------------------------------------------------------
# One pattern
# ---------------------------------------------------------------------------------------


def _judge_sequence(pattern: ToolSequence) -> report.Verdict:
    if not pattern.tools:
        return ("sequence", None, None)
    if pattern.stale:
        return ("sequence", False, None)
    tools = tuple(pattern.tools)
    for family in truth.FAMILIES:
        if tools in truth.sequence_variants(family) and _conditional_ok(pattern, family):
            return ("sequence", True, f"seq:{family.name}")
    return ("sequence", False, None)


def _conditional_ok(pattern: ToolSequence, family: truth.Family) -> bool:
    effect = truth.CONTEXT_OF.get(family.name)
    for tool, feature in pattern.conditional.items():
        if effect is None or effect.effect <= 0:
            return False
        if (tool, feature) != (effect.tool, effect.feature):
            return False
    return True


def _judge_decision(pattern: DecisionPoint) -> report.Verdict:
    if pattern.best is None or pattern.worst is None:
        return ("decision", None, None)
    for decision in truth.DECISIONS:
        if decision.decoy or pattern.after_tool != decision.after_tool:
            continue
        if pattern.best == decision.options[0] and pattern.worst in decision.options[1:]:
            return ("decision", True, decision.id)
    return ("decision", False, None)


def _judge_context(pattern: ContextPattern) -> report.Verdict:
    for effect in truth.CONTEXT_EFFECTS:
        association = "success" if effect.effect > 0 else "failure"
        claim = (pattern.feature, pattern.tool, pattern.association, pattern.measure)
        if claim == (effect.feature, effect.tool, association, "outcome"):
            return ("context", True, effect.id)
    return ("context", False, None)


def _judge_error(pattern: ErrorRecovery) -> report.Verdict:
    error = truth.ERROR_OF.get(pattern.tool)
    if error is not None and (pattern.best_recovery, pattern.best_mode) == error.expected:
        return ("error", True, error.id)
    return ("error", False, None)


def judge(pattern: report.Pattern) -> report.Verdict:
    """``(kind, verdict, fact)``: verdict None = skipped, fact None = no planted fact."""
    if isinstance(pattern, ToolSequence):
        return _judge_sequence(pattern)
    if isinstance(pattern, DecisionPoint):
        return _judge_decision(pattern)
    if isinstance(pattern, ContextPattern):
        return _judge_context(pattern)
    return _judge_error(pattern)


# ---------------------------------------------------------------------------------------
# Runs and the command line
# ---------------------------------------------------------------------------------------


def _generate(n: int, seed: int) -> list:
    return world.generate(n, seed)


def run_one(size: int, seed: int) -> report.Result:
    """Generate, learn and judge one stream."""
    return report.run_one(size, seed, generate=_generate, judge=judge, planted=planted_facts())


def main(argv: list[str] | None = None) -> None:
    report.main(
        argv,
        __doc__,
        run_one,
        summary=partial(report.print_summary, worst_seed=True),
        ensure_ascii=False,
    )


if __name__ == "__main__":
    main()
