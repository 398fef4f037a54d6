"""Learning accuracy: does the pattern learner extract the planted patterns and heuristics?

Run from the repository root::

    python -m benchmarks.bench_learning            # 3 seeds, curve to 500 episodes, cost at 10,000
    python -m benchmarks.bench_learning --quick    # smaller cost run, a smoke run of seconds
    python -m benchmarks.bench_learning --json
    python -m benchmarks.bench_learning --set context_min_effect=0.5   # try a threshold

Episodes from :mod:`benchmarks.synthetic` are fed in time order to ``PatternLearner.observe``;
at each checkpoint the served patterns (``learner.patterns()``) and the heuristics derived
from them are matched against the planted truth. Progress goes to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, TypeVar

from selfmem.learning.heuristics import derive_heuristics
from selfmem.learning.learner import LearningConfig, PatternLearner
from selfmem.records.learned import AnyPattern, PatternKind

from .progress import progress
from .synthetic import HeuristicFact, Noise, PatternFact, Truth, generate, padded

__all__ = ["Cost", "Evaluation", "Score", "evaluate", "learning_curve", "main", "observe_cost"]

NAMESPACE = "default"
SEEDS = (1, 2, 3)
CHECKPOINTS = (50, 100, 200, 500)
TARGET_PRECISION = 0.9
TARGET_RECALL = 0.9
TARGET_OBSERVE_P95_MS = 5.0
KINDS = tuple(kind.value for kind in PatternKind)

_F = TypeVar("_F", PatternFact, HeuristicFact)

# -- scoring ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Score:
    """True positives, false positives and false negatives of one set of facts."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        """1.0 when nothing is claimed: no claim is a false one."""
        claimed = self.tp + self.fp
        return self.tp / claimed if claimed else 1.0

    @property
    def recall(self) -> float:
        expected = self.tp + self.fn
        return self.tp / expected if expected else 1.0

    def __add__(self, other: Score) -> Score:
        return Score(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """How the learner did after ``episodes`` episodes of one seed."""

    seed: int
    episodes: int
    patterns: dict[str, Score]  # by pattern kind
    heuristics: Score
    false_positives: list[str]
    false_negatives: list[str]

    @property
    def all_patterns(self) -> Score:
        return sum(self.patterns.values(), Score(0, 0, 0))


def _score(found: Iterable[_F], expected: Iterable[_F]) -> tuple[Score, list[_F], list[_F]]:
    found, expected = set(found), set(expected)
    fps, fns = sorted(found - expected), sorted(expected - found)
    return Score(len(found & expected), len(fps), len(fns)), fps, fns


def _describe(fact: PatternFact | HeuristicFact) -> str:
    if isinstance(fact, PatternFact):
        return f"{fact.kind.value} {fact.key} -> {', '.join(fact.conclusion)}"
    source = f"{fact.source[0].value} {fact.source[1]}"
    return f"heuristic {fact.kind.value} tool={fact.tool} from {source}: {fact.action_tools}"


def evaluate(
    truth: Truth, patterns: Sequence[AnyPattern], *, seed: int = 0, episodes: int = 0
) -> Evaluation:
    """Match served ``patterns`` and their heuristics against ``truth``.

    A pattern matches when its kind, key and conclusion equal a planted fact; a heuristic
    when its kind, tool, the tools its action names and its source pattern's (kind, key) do.
    """
    learned = {PatternFact.of(pattern) for pattern in patterns}
    per_kind: dict[str, Score] = {}
    fps: list[PatternFact | HeuristicFact] = []
    fns: list[PatternFact | HeuristicFact] = []
    for kind in PatternKind:
        score, kind_fps, kind_fns = _score(
            (fact for fact in learned if fact.kind is kind),
            (fact for fact in truth.patterns if fact.kind is kind),
        )
        per_kind[kind.value] = score
        fps += kind_fps
        fns += kind_fns
    sources = {pattern.id: (pattern.kind, PatternFact.of(pattern).key) for pattern in patterns}
    derived = [HeuristicFact.of(h, sources, truth.tools) for h in derive_heuristics(patterns)]
    heuristics, h_fps, h_fns = _score(derived, truth.heuristics)
    fps += h_fps
    fns += h_fns
    return Evaluation(
        seed,
        episodes,
        per_kind,
        heuristics,
        [_describe(f) for f in fps],
        [_describe(f) for f in fns],
    )


# -- the learning curve -----------------------------------------------------------------------

LearnerFactory = Callable[[], PatternLearner]


def learning_curve(
    seeds: Sequence[int], checkpoints: Sequence[int], factory: LearnerFactory
) -> list[Evaluation]:
    """Feed each seed's episodes in time order; evaluate at every checkpoint."""
    results = []
    for seed in seeds:
        episodes, truth = generate(max(checkpoints), seed)
        learner = factory()
        for count, episode in enumerate(episodes, start=1):
            learner.observe(episode)
            if count in checkpoints:
                served = learner.patterns()
                results.append(evaluate(truth, served, seed=seed, episodes=count))
        progress(f"seed {seed}: {len(episodes)} episodes learned")
    return results


