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

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from selfmem.learning import (
    ContextPattern,
    DecisionPoint,
    ErrorRecovery,
    PatternLearner,
    ToolSequence,
)

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

KINDS = ("sequence", "decision", "context", "error")

Pattern = ToolSequence | DecisionPoint | ContextPattern | ErrorRecovery

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


N_FACTS = sum(len(v) for v in planted_facts().values())

# ---------------------------------------------------------------------------------------
# Judging one pattern: (kind, verdict, fact); verdict None = skipped
# ---------------------------------------------------------------------------------------

Verdict = tuple[str, bool | None, str | None]


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


def describe(pattern: Pattern) -> dict[str, Any]:
    """The pattern's public fields that the judge reads, plus its evidence."""
    common = {
        "kind": pattern.kind.value,
        "key": pattern.key,
        "support": pattern.support,
        "successes": pattern.successes,
        "context": pattern.context.describe(),
    }
    if isinstance(pattern, ToolSequence):
        return common | {
            "tools": pattern.tools,
            "stale": pattern.stale,
            "conditional": pattern.conditional,
            "sample_task": pattern.sample_task,
        }
    if isinstance(pattern, DecisionPoint):
        choices = {k: f"{v.successes}/{v.n}" for k, v in pattern.choices.items()}
        return common | {
            "after_tool": pattern.after_tool,
            "best": pattern.best,
            "worst": pattern.worst,
            "choices": choices,
            "p_value": round(pattern.p_value, 5),
        }
    if isinstance(pattern, ContextPattern):
        return common | {
            "feature": pattern.feature,
            "tool": pattern.tool,
            "association": pattern.association,
            "measure": pattern.measure,
            "baseline": f"{pattern.baseline.successes}/{pattern.baseline.n}",
            "aliases": pattern.aliases,
            "p_value": round(pattern.p_value, 5),
        }
    return common | {
        "tool": pattern.tool,
        "error_class": pattern.error_class,
        "best_recovery": pattern.best_recovery,
        "best_mode": pattern.best_mode,
    }


# ---------------------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------------------


@dataclass
class Result:
    size: int
    seed: int
    generate_s: float = 0.0
    learn_s: float = 0.0
    served: int = 0
    judged: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    true: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    skipped: int = 0
    found: dict[str, list[str]] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    missed: list[str] = field(default_factory=list)
    false_positives: list[dict[str, Any]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        judged = sum(self.judged.values())
        return sum(self.true.values()) / judged if judged else 1.0

    def kind_precision(self, kind: str) -> float:
        return self.true[kind] / self.judged[kind] if self.judged[kind] else 1.0

    def recall(self, kind: str | None = None) -> float:
        facts = planted_facts()
        kinds = [kind] if kind else list(KINDS)
        total = sum(len(facts[k]) for k in kinds)
        return sum(len(self.found.get(k, [])) for k in kinds) / total

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall()
        return 2 * p * r / (p + r) if p + r else 0.0


def run_one(size: int, seed: int) -> Result:
    result = Result(size, seed)
    started = time.perf_counter()
    episodes = list(generate(size, seed))
    result.generate_s = time.perf_counter() - started
    learner = PatternLearner("default")
    started = time.perf_counter()
    for episode in episodes:
        learner.observe(episode)
    served = learner.patterns()
    result.learn_s = time.perf_counter() - started
    result.served = len(served)
    _score(result, served)
    return result


def _score(result: Result, served: list[Any]) -> None:
    hits: Counter[str] = Counter()
    for pattern in served:
        kind, verdict, fact = judge(pattern)
        if verdict is None:
            result.skipped += 1
            continue
        result.judged[kind] += 1
        if verdict:
            result.true[kind] += 1
            hits[fact or ""] += 1
        else:
            result.false_positives.append(describe(pattern))
    for kind, facts in planted_facts().items():
        result.found[kind] = [f for f in facts if hits[f]]
        result.missed += [f for f in facts if not hits[f]]
    result.duplicates = {f: n for f, n in hits.items() if n > 1}


# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------


def _ratio(a: int, b: int) -> str:
    return f"{a}/{b}"


def print_result(r: Result) -> None:
    facts = planted_facts()
    judged, true = sum(r.judged.values()), sum(r.true.values())
    print(
        f"\n== size {r.size}  seed {r.seed}  (generate {r.generate_s:.1f}s, "
        f"learn {r.learn_s:.1f}s, served {r.served}, skipped {r.skipped})"
    )
    print(
        f"   precision {r.precision:.3f} ({_ratio(true, judged)})   "
        f"recall {r.recall():.3f} ({sum(len(v) for v in r.found.values())}/{N_FACTS})"
    )
    for kind in KINDS:
        print(
            f"   {kind:9s} precision {_ratio(r.true[kind], r.judged[kind]):>7s}   "
            f"recall {_ratio(len(r.found[kind]), len(facts[kind])):>5s}"
        )
    if r.duplicates:
        print(f"   duplicates (true patterns per fact): {r.duplicates}")
    for fp in r.false_positives:
        print(f"   FALSE POSITIVE {json.dumps(fp, default=str, ensure_ascii=False)}")
    for fact in r.missed:
        print(f"   MISSED {fact}")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def worst(results: list[Result]) -> Result:
    """The seed with the lowest F1 (ties: lower recall, then lower seed)."""
    return min(results, key=lambda r: (r.f1, r.recall(), r.seed))


def print_summary(results: list[Result]) -> None:
    header = (
        f"   {'size':>6s} {'':6s} {'precision':>9s} {'recall':>7s} "
        + " ".join(f"{k:>9s}" for k in KINDS)
        + "   learn_s"
    )
    print("\n== summary (mean over seeds, then the worst seed)")
    print(header)
    for size in sorted({r.size for r in results}):
        rs = [r for r in results if r.size == size]
        kinds = " ".join(f"{_mean([r.recall(k) for r in rs]):9.2f}" for k in KINDS)
        print(
            f"   {size:6d} {'mean':6s} {_mean([r.precision for r in rs]):9.3f} "
            f"{_mean([r.recall() for r in rs]):7.3f} {kinds}   "
            f"{_mean([r.learn_s for r in rs]):.1f}"
        )
        w = worst(rs)
        kinds = " ".join(f"{w.recall(k):9.2f}" for k in KINDS)
        print(
            f"   {size:6d} {'seed ' + str(w.seed):6s} {w.precision:9.3f} "
            f"{w.recall():7.3f} {kinds}   {w.learn_s:.1f}"
        )
    print("\n== precision per kind (true/judged, summed over seeds)")
    print(f"   {'size':>6s} " + " ".join(f"{k:>9s}" for k in KINDS))
    for size in sorted({r.size for r in results}):
        rs = [r for r in results if r.size == size]
        cells = " ".join(
            f"{_ratio(sum(r.true[k] for r in rs), sum(r.judged[k] for r in rs)):>9s}" for k in KINDS
        )
        print(f"   {size:6d} {cells}")


def to_json(r: Result) -> dict[str, Any]:
    data = asdict(r)
    data["precision"] = r.precision
    data["recall"] = r.recall()
    data["recall_by_kind"] = {k: r.recall(k) for k in KINDS}
    data["precision_by_kind"] = {k: r.kind_precision(k) for k in KINDS}
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="500,2000")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    results = []
    for size in sizes:
        for seed in seeds:
            result = run_one(size, seed)
            results.append(result)
            if not args.json:
                print_result(result)
                sys.stdout.flush()
    if args.json:
        print(json.dumps([to_json(r) for r in results], indent=2, default=str))
    else:
        print_summary(results)


if __name__ == "__main__":
    main()
