"""The report the planted judges share: one run of a world through the learner, each served
pattern judged by the world's judge, precision and recall, and the text and JSON printed.

A judge brings its world: the generator, the judge of one pattern and the planted facts per
kind. Nothing here knows a world.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from selfmem.learning import (
    ChoiceStats,
    ContextPattern,
    DecisionPoint,
    ErrorRecovery,
    PatternLearner,
    ToolSequence,
)
from selfmem.records import Episode

KINDS = ("sequence", "decision", "context", "error")

Pattern = ToolSequence | DecisionPoint | ContextPattern | ErrorRecovery

# A judged pattern: (kind, verdict, fact); verdict None = skipped, fact None = none found.
Verdict = tuple[str, bool | None, str | None]

# The public fields shown for a pattern, after the ones every pattern has.
_FIELDS: dict[type, tuple[str, ...]] = {
    ToolSequence: ("tools", "stale", "conditional", "sample_task"),
    DecisionPoint: ("after_tool", "best", "worst", "choices", "p_value"),
    ContextPattern: ("feature", "tool", "association", "measure", "baseline", "aliases", "p_value"),
    ErrorRecovery: ("tool", "error_class", "best_recovery", "best_mode"),
}


def describe(pattern: Pattern) -> dict[str, Any]:
    """The pattern's public fields that the judge reads, plus its evidence."""
    common = {
        "kind": pattern.kind.value,
        "key": pattern.key,
        "support": pattern.support,
        "successes": pattern.successes,
        "context": pattern.context.describe(),
    }
    return common | {name: _shown(getattr(pattern, name)) for name in _FIELDS[type(pattern)]}


def _shown(value: Any) -> Any:
    """Counts as ``successes/n``, floats to five places, anything else as it is."""
    if isinstance(value, ChoiceStats):
        return f"{value.successes}/{value.n}"
    if isinstance(value, float):
        return round(value, 5)
    if isinstance(value, dict):
        return {k: _shown(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------------------


@dataclass
class Result:
    size: int
    seed: int
    planted: dict[str, list[str]]  # the world's fact ids per kind; left out of the JSON
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
        kinds = [kind] if kind else list(KINDS)
        total = sum(len(self.planted[k]) for k in kinds)
        return sum(len(self.found.get(k, [])) for k in kinds) / total

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall()
        return 2 * p * r / (p + r) if p + r else 0.0


def run_one(
    size: int,
    seed: int,
    *,
    generate: Callable[[int, int], Iterable[Episode]],
    judge: Callable[[Pattern], Verdict],
    planted: dict[str, list[str]],
) -> Result:
    """Generate ``size`` episodes of ``seed``, learn them in order and judge what is served."""
    result = Result(size, seed, planted)
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
    _score(result, served, judge)
    return result


def _score(result: Result, served: list[Any], judge: Callable[[Pattern], Verdict]) -> None:
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
    for kind, facts in result.planted.items():
        result.found[kind] = [f for f in facts if hits[f]]
        result.missed += [f for f in facts if not hits[f]]
    result.duplicates = {f: n for f, n in hits.items() if n > 1}


# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------


def ratio(a: int, b: int) -> str:
    return f"{a}/{b}"


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def print_result(r: Result, *, ensure_ascii: bool = True) -> None:
    """One run: its totals, each kind, and every false positive, duplicate and missed fact."""
    judged, true = sum(r.judged.values()), sum(r.true.values())
    n_facts = sum(len(v) for v in r.planted.values())
    print(
        f"\n== size {r.size}  seed {r.seed}  (generate {r.generate_s:.1f}s, "
        f"learn {r.learn_s:.1f}s, served {r.served}, skipped {r.skipped})"
    )
    print(
        f"   precision {r.precision:.3f} ({ratio(true, judged)})   "
        f"recall {r.recall():.3f} ({sum(len(v) for v in r.found.values())}/{n_facts})"
    )
    for kind in KINDS:
        print(
            f"   {kind:9s} precision {ratio(r.true[kind], r.judged[kind]):>7s}   "
            f"recall {ratio(len(r.found[kind]), len(r.planted[kind])):>5s}"
        )
    if r.duplicates:
        print(f"   duplicates (true patterns per fact): {r.duplicates}")
    for fp in r.false_positives:
        print(f"   FALSE POSITIVE {json.dumps(fp, default=str, ensure_ascii=ensure_ascii)}")
    for fact in r.missed:
        print(f"   MISSED {fact}")


def worst(results: list[Result]) -> Result:
    """The seed with the lowest F1 (ties: lower recall, then lower seed)."""
    return min(results, key=lambda r: (r.f1, r.recall(), r.seed))


def print_summary(results: list[Result], *, worst_seed: bool = False) -> None:
    """Per size the mean over seeds and, with ``worst_seed``, the row of :func:`worst`."""
    then = ", then the worst seed" if worst_seed else ""
    label = f" {'':6s}" if worst_seed else ""
    print(f"\n== summary (mean over seeds{then})")
    print(
        f"   {'size':>6s}{label} {'precision':>9s} {'recall':>7s} "
        + " ".join(f"{k:>9s}" for k in KINDS)
        + "   learn_s"
    )
    for size in sorted({r.size for r in results}):
        rs = [r for r in results if r.size == size]
        _summary_row(
            size,
            "mean" if worst_seed else None,
            mean([r.precision for r in rs]),
            mean([r.recall() for r in rs]),
            [mean([r.recall(k) for r in rs]) for k in KINDS],
            mean([r.learn_s for r in rs]),
        )
        if worst_seed:
            w = worst(rs)
            recalls = [w.recall(k) for k in KINDS]
            _summary_row(size, f"seed {w.seed}", w.precision, w.recall(), recalls, w.learn_s)


def _summary_row(
    size: int,
    label: str | None,
    precision: float,
    recall: float,
    recalls: list[float],
    learn_s: float,
) -> None:
    shown = f" {label:6s}" if label is not None else ""
    kinds = " ".join(f"{v:9.2f}" for v in recalls)
    print(f"   {size:6d}{shown} {precision:9.3f} {recall:7.3f} {kinds}   {learn_s:.1f}")


def to_json(r: Result) -> dict[str, Any]:
    data = asdict(r)
    del data["planted"]
    data["precision"] = r.precision
    data["recall"] = r.recall()
    data["recall_by_kind"] = {k: r.recall(k) for k in KINDS}
    return data


def main(
    argv: list[str] | None,
    doc: str | None,
    run: Callable[[int, int], Result],
    *,
    summary: Callable[[list[Result]], None] = print_summary,
    as_json: Callable[[Result], dict[str, Any]] = to_json,
    ensure_ascii: bool = True,
) -> None:
    """The command line of a judge: ``--sizes``, ``--seeds`` and ``--json``."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="500,2000")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    results = []
    for size in sizes:
        for seed in seeds:
            result = run(size, seed)
            results.append(result)
            if not args.json:
                print_result(result, ensure_ascii=ensure_ascii)
                sys.stdout.flush()
    if args.json:
        print(json.dumps([as_json(r) for r in results], indent=2, default=str))
    else:
        summary(results)
