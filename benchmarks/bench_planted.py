"""Learning accuracy on a second planted world, through the public API only.

For each size and seed: ``planted_world.generate`` makes the episodes; they go into a fresh
``SelfLearningMemory.open(tmpdir)`` (embedded libSQL store, no embedder, default config) with
``start_episode(..., start_time=...)`` / ``log_step`` / ``complete_episode``; ``flush()`` waits
for the background learning; then ``list_patterns()`` and ``list_heuristics()`` are judged by
``planted_score`` and ``recommend_patterns`` is asked about a held-out description of every
family (is the top recommendation, or one of the top five, that family's canonical sequence?).

    python -m benchmarks.bench_planted [--sizes 100,500,2000,10000] [--seeds 0,1,2] [--json]

The table shows precision / recall per pattern kind, overall and for heuristics, one row per
seed and a ``worst`` row per size (the minimum of each column over the seeds; the seed with
the lowest overall F1 is named). False-positive reasons and missed facts follow the table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from selfmem import SelfLearningMemory, TaskContext, TaskOutcome

from .planted_score import KINDS, Score, accepted_sequences, judge, realized_effects, score
from .planted_world import FAMILIES, GeneratedEpisode, World, generate

LISTING_LIMIT = 100_000
SHORT = {
    "tool_sequence": "seq",
    "decision_point": "dec",
    "error_recovery": "err",
    "context_pattern": "ctx",
    "overall": "all",
    "heuristics": "heur",
}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _feed_one(memory: SelfLearningMemory, episode: GeneratedEpisode) -> None:
    context = TaskContext(domain=episode.domain, language=episode.language, tags=list(episode.tags))
    eid = memory.start_episode(
        episode.description, context, episode.task_type, start_time=episode.start_time
    )
    at = episode.start_time
    for step in episode.steps:
        at += timedelta(milliseconds=step.latency_ms)
        memory.log_step(
            eid,
            tool=step.tool,
            parameters=step.parameters,
            observation=step.observation,
            success=step.success,
            error=step.error,
            latency_ms=step.latency_ms,
            timestamp=at,
        )
    if episode.success:
        outcome = TaskOutcome.success("task done, checks pass")
    elif episode.steps and not episode.steps[-1].success:
        outcome = TaskOutcome.failure("gave up after a tool error")
    else:
        outcome = TaskOutcome.failure("final verification failed")
    memory.complete_episode(eid, outcome)


def _recommendations(memory: SelfLearningMemory, world: World) -> dict[str, Any]:
    families = {family.name: family for family in FAMILIES}
    top1 = top5 = 0
    rows = []
    for held in world.held_out:
        accepted = accepted_sequences(families[held.family], held.language)
        context = TaskContext(domain=held.domain, language=held.language)
        recs = memory.recommend_patterns(held.description, context, 5, task_type=held.task_type)
        hits = [
            str(getattr(rec.pattern, "kind", "")) == "tool_sequence"
            and tuple(getattr(rec.pattern, "tools", ())) in accepted
            for rec in recs
        ]
        top1 += bool(hits and hits[0])
        top5 += any(hits)
        top = recs[0].pattern.describe() if recs else None
        rows.append({"family": held.family, "query": held.description, "top": top})
    n = len(world.held_out)
    return {"top1": top1 / n, "top5": top5 / n, "queries": rows}


def _heuristic_score(memory: SelfLearningMemory) -> Score:
    by_id = {p.id: p for p in memory.list_patterns(include_unserved=True, limit=LISTING_LIMIT)}
    verdicts = []
    for heuristic in memory.list_heuristics(limit=LISTING_LIMIT):
        source = next((by_id[i] for i in heuristic.source_pattern_ids if i in by_id), None)
        if source is not None:
            verdicts.append(judge(source))
    return score(verdicts)


def run_one(size: int, seed: int) -> dict[str, Any]:
    """Generate, feed, learn and score one world."""
    world = generate(size, seed)
    with tempfile.TemporaryDirectory(prefix="selfmem-planted-") as path:
        memory = SelfLearningMemory.open(path)
        try:
            started = time.perf_counter()
            for episode in world.episodes:
                _feed_one(memory, episode)
            fed = time.perf_counter()
            memory.flush()
            learned = time.perf_counter()
            patterns = score(judge(p) for p in memory.list_patterns(limit=LISTING_LIMIT))
            heuristics = _heuristic_score(memory)
            recs = _recommendations(memory, world)
        finally:
            memory.close()
    return {
        "size": size,
        "seed": seed,
        "feed_s": round(fed - started, 2),
        "flush_s": round(learned - fed, 2),
        "ms_per_episode": round(1000 * (learned - started) / max(size, 1), 2),
        "patterns": patterns,
        "heuristics": heuristics,
        "recommend": recs,
        "realized": realized_effects(world),
    }


def _cell(precision: float | None, recall: float | None) -> str:
    def fmt(value: float | None) -> str:
        return "  - " if value is None else f"{value:.2f}"

    return f"{fmt(precision)}/{fmt(recall)}"


def _metrics(run: dict[str, Any]) -> dict[str, tuple[float | None, float | None]]:
    patterns: Score = run["patterns"]
    out = {kind: (patterns.kinds[kind].precision, patterns.kinds[kind].recall) for kind in KINDS}
    out["overall"] = (patterns.overall.precision, patterns.overall.recall)
    heuristics: Score = run["heuristics"]
    out["heuristics"] = (heuristics.overall.precision, heuristics.overall.recall)
    return out


def _f1(run: dict[str, Any]) -> float:
    precision, recall = _metrics(run)["overall"]
    p, r = precision or 0.0, recall or 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def _min(values: Sequence[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return min(known) if known else None


def _worst_row(runs: list[dict[str, Any]]) -> str:
    metrics = [_metrics(run) for run in runs]
    cells = [
        _cell(_min([m[name][0] for m in metrics]), _min([m[name][1] for m in metrics]))
        for name in SHORT
    ]
    top1 = min(run["recommend"]["top1"] for run in runs)
    top5 = min(run["recommend"]["top5"] for run in runs)
    worst = min(runs, key=_f1)["seed"]
    return (
        f"{runs[0]['size']:>6} {'worst':>5}  "
        + "  ".join(cells)
        + (f"  {top1:5.2f}  {top5:5.2f}   (seed {worst} lowest F1)")
    )


def render(runs: list[dict[str, Any]]) -> str:
    """The text table and the false-positive / missed summaries."""
    header = f"{'size':>6} {'seed':>5}  " + "  ".join(f"{SHORT[n] + ' P/R':>9}" for n in SHORT)
    lines = [header + "  rec@1  rec@5  ms/ep", "-" * (len(header) + 21)]
    for size in sorted({run["size"] for run in runs}):
        group = [run for run in runs if run["size"] == size]
        for run in group:
            cells = "  ".join(_cell(*value) for value in _metrics(run).values())
            rec = run["recommend"]
            lines.append(
                f"{size:>6} {run['seed']:>5}  {cells}  {rec['top1']:5.2f}  {rec['top5']:5.2f}"
                f"  {run['ms_per_episode']:5.2f}"
            )
        lines.append(_worst_row(group))
    for size in sorted({run["size"] for run in runs}):
        group = [run for run in runs if run["size"] == size]
        reasons: Counter[str] = Counter()
        missed: Counter[str] = Counter()
        for run in group:
            reasons.update(run["patterns"].false_positive_reasons())
            missed.update(run["patterns"].missed)
        lines.append(f"\n{size} episodes, over {len(group)} seeds: false positives by reason")
        lines += [f"  {n:4d}  {reason}" for reason, n in reasons.most_common()] or ["  none"]
        lines.append(f"{size} episodes: planted facts missed (seeds missing them)")
        lines += [f"  {n:4d}  {fact}" for fact, n in missed.most_common()] or ["  none"]
    return "\n".join(lines)


def _as_json(run: dict[str, Any]) -> dict[str, Any]:
    return {**run, "patterns": run["patterns"].as_dict(), "heuristics": run["heuristics"].as_dict()}


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", type=_ints, default=[100, 500, 2000, 10000])
    parser.add_argument("--seeds", type=_ints, default=[0, 1, 2])
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--verbose", action="store_true", help="every served pattern's verdict")
    args = parser.parse_args(argv)
    runs = []
    for size in args.sizes:
        for seed in args.seeds:
            _log(f"planted: {size} episodes, seed {seed} ...")
            runs.append(run_one(size, seed))
            _log(f"  {runs[-1]['feed_s'] + runs[-1]['flush_s']:.1f} s")
            if args.verbose:
                for verdict in runs[-1]["patterns"].verdicts:
                    mark = "TP" if verdict.fact else "FP"
                    _log(f"  {mark} {verdict.kind}: {verdict.text}  [{verdict.reason}]")
    if args.json:
        print(json.dumps([_as_json(run) for run in runs], indent=2, default=str))
    else:
        print(render(runs))


if __name__ == "__main__":
    main()
