"""Vector retrieval at scale: latency, RSS, start time with and without the saved HNSW index,
and what storing vectors as f16 or i8 costs in recall.

Run from the repository root::

    python -m benchmarks.bench_vectors                       # 100,000 episodes
    python -m benchmarks.bench_vectors --size 20000 --runs 1 # a shorter run
    python -m benchmarks.bench_vectors --store-dir /tmp/vecstore --cache-dir /tmp/vecbench/cache

What it does:

1. **Vectors.** MiniLM vectors of the retrieval benchmark's episodes (``--cache-dir``, the
   cache :class:`benchmarks.retrieval_vectors.VectorBank` writes). Embedding 100,000 texts
   takes most of an hour on a shared 2-core machine, so texts missing from the cache get a
   *jittered copy* of a cached real vector (noise of norm ~0.3, renormalised, seeded); the
   report says how many vectors are real. Without a cache every vector is jittered from 64
   random directions (a clustered set, still not MiniLM).
2. **Store.** ``--size`` episodes written through the store protocol into
   ``--store-dir`` (reused when it already holds them), their vectors saved with
   ``save_embeddings``.
3. **Start and latency** in fresh processes that never import torch (queries are passed as
   vectors), after a first open that writes the index snapshot: open, first retrieval
   (which loads the index; wall and CPU seconds, CPU being what load does not inflate),
   time until the HNSW index is ready, then p50 / p95 of
   ``retrieve_relevant_context`` (limit 5) over the labelled queries, and RSS (VmRSS, and
   its anonymous and file-backed parts: the LMDB cache is mapped, so the pages of the index
   snapshot read at start count as file-backed RSS). Once with the saved HNSW file removed
   (it is rebuilt, exact search meanwhile, and saved at close) and once with it; runs
   alternate, ``--runs`` repeats; report the worst. ``--saved-only`` skips the rebuilds.
4. **Recall** of the HNSW index against exact search on the same vectors, for f32, f16 and
   i8 storage: recall@10 (``search(k=10)``) and the share of the exact top 50 among the 400
   rows retrieval asks for, over the labelled queries plus 200 stored vectors as queries.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .machine import load_average
from .progress import progress
from .retrieval_dataset import QUERIES
from .retrieval_store import episode_order
from .retrieval_vectors import embedding_text

F32 = npt.NDArray[np.float32]
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384

_CHILD = r"""
import json, sys, time
import numpy as np

def rss():
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            fields[name] = value.split()
    return {name: int(fields[key][0]) / 1024 for name, key in (
        ("rss_mb", "VmRSS"), ("peak_mb", "VmHWM"), ("anon_mb", "RssAnon"), ("file_mb", "RssFile"))}

path, queries_file, vectors_file, model_id = sys.argv[1:5]
queries = json.loads(open(queries_file).read())
vectors = np.load(vectors_file)

class StoredVectors:
    model_id = model_id
    dim = int(vectors.shape[1])
    def embed(self, texts):
        return np.zeros((len(texts), self.dim), np.float32)

import selfmem
start, cpu = time.perf_counter(), time.process_time()
memory = selfmem.SelfLearningMemory.open(path, embedder=StoredVectors(), flush_interval_s=None)
q = queries[0]
memory.retrieve_relevant_context(q["text"], q["context"], 5, query_vector=vectors[0])
first, first_cpu = time.perf_counter() - start, time.process_time() - cpu
index = memory._core.retrieval.index(memory.namespace)
while index.ann is None or not index.ann.ready:
    time.sleep(0.05)
ready = time.perf_counter() - start
built = index.ann.built
times = []
for _ in range(3):
    for i, q in enumerate(queries):
        t = time.perf_counter()
        memory.retrieve_relevant_context(q["text"], q["context"], 5, query_vector=vectors[i])
        times.append((time.perf_counter() - t) * 1000)
memory_mb = rss()
start = time.perf_counter()
memory.close()
closed = time.perf_counter() - start
print(json.dumps({"first_query_s": first, "first_query_cpu_s": first_cpu,
                  "ann_ready_s": ready, "built": built,
                  "p50_ms": float(np.percentile(times, 50)),
                  "p95_ms": float(np.percentile(times, 95)),
                  **memory_mb, "close_s": closed,
                  "torch": "torch" in sys.modules}))
