"""Retrieval benchmark: quality, latency and memory of ``retrieve_relevant_context``.

Run from the repository root::

    python -m benchmarks.bench_retrieval                 # full: 1k / 10k / 100k stored episodes
    python -m benchmarks.bench_retrieval --quick         # 1k episodes, a smoke run (~30-40 s)
    python -m benchmarks.bench_retrieval --sizes 1000,10000 --json
    python -m benchmarks.bench_retrieval --cache-dir /tmp/bench-vectors   # reuse MiniLM vectors

What it measures (see docs/retrieval_benchmark.md):

1. **Quality** on the labelled set of :mod:`benchmarks.retrieval_dataset` (60 seed episodes,
   71 graded queries) mixed into filler episodes: recall@5, MRR (of the exact past task) and
   nDCG@10, for lexical-only, embedding-only and hybrid ranking (MiniLM embeddings), the
   default weights without an embedder, exact search where selfmem would use HNSW, and a
   plain exact-cosine reference outside selfmem; at every size, per query kind.
2. **Latency** of ``retrieve_relevant_context`` (limit 5) at each size: p50 / p95 with the
   query vector given (``query_vector=``, so the embedding is excluded) and with the query
   embedded by MiniLM inside the call; the first query (which loads the index) apart.
3. **RSS** of a fresh process at each size that never imports torch: lexical path (no
   embedder) and vector path (stored vectors loaded, queries passed as vectors).
4. **Side by side** at one size (10k; 1k with ``--quick``) on the same episodes, queries
   and MiniLM vectors: LangGraph ``InMemoryStore`` with an ``index``, LlamaIndex
   ``VectorStoreIndex`` over its default in-memory vector store and, when ``mem0ai`` and
   ``faiss-cpu`` are installed (the ``bench-mem0`` extra), mem0's ``Memory`` on a local faiss
   store with ``infer=False``, fully offline (skipped with one line otherwise); each arm's
   build time, p50 / p95 and the RSS it adds, in one table with the ratios to selfmem.

Episodes go through the public API (``start_episode`` / ``log_step`` /
``complete_episode``) into ``SelfLearningMemory.open(tmpdir)``, up to ``--public-api-max``
(10,000; the public API stores ~300 episodes/s, so 100k would take over 5 minutes); the
rest are written through the store protocol and embedded with ``reembed()``. MiniLM vectors
of every text are computed once (in batches) by :class:`VectorBank` and reused by all systems.
Progress goes to stderr; tables (Markdown) or JSON go to stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfmem.embeddings import SentenceTransformerEmbedder

from .machine import description, load_average
from .progress import progress
from .retrieval_dataset import QUERIES, SEEDS, EpisodeSpec, check
from .retrieval_frameworks import compare, side_by_side
from .retrieval_report import render
from .retrieval_rss import rss
from .retrieval_store import Store, ann_threshold, episode_order
from .retrieval_variants import (
    HYBRID,
    HYBRID_EXACT,
    PLAIN,
    REFERENCE,
    VARIANTS,
    embed_latency,
    latency,
    quality,
    reference_quality,
)
from .retrieval_vectors import VectorBank, embedding_text

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PACKAGES = ("selfmem", "numpy", "torch", "sentence-transformers", "langgraph",
            "llama-index-core", "mem0ai", "faiss-cpu", "libsql", "usearch")  # fmt: skip


# -- plan -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """How much work the run does."""

    sizes: tuple[int, ...] = (1_000, 10_000, 100_000)
    compare_size: int | None = 10_000
    latency_repeats: int = 3
    rss: bool = True
    cache_dir: str | None = None
    seed_window: int = 1_000  # the seeds are spread over the first this many episodes
    public_api_max: int = 10_000  # episodes past this are written through the store protocol


FULL = Plan()
QUICK = Plan(sizes=(1_000,), compare_size=1_000, latency_repeats=1)


# -- the run ----------------------------------------------------------------------------------


def prepare_bank(order: list[EpisodeSpec], plan: Plan) -> tuple[VectorBank, dict[str, float]]:
    progress("loading MiniLM (sentence-transformers, offline)")
    start = time.perf_counter()
    bank = VectorBank(SentenceTransformerEmbedder())
    dim = bank.dim
    loaded = bank.load(plan.cache_dir) if plan.cache_dir else 0
    model_s = time.perf_counter() - start
    texts = [q.text for q in QUERIES] + [embedding_text(spec) for spec in order]
    progress(f"embedding {len(set(texts)) - loaded} texts once ({loaded} from the cache)")
    warm_s = bank.warm(texts)
    if plan.cache_dir and bank.model_texts:
        bank.save(plan.cache_dir)
    return bank, {"dim": dim, "model_load_s": model_s, "embed_s": warm_s,
                  "texts_embedded": bank.model_texts, "texts_from_cache": loaded}  # fmt: skip


def run_size(store: Store, bank: VectorBank, plan: Plan, workdir: Path) -> dict[str, Any]:
    size = store.size
    found: dict[str, Any] = {"size": size, "quality": {}, "latency": {}}
    threshold = ann_threshold()
    for variant in VARIANTS:
        if variant.exact and (threshold is None or size < threshold):
            continue
        progress(f"[{size}] quality: {variant.name}")
        try:
            found["quality"][variant.name] = quality(store, variant, bank)
        except NotImplementedError as exc:
            found["quality"][variant.name] = {"error": str(exc)}
    found["quality"][REFERENCE] = reference_quality(store, bank)
    for variant in (HYBRID, PLAIN, HYBRID_EXACT):
        if variant.exact and (threshold is None or size < threshold):
            continue
        progress(f"[{size}] latency: {variant.name}")
        try:
            found["latency"][variant.name] = latency(store, variant, bank, plan.latency_repeats)
        except NotImplementedError as exc:
            found["latency"][variant.name] = {"error": str(exc)}
    if plan.rss:
        progress(f"[{size}] RSS of a fresh process without torch")
        found["rss"] = rss(store, bank, workdir)
    if plan.compare_size == size:
        found["compare"] = compare(store, bank, plan.latency_repeats)
    return found


def run(plan: Plan) -> dict[str, Any]:
    progress(f"dataset: {check(filler_sample=2_000)}")
    order = episode_order(max(plan.sizes), min(plan.seed_window, min(plan.sizes)))
    bank, embedding = prepare_bank(order, plan)
    report: dict[str, Any] = {"machine": description(PACKAGES), "plan": dataclasses.asdict(plan),
                              "embedding": embedding, "embed_query": embed_latency(bank),
                              "sizes": []}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="selfmem-retrieval-") as tmp:
        workdir = Path(tmp)
        store = Store(workdir / "store", order)
        for size in sorted(plan.sizes):
            build = store.grow(size, bank, plan.public_api_max)
            result = run_size(store, bank, plan, workdir)
            result["build"] = build
            result["db_mb"] = sum(p.stat().st_size for p in store.path.glob("selfmem.db*")) / 2**20
            report["sizes"].append(result)
    report["texts_embedded_by_model"] = bank.model_texts
    report["load_average_at_end"] = load_average()
    return report


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_retrieval",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="1k episodes only, a smoke run")
    parser.add_argument("--sizes", help="stored-episode counts, e.g. 1000,10000,100000")
    parser.add_argument("--compare-size", type=int, help="size for LangGraph / LlamaIndex / mem0 "
                        "(default 10000, or the largest size below it); 0 skips them")  # fmt: skip
    parser.add_argument("--repeats", type=int, help="timed passes over the queries")
    parser.add_argument("--public-api-max", type=int, help="episodes stored through the public "
                        "API (default 10000); the rest go through the store protocol")  # fmt: skip
    parser.add_argument("--no-rss", action="store_true", help="skip the RSS subprocesses")
    parser.add_argument("--cache-dir", help="keep MiniLM vectors here between runs")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    return parser.parse_args(argv)


def plan_from(args: argparse.Namespace) -> Plan:
    plan = QUICK if args.quick else FULL
    if args.sizes:
        sizes = tuple(sorted({int(s.replace("_", "")) for s in args.sizes.split(",")}))
        if min(sizes) < len(SEEDS):
            raise SystemExit(f"every size must be at least {len(SEEDS)} (the seeds)")
        fallback = max([s for s in sizes if s <= 10_000], default=sizes[0])
        plan = dataclasses.replace(plan, sizes=sizes, compare_size=fallback)
    if args.compare_size is not None:
        plan = dataclasses.replace(plan, compare_size=args.compare_size or None)
    if plan.compare_size is not None and plan.compare_size not in plan.sizes:
        raise SystemExit(f"--compare-size {plan.compare_size} must be one of --sizes")
    if args.repeats:
        plan = dataclasses.replace(plan, latency_repeats=args.repeats)
    if args.public_api_max is not None:
        plan = dataclasses.replace(plan, public_api_max=args.public_api_max)
    return dataclasses.replace(plan, rss=not args.no_rss, cache_dir=args.cache_dir)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = plan_from(args)
    started = time.perf_counter()
    report = run(plan)
    elapsed = time.perf_counter() - started
    report["seconds"] = elapsed
    report["quick"] = args.quick
    print(
        json.dumps(report, indent=2)
        if args.json
        else render(report, elapsed) + side_by_side(report)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
