"""The second planted world fed straight to the pattern learner: the learning alone, fast
enough for 10,000 episodes (no database, no retrieval, so no ``recommend_patterns`` column).

Same generator (``planted_world``) and judge (``planted_score``) as ``bench_planted``; the
episodes are built as ``bench_planted`` logs them and passed to ``PatternLearner.observe`` in
time order, then the served patterns are judged.

    python -m benchmarks.bench_planted_direct [--sizes 500,2000,10000] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from datetime import timedelta

from selfmem import Episode, ExecutionStep, TaskContext, TaskOutcome
from selfmem.learning import PatternLearner, compute_reward

from .planted_score import KINDS, judge, score
from .planted_world import GeneratedEpisode, generate


def _episode(generated: GeneratedEpisode) -> Episode:
    at = generated.start_time
    steps = []
    for step in generated.steps:
        at += timedelta(milliseconds=step.latency_ms)
        steps.append(
            ExecutionStep(
                tool=step.tool, parameters=step.parameters, observation=step.observation,
                error=step.error, success=step.success, latency_ms=step.latency_ms, timestamp=at,
            )
        )
    outcome = TaskOutcome.success("done") if generated.success else TaskOutcome.failure("no")
    context = TaskContext(
        domain=generated.domain, language=generated.language, tags=list(generated.tags)
    )
    episode = Episode(
        task_description=generated.description, context=context, task_type=generated.task_type,
        steps=steps, start_time=generated.start_time, end_time=at, outcome=outcome,
    )  # fmt: skip
    episode.reward = compute_reward(episode)
    return episode


def _cell(value: float | None) -> str:
    return "  - " if value is None else f"{value:.2f}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default="500,2000,10000")
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args(argv)
    header = f"{'size':>6} {'seed':>5} " + " ".join(f"{k[:12]:>13}" for k in KINDS)
    print(header + f" {'all P/R':>11} {'s':>6}")
    for size in (int(x) for x in args.sizes.split(",")):
        worst: list[tuple[float, float]] = []
        for seed in (int(x) for x in args.seeds.split(",")):
            learner = PatternLearner("default")
            started = time.perf_counter()
            for generated in generate(size, seed).episodes:
                learner.observe(_episode(generated))
            result = score(judge(p) for p in learner.patterns())
            elapsed = time.perf_counter() - started
            kinds = " ".join(
                f"{_cell(result.kinds[k].precision)}/{_cell(result.kinds[k].recall):>5}"
                for k in KINDS
            )
            total = result.overall
            worst.append((total.precision or 0.0, total.recall or 0.0))
            print(f"{size:>6} {seed:>5} {kinds} {_cell(total.precision)}/{_cell(total.recall)}"
                  f" {elapsed:6.1f}")  # fmt: skip
            for reason, count in result.false_positive_reasons().items():
                print(f"{'':13}FP x{count}: {reason}")
            for missed in result.missed:
                print(f"{'':13}missed: {missed}")
        precision = min(p for p, _ in worst)
        recall = min(r for _, r in worst)
        print(f"{size:>6} worst: precision {precision:.2f}, recall {recall:.2f}")


if __name__ == "__main__":
    main()