"""


# -- vectors --------------------------------------------------------------------------------


def _cached(cache_dir: str | None) -> dict[str, F32]:
    if not cache_dir:
        return {}
    found = sorted(Path(cache_dir).glob("minilm-*.npy"))
    if not found:
        return {}
    texts = json.loads(found[0].with_suffix(".json").read_text())
    return dict(zip(texts, np.load(found[0]), strict=True))


def vectors_for(texts: Sequence[str], cache_dir: str | None) -> tuple[F32, int]:
    """One unit vector per text and how many are real MiniLM vectors."""
    bank = _cached(cache_dir)
    rng = np.random.default_rng(7)
    real = [bank[t] for t in dict.fromkeys(texts) if t in bank]
    bases = np.stack(real) if real else _unit(rng.standard_normal((64, DIM)))
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    made: dict[str, F32] = {}
    count = 0
    for i, text in enumerate(texts):
        if text in bank:
            out[i], count = bank[text], count + 1
            continue
        if text not in made:
            noise = rng.standard_normal(DIM).astype(np.float32) * (0.3 / np.sqrt(DIM))
            made[text] = _unit(bases[rng.integers(len(bases))] + noise)
        out[i] = made[text]
    return out, count


def _real_only(order: Sequence[Any], cache_dir: str | None) -> F32 | None:
    """The distinct real MiniLM vectors of the episodes' texts (None without a cache)."""
    bank = _cached(cache_dir)
    texts = [t for t in dict.fromkeys(embedding_text(s) for s in order) if t in bank]
    return np.stack([bank[t] for t in texts]).astype(np.float32) if len(texts) > 1_000 else None


def _unit(v: Any) -> F32:
    v = np.asarray(v, dtype=np.float32)
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


# -- the store ------------------------------------------------------------------------------


def build_store(path: Path, size: int, cache_dir: str | None) -> dict[str, Any]:
    from selfmem import ExecutionStep, SelfLearningMemory, TaskContext
    from selfmem.engine.retrieval import vector_tag
    from selfmem.learning import compute_reward
    from selfmem.records.episodes import Episode, utc_now

    marker = path / "bench_vectors.json"
    if marker.exists() and json.loads(marker.read_text()).get("size") == size:
        return dict(json.loads(marker.read_text()))
    order = episode_order(size, 1_000)
    vectors, real = vectors_for([embedding_text(s) for s in order], cache_dir)
    progress(f"storing {size} episodes ({real} real MiniLM vectors)")
    start = time.perf_counter()
    with SelfLearningMemory.open(path, flush_interval_s=None) as memory:
        store = memory._core.store
        batch: list[tuple[str, bytes]] = []
        for count, (spec, vector) in enumerate(zip(order, vectors, strict=True), 1):
            header = Episode(
                namespace=memory.namespace,
                task_description=spec.description,
                context=TaskContext(**spec.context),
                task_type=spec.task_type,
            )
            store.create_episode(header)
            steps = [ExecutionStep(step_number=n, **step.as_fields())
                     for n, step in enumerate(spec.steps, 1)]  # fmt: skip
            done = header.model_copy(
                update={"steps": steps, "end_time": utc_now(), "outcome": spec.task_outcome()}
            )
            done.reward = compute_reward(done)
            store.finish_episode(done, steps)
            batch.append((header.id, vector.tobytes()))
            if len(batch) == 1_000 or count == size:
                store.save_embeddings(memory.namespace, vector_tag(MODEL_ID), batch)
                batch = []
                progress(f"  {count}/{size} in {time.perf_counter() - start:.0f} s")
    found = {"size": size, "real_vectors": real, "build_s": time.perf_counter() - start}
    marker.write_text(json.dumps(found))
    return found


# -- measurements ---------------------------------------------------------------------------


def measure_start(path: Path, workdir: Path, saved: bool) -> dict[str, Any]:
    """One fresh process: with (``saved``) or without the saved HNSW file."""
    queries = [{"text": q.text, "context": q.context} for q in QUERIES]
    queries_file, vectors_file = workdir / "queries.json", workdir / "query_vectors.npy"
    queries_file.write_text(json.dumps(queries))
    np.save(vectors_file, vectors_for([q.text for q in QUERIES], _CACHE)[0])
    if not saved:
        for file in path.glob("cache/hnsw/*.bin"):
            file.unlink()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(queries_file), str(vectors_file), MODEL_ID],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-3:]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["load_average"] = load_average()
    return result