# -- incremental cost -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cost:
    """Milliseconds of ``observe`` for one new episode, with the learner already warm."""

    preload: int
    steps: int
    samples: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    load_average: float  # 1-minute load of the machine when the samples were taken


def observe_cost(
    preload: int, samples: int, steps: int, factory: LearnerFactory, seed: int = 99
) -> Cost:
    """Time ``observe`` of ``samples`` new ``steps``-step episodes after ``preload`` episodes."""
    history, _ = generate(preload + samples, seed)
    learner = factory()
    for episode in history[:preload]:
        learner.observe(episode)
    progress(f"cost: {preload} episodes learned")
    fresh = [padded(episode, steps, seed + i) for i, episode in enumerate(history[preload:])]
    timings_ms = []
    for episode in fresh:
        started = time.perf_counter_ns()
        learner.observe(episode)
        timings_ms.append((time.perf_counter_ns() - started) / 1e6)
    cuts = statistics.quantiles(timings_ms, n=100)
    return Cost(preload, steps, samples, cuts[49], cuts[94], max(timings_ms), os.getloadavg()[0])


# -- reporting --------------------------------------------------------------------------------


def _at(results: Sequence[Evaluation], episodes: int) -> list[Evaluation]:
    return [r for r in results if r.episodes == episodes]


def _mean_min(values: Iterable[float]) -> str:
    values = list(values)
    return f"{statistics.fmean(values):.2f} / {min(values):.2f}"


def _pr_cells(scores: Sequence[Score]) -> str:
    precision = _mean_min(s.precision for s in scores)
    return f"{precision} | {_mean_min(s.recall for s in scores)}"


def _curve_rows(results: Sequence[Evaluation], checkpoints: Sequence[int]) -> list[str]:
    rows = [
        "| episodes | pattern precision | pattern recall "
        "| heuristic precision | heuristic recall |",
        "|---:|---:|---:|---:|---:|",
    ]
    for count in checkpoints:
        at = _at(results, count)
        patterns = _pr_cells([r.all_patterns for r in at])
        rows.append(f"| {count} | {patterns} | {_pr_cells([r.heuristics for r in at])} |")
    return rows


def _kind_rows(results: Sequence[Evaluation], episodes: int) -> list[str]:
    at = _at(results, episodes)
    scored = [(kind, [r.patterns[kind] for r in at]) for kind in KINDS]
    scored.append(("all patterns", [r.all_patterns for r in at]))
    scored.append(("heuristics", [r.heuristics for r in at]))
    rows = ["| kind | planted | served (mean) | precision | recall |", "|---|---:|---:|---:|---:|"]
    for name, scores in scored:
        planted = scores[0].tp + scores[0].fn
        served = statistics.fmean(s.tp + s.fp for s in scores)
        rows.append(f"| {name} | {planted} | {served:.1f} | {_pr_cells(scores)} |")
    return rows