def recall(vectors: F32, queries: F32) -> dict[str, dict[str, float]]:
    """Recall of the HNSW index against exact search, per storage type."""
    from selfmem.retrieval.ann import AnnIndex

    exact = np.argsort(-(vectors @ queries.T), axis=0)[:50].T
    found: dict[str, dict[str, float]] = {}
    for dtype in ("f32", "f16", "i8"):
        progress(f"recall: building the {dtype} graph over {len(vectors)} vectors")
        ann = AnnIndex(vectors.shape[1], dtype)
        start = time.perf_counter()
        ann.build_from(vectors, np.arange(len(vectors), dtype=np.int64))  # as selfmem builds
        build_s = time.perf_counter() - start
        at10, at400, times = [], [], []
        for q, truth in zip(queries, exact, strict=True):
            rows, _ = ann.search(q, 10)
            at10.append(len(set(rows.tolist()) & set(truth[:10].tolist())) / 10)
            t = time.perf_counter()
            rows, _ = ann.search(q, 400)
            times.append((time.perf_counter() - t) * 1000)
            at400.append(len(set(rows.tolist()) & set(truth.tolist())) / 50)
        graph, _ = ann.export()
        found[dtype] = {"recall_at_10": float(np.mean(at10)), "min_recall_at_10": float(min(at10)),
                        "top50_in_400": float(np.mean(at400)),
                        "search_400_p50_ms": float(np.percentile(times, 50)),
                        "graph_mb": len(graph) / 2**20, "build_s": build_s}  # fmt: skip
    return found


_CACHE: str | None = None


def main(argv: Sequence[str] | None = None) -> int:
    global _CACHE
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_vectors",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=2, help="start measurements of each kind")
    parser.add_argument("--store-dir", default=None, help="keep (and reuse) the store here")
    parser.add_argument("--cache-dir", default=None, help="MiniLM vectors cached by VectorBank")
    parser.add_argument("--no-recall", action="store_true", help="skip the recall part")
    parser.add_argument("--no-start", action="store_true", help="skip the start / latency part")
    parser.add_argument("--saved-only", action="store_true",
                        help="only starts with the saved index (it must exist)")  # fmt: skip
    args = parser.parse_args(argv)
    _CACHE = args.cache_dir
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    workdir = Path(args.store_dir or f"/tmp/selfmem-bench-vectors-{args.size}")
    workdir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"load_average_at_start": load_average()}
    report["store"] = build_store(workdir / "store", args.size, args.cache_dir)
    if not args.no_start:
        if not args.saved_only:
            progress("first open (writes the index snapshot if there is none; no saved HNSW index)")
            report["first_open"] = measure_start(workdir / "store", workdir, saved=False)
        for name in ("without_saved_index", "with_saved_index"):
            report[name] = []
        for n in range(args.runs):  # alternated, so both kinds see the same load
            for saved in (True,) if args.saved_only else (False, True):
                name = "with_saved_index" if saved else "without_saved_index"
                progress(f"start {name}, run {n + 1}")
                # without: the file is removed, rebuilt, and saved at close (for "with")
                report[name].append(measure_start(workdir / "store", workdir, saved))
    if not args.no_recall:
        order = episode_order(args.size, 1_000)
        vectors, _ = vectors_for([embedding_text(s) for s in order], args.cache_dir)
        sample = vectors[np.random.default_rng(3).choice(len(vectors), 200, replace=False)]
        queries = np.concatenate([vectors_for([q.text for q in QUERIES], args.cache_dir)[0],
                                  sample])  # fmt: skip
        report["recall"] = recall(vectors, queries)
        real = _real_only(order, args.cache_dir)
        if real is not None:
            sample = real[np.random.default_rng(3).choice(len(real), 200, replace=False)]
            queries = np.concatenate([queries[: len(QUERIES)], sample])
            report["recall_real_minilm_only"] = {"vectors": len(real), **recall(real, queries)}
    report["load_average_at_end"] = load_average()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