def _error_rows(results: Sequence[Evaluation], episodes: int) -> list[str]:
    rows = []
    for r in _at(results, episodes):
        rows += [f"- seed {r.seed} FP: {text}" for text in r.false_positives]
        rows += [f"- seed {r.seed} FN: {text}" for text in r.false_negatives]
    return rows or ["- none"]


def _verdict(results: Sequence[Evaluation], episodes: int) -> str:
    at = _at(results, episodes)
    scores = [r.all_patterns for r in at] + [r.heuristics for r in at]
    precision = min(s.precision for s in scores)
    recall = min(s.recall for s in scores)
    met = precision >= TARGET_PRECISION and recall >= TARGET_RECALL
    return (
        f"At {episodes} episodes, worst seed: precision {precision:.2f}, recall {recall:.2f} "
        f"(target >= {TARGET_PRECISION} / >= {TARGET_RECALL}: {'met' if met else 'MISSED'})"
    )


def _cost_line(cost: Cost) -> str:
    met = "met" if cost.p95_ms <= TARGET_OBSERVE_P95_MS else "MISSED"
    return (
        f"observe() of one new {cost.steps}-step episode after {cost.preload:,} episodes "
        f"({cost.samples} samples, load average {cost.load_average:.1f}): "
        f"p50 {cost.p50_ms:.2f} ms, p95 {cost.p95_ms:.2f} ms, max {cost.max_ms:.2f} ms "
        f"(target p95 <= {TARGET_OBSERVE_P95_MS} ms: {met})"
    )


def render(results: Sequence[Evaluation], checkpoints: Sequence[int], cost: Cost) -> str:
    """The results as Markdown tables and lists."""
    last = max(checkpoints)
    lines = ["Learning curve (mean / min over seeds):", *_curve_rows(results, checkpoints)]
    lines += ["", f"Per kind at {last} episodes (mean / min over seeds):"]
    lines += _kind_rows(results, last)
    lines += ["", f"False positives and negatives at {last} episodes:"]
    lines += _error_rows(results, last)
    lines += ["", _verdict(results, last), _cost_line(cost)]
    return "\n".join(lines)


def _score_dict(score: Score) -> dict[str, Any]:
    return {**asdict(score), "precision": score.precision, "recall": score.recall}


def _evaluation_dict(r: Evaluation) -> dict[str, Any]:
    return {
        "seed": r.seed,
        "episodes": r.episodes,
        "patterns": {kind: _score_dict(score) for kind, score in r.patterns.items()},
        "all_patterns": _score_dict(r.all_patterns),
        "heuristics": _score_dict(r.heuristics),
        "false_positives": r.false_positives,
        "false_negatives": r.false_negatives,
    }


def as_json(results: Sequence[Evaluation], cost: Cost, config: LearningConfig) -> str:
    """The results, the cost and the learner's configuration as JSON."""
    report = {
        "config": asdict(config),
        "noise": asdict(Noise()),
        "seeds": list(SEEDS),
        "evaluations": [_evaluation_dict(r) for r in results],
        "observe_cost": asdict(cost),
    }
    return json.dumps(report, indent=2)


# -- entry point ------------------------------------------------------------------------------


def _config(overrides: Sequence[str]) -> LearningConfig:
    config = LearningConfig()
    types = {f.name: type(getattr(config, f.name)) for f in fields(config)}
    for item in overrides:
        name, _, value = item.partition("=")
        if name not in types:
            raise SystemExit(f"unknown LearningConfig field: {name}")
        config = replace(config, **{name: types[name](value)})
    return config


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Learning accuracy of the pattern learner.")
    parser.add_argument("--quick", action="store_true", help="small cost run (a smoke test)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a LearningConfig threshold (repeatable)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    config = _config(args.set)

    def factory() -> PatternLearner:
        return PatternLearner(NAMESPACE, config)

    results = learning_curve(SEEDS, CHECKPOINTS, factory)
    preload, samples = (1_000, 100) if args.quick else (10_000, 300)
    cost = observe_cost(preload, samples, 20, factory)
    print(as_json(results, cost, config) if args.json else render(results, CHECKPOINTS, cost))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
