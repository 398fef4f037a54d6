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
   and MiniLM vectors: LangGraph ``InMemoryStore`` with an ``index`` and LlamaIndex
   ``VectorStoreIndex`` over its default in-memory vector store.

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
import hashlib
import inspect
import json
import math
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from selfmem import ExecutionStep, MemoryConfig, SelfLearningMemory, TaskContext
from selfmem.embeddings import Embedder, SentenceTransformerEmbedder
from selfmem.learning import compute_reward
from selfmem.models import Episode, utc_now
from selfmem.retrieval.ranking import RankingWeights

from .retrieval_dataset import QUERIES, SEEDS, EpisodeSpec, LabelledQuery, check, fillers

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

F32 = npt.NDArray[np.float32]
QUALITY_LIMIT = 10  # results fetched for the quality metrics (nDCG@10)
LATENCY_LIMIT = 5  # results fetched in the latency runs (the API default)


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


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


# -- MiniLM vectors, computed once ------------------------------------------------------------


class VectorBank:
    """An :class:`~selfmem.embeddings.Embedder` that computes each text once.

    Every vector comes from the wrapped MiniLM embedder; the bank keeps them, so the
    store, LangGraph and LlamaIndex all see the same vectors and the build is not slowed by
    one-at-a-time embedding. Texts in ``live`` are always embedded by the model (to time
    retrieval *including* the query embedding).
    """

    def __init__(self, model: Embedder) -> None:
        self._model = model
        self._vectors: dict[str, F32] = {}
        self.live: frozenset[str] = frozenset()
        self.model_texts = 0

    @property
    def model_id(self) -> str:
        return self._model.model_id

    @property
    def dim(self) -> int:
        return self._model.dim

    def __contains__(self, text: str) -> bool:
        return text in self._vectors

    def vector(self, text: str) -> F32:
        return self._vectors[text] if text in self._vectors else self.embed([text])[0]

    def embed(self, texts: Sequence[str]) -> F32:
        wanted = [t for t in dict.fromkeys(texts) if t in self.live or t not in self._vectors]
        if wanted:
            fresh = self._model.embed(wanted)
            self.model_texts += len(wanted)
            self._vectors.update(zip(wanted, fresh, strict=True))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts]).astype(np.float32, copy=False)

    def warm(self, texts: Iterable[str], chunk: int = 4_096) -> float:
        """Embed every new text in large batches; returns the seconds spent."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        start = time.perf_counter()
        for begin in range(0, len(todo), chunk):
            self.embed(todo[begin : begin + chunk])
            if len(todo) > chunk:
                progress(f"  embedded {min(begin + chunk, len(todo))}/{len(todo)} texts")
        return time.perf_counter() - start

    def _cache_path(self, cache_dir: str) -> Path:
        digest = hashlib.sha1(self.model_id.encode()).hexdigest()[:10]
        return Path(cache_dir) / f"minilm-{digest}"

    def load(self, cache_dir: str) -> int:
        base = self._cache_path(cache_dir)
        if not base.with_suffix(".npy").exists():
            return 0
        texts = json.loads(base.with_suffix(".json").read_text())
        matrix = np.load(base.with_suffix(".npy"))
        self._vectors.update(zip(texts, matrix, strict=True))
        return len(texts)

    def save(self, cache_dir: str) -> None:
        base = self._cache_path(cache_dir)
        base.parent.mkdir(parents=True, exist_ok=True)
        texts = list(self._vectors)
        np.save(base.with_suffix(".npy"), np.stack([self._vectors[t] for t in texts]))
        base.with_suffix(".json").write_text(json.dumps(texts))


def embedding_text(spec: EpisodeSpec) -> str:
    """The text selfmem embeds for an episode (its own function when it has one)."""
    try:
        from selfmem.retrieval_engine import embedding_text as selfmem_text
    except ImportError:
        return spec.description
    episode = Episode(task_description=spec.description, context=TaskContext(**spec.context))
    return selfmem_text(episode)


# -- the store --------------------------------------------------------------------------------


def episode_order(total: int, window: int, seed: int = 11) -> list[EpisodeSpec]:
    """Seeds spread at random over the first ``window`` positions, fillers around them."""
    filler_count = max(0, total - len(SEEDS))
    specs: list[EpisodeSpec] = list(fillers(filler_count))
    rng = random.Random(seed)
    slots = sorted(rng.sample(range(min(window, total)), len(SEEDS)))
    for slot, seed_spec in zip(slots, SEEDS, strict=True):
        specs.insert(slot, seed_spec)
    return specs[:total]


def supports(name: str, call: Callable[..., Any]) -> bool:
    return name in inspect.signature(call).parameters


def ann_threshold() -> int | None:
    """selfmem's default HNSW threshold (None if this selfmem has no ANN)."""
    value = getattr(MemoryConfig(), "ann_threshold", None)
    return int(value) if value is not None else None


def open_memory(
    path: Path, embedder: Embedder | None, weights: RankingWeights | None, *, exact: bool = False
) -> SelfLearningMemory:
    """Open the store with an embedder and ranking weights, on any selfmem that has them;
    ``exact=True`` turns the HNSW index off (exact vector search at any size)."""
    kwargs: dict[str, Any] = {}
    if exact and ann_threshold() is not None:
        kwargs["ann_threshold"] = 10**12
    if embedder is not None:
        if not supports("embedder", SelfLearningMemory.open):
            raise NotImplementedError("this selfmem has no embedder= (no semantic retrieval)")
        kwargs["embedder"] = embedder
    if weights is not None and supports("ranking", SelfLearningMemory.open):
        kwargs["ranking"] = weights
    memory = SelfLearningMemory.open(path, flush_interval_s=None, **kwargs)
    if weights is not None and "ranking" not in kwargs:
        memory._ranking = weights  # older open() without ranking=: what __init__ would do
    return memory


@dataclass(slots=True)
class Store:
    """The benchmark store: its directory, episode order and id -> seed key map."""

    path: Path
    order: list[EpisodeSpec]
    keys: dict[str, str] = field(default_factory=dict)  # episode id -> spec key
    size: int = 0
    builds: list[dict[str, float]] = field(default_factory=list)

    def grow(self, target: int, bank: VectorBank | None, public_api_max: int) -> dict[str, Any]:
        """Store episodes until ``target`` are in: through the public API up to
        ``public_api_max`` episodes, through the store protocol after that."""
        public = self.order[self.size : max(self.size, min(target, public_api_max))]
        direct = self.order[self.size + len(public) : target]
        build: dict[str, Any] = {"size": target, "public_api": len(public), "direct": len(direct)}
        with open_memory(self.path, bank, None) as memory:
            if public:
                progress(f"storing {len(public)} episodes through the public API")
                build["public_api_s"], build["drain_s"] = self._add_public(memory, public)
                build["public_api_per_s"] = len(public) / build["public_api_s"]
            if direct:
                progress(f"storing {len(direct)} episodes through the store protocol")
                build["direct_s"] = self._add_direct(memory, direct)
                build["direct_per_s"] = len(direct) / build["direct_s"]
            if bank is not None:
                build["reembed_s"], build["reembedded"] = _reembed(memory)
        self.size = target
        self.builds.append(build)
        return build

    def _add_public(
        self, memory: SelfLearningMemory, specs: Sequence[EpisodeSpec]
    ) -> tuple[float, float]:
        """``start_episode`` / ``log_step`` / ``complete_episode``; returns the seconds of
        the whole and of the final ``flush()`` (learner and embedding worker drained)."""
        start = time.perf_counter()
        for count, spec in enumerate(specs, 1):
            eid = memory.start_episode(spec.description, dict(spec.context), spec.task_type)
            for step in spec.steps:
                memory.log_step(eid, **step.as_fields())
            memory.complete_episode(eid, spec.task_outcome())
            self.keys[eid] = spec.key
            if count % 5_000 == 0:
                progress(f"  {count}/{len(specs)} in {time.perf_counter() - start:.0f} s")
        stored = time.perf_counter()
        memory.flush()
        end = time.perf_counter()
        return end - start, end - stored

    def _add_direct(self, memory: SelfLearningMemory, specs: Sequence[EpisodeSpec]) -> float:
        """``store.create_episode`` + ``finish_episode`` with a computed reward (no
        reflection, no learning); returns the seconds taken."""
        store = memory._core.store
        start = time.perf_counter()
        for count, spec in enumerate(specs, 1):
            header = Episode(
                namespace=memory.namespace,
                task_description=spec.description,
                context=TaskContext(**spec.context),
                task_type=spec.task_type,
            )
            store.create_episode(header)
            steps = [
                ExecutionStep(step_number=number, **step.as_fields())
                for number, step in enumerate(spec.steps, 1)
            ]
            done = header.model_copy(
                update={"steps": steps, "end_time": utc_now(), "outcome": spec.task_outcome()}
            )
            done.reward = compute_reward(done)
            store.finish_episode(done, steps)
            self.keys[header.id] = spec.key
            if count % 20_000 == 0:
                progress(f"  {count}/{len(specs)} in {time.perf_counter() - start:.0f} s")
        return time.perf_counter() - start


def _reembed(memory: SelfLearningMemory) -> tuple[float, int]:
    """``reembed()``: vectors for every stored episode that has none (selfmem embeds
    lazily, in the background, once a process first queries); returns (seconds, count)."""
    start = time.perf_counter()
    memory.flush()
    reembed = getattr(memory, "reembed", None)
    count = reembed() if callable(reembed) else 0
    return time.perf_counter() - start, int(count)


# -- metrics ----------------------------------------------------------------------------------


def recall_at(ranked: Sequence[str | None], relevant: Mapping[str, int], k: int) -> float:
    wanted = {key for key, grade in relevant.items() if grade >= 1}
    return len(wanted & {key for key in ranked[:k] if key}) / len(wanted)


def reciprocal_rank(ranked: Sequence[str | None], relevant: Mapping[str, int]) -> float:
    """1 / rank of the first exact (grade 2) result, 0 if none is returned."""
    for rank, key in enumerate(ranked, 1):
        if key is not None and relevant.get(key, 0) == 2:
            return 1.0 / rank
    return 0.0


def ndcg_at(ranked: Sequence[str | None], relevant: Mapping[str, int], k: int) -> float:
    def dcg(grades: Sequence[int]) -> float:
        return sum(float(2**g - 1) / math.log2(i + 2) for i, g in enumerate(grades[:k]))

    gains = [relevant.get(key, 0) if key else 0 for key in ranked]
    ideal = dcg(sorted(relevant.values(), reverse=True))
    return dcg(gains) / ideal if ideal else 0.0


def exact_ranks(
    queries: Sequence[LabelledQuery], rankings: Sequence[Sequence[str | None]]
) -> list[int | None]:
    """Per query, the rank of the first exact (grade 2) result (None: not in the top 10)."""
    found: list[int | None] = []
    for query, ranked in zip(queries, rankings, strict=True):
        rr = reciprocal_rank(ranked[:QUALITY_LIMIT], query.relevant)
        found.append(round(1 / rr) if rr else None)
    return found


def score_queries(
    queries: Sequence[LabelledQuery], rankings: Sequence[Sequence[str | None]]
) -> dict[str, Any]:
    """Mean recall@5 / MRR / nDCG@10 overall and per query kind."""
    rows: dict[str, list[tuple[float, float, float]]] = {"all": []}
    for query, ranked in zip(queries, rankings, strict=True):
        metrics = (
            recall_at(ranked, query.relevant, 5),
            reciprocal_rank(ranked[:QUALITY_LIMIT], query.relevant),
            ndcg_at(ranked, query.relevant, 10),
        )
        rows["all"].append(metrics)
        rows.setdefault(query.kind, []).append(metrics)
    found: dict[str, Any] = {}
    for kind, values in rows.items():
        matrix = np.asarray(values)
        found[kind] = {
            "queries": len(values),
            "recall@5": float(matrix[:, 0].mean()),
            "mrr": float(matrix[:, 1].mean()),
            "ndcg@10": float(matrix[:, 2].mean()),
        }
    return found


def percentiles(samples_s: Sequence[float]) -> dict[str, float]:
    values = np.asarray(samples_s, dtype=np.float64) * 1e3
    p50, p95 = (float(v) for v in np.percentile(values, [50, 95]))
    return {"p50_ms": p50, "p95_ms": p95, "mean_ms": float(values.mean()), "n": len(values)}


# -- selfmem: variants, quality, latency ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Variant:
    """A ranking configuration: signal weights (None = selfmem's defaults) and embedder."""

    name: str
    weights: Mapping[str, float] | None
    embedder: bool
    exact: bool = False  # HNSW off: run only at sizes where selfmem would use it


LEXICAL = Variant("lexical-only", {"lexical": 1.0}, embedder=False)
SEMANTIC = Variant("embedding-only", {"semantic": 1.0}, embedder=True)
HYBRID = Variant("hybrid (MiniLM)", None, embedder=True)
PLAIN = Variant("default, no embedder", None, embedder=False)
HYBRID_EXACT = Variant("hybrid (MiniLM), exact search", None, embedder=True, exact=True)
VARIANTS = (
    LEXICAL,
    SEMANTIC,
    Variant("lexical + semantic only", {"lexical": 0.5, "semantic": 0.5}, embedder=True),
    HYBRID,
    PLAIN,
    Variant("embedding-only, exact search", {"semantic": 1.0}, embedder=True, exact=True),
    HYBRID_EXACT,
)
_SIGNALS = ("lexical", "semantic", "context", "outcome", "recency")


def make_weights(wanted: Mapping[str, float] | None) -> RankingWeights | None:
    """The weights with only the wanted signals on; raises if a signal does not exist."""
    if wanted is None:
        return None
    names = {f.name for f in dataclasses.fields(RankingWeights)}
    missing = [name for name, weight in wanted.items() if weight > 0 and name not in names]
    if missing:
        raise NotImplementedError(f"this selfmem's RankingWeights has no {missing}")
    values: dict[str, Any] = {name: 0.0 for name in _SIGNALS if name in names} | dict(wanted)
    return dataclasses.replace(RankingWeights(), **values)


def retrieve(
    memory: SelfLearningMemory, query: LabelledQuery, limit: int, vector: F32 | None
) -> list[str]:
    """Ids of the episodes ``retrieve_relevant_context`` returns, best first."""
    kwargs: dict[str, Any] = {}
    if vector is not None and supports("query_vector", memory.retrieve_relevant_context):
        kwargs["query_vector"] = vector
    context = dict(query.context) if query.context is not None else None
    result = memory.retrieve_relevant_context(query.text, context, limit, **kwargs)
    return [scored.episode.id for scored in result.episodes]


def _engine(memory: SelfLearningMemory) -> Any:
    """selfmem's retrieval engine of a handle (internals: there is no public hook)."""
    return getattr(memory._core, "retrieval", None)


def prepare_index(memory: SelfLearningMemory, timeout_s: float = 1_800.0) -> dict[str, Any]:
    """Load the handle's index, let the embedding worker finish any episode without a
    vector, and wait for a background HNSW build if selfmem starts one (above
    ``ann_threshold`` vectors with usearch installed; until then search is exact)."""
    engine = _engine(memory)
    if engine is None:
        return {}
    start = time.perf_counter()
    index = engine.index(memory.namespace)
    found: dict[str, Any] = {"load_s": time.perf_counter() - start, "missing_vectors": 0}
    if getattr(engine, "embedder", None) is not None and hasattr(index, "missing_vectors"):
        found["missing_vectors"] = len(index.missing_vectors())
        engine.drain()
    ann = getattr(index, "ann", None)
    start = time.perf_counter()
    while ann is not None and not ann.ready and time.perf_counter() - start < timeout_s:
        time.sleep(0.05)
    found["ann"] = bool(ann is not None and ann.ready)
    found["ann_wait_s"] = time.perf_counter() - start
    return found


def _forget_query_vectors(memory: SelfLearningMemory) -> None:
    """Empty the engine's query-vector cache, so the next calls embed their query."""
    cache = getattr(_engine(memory), "_queries", None)
    if cache is not None:
        cache.clear()


def quality(store: Store, variant: Variant, bank: VectorBank) -> dict[str, Any]:
    weights = make_weights(variant.weights)
    embedder = bank if variant.embedder else None
    with open_memory(store.path, embedder, weights, exact=variant.exact) as memory:
        index = prepare_index(memory)
        rankings = []
        for query in QUERIES:
            vector = bank.vector(query.text) if variant.embedder else None
            ids = retrieve(memory, query, QUALITY_LIMIT, vector)
            rankings.append([store.keys.get(eid) for eid in ids])
    return {
        **score_queries(QUERIES, rankings),
        "index": index,
        "exact_ranks": exact_ranks(QUERIES, rankings),
    }


REFERENCE = "reference: exact cosine, numpy"


def reference_quality(store: Store, bank: VectorBank) -> dict[str, Any]:
    """Plain exact cosine top-10 over the same vectors, outside selfmem (no context)."""
    specs = store.order[: store.size]
    matrix = np.stack([bank.vector(embedding_text(spec)) for spec in specs])
    rankings: list[list[str | None]] = []
    for query in QUERIES:
        scores = matrix @ bank.vector(query.text)
        top = np.argsort(-scores, kind="stable")[:QUALITY_LIMIT]
        rankings.append([specs[i].key for i in top])
    return {**score_queries(QUERIES, rankings), "exact_ranks": exact_ranks(QUERIES, rankings)}


def _timed_pass(
    memory: SelfLearningMemory, bank: VectorBank | None, with_vectors: bool
) -> list[float]:
    samples = []
    for query in QUERIES:
        vector = bank.vector(query.text) if bank is not None and with_vectors else None
        start = time.perf_counter()
        retrieve(memory, query, LATENCY_LIMIT, vector)
        samples.append(time.perf_counter() - start)
    return samples


def latency(store: Store, variant: Variant, bank: VectorBank, repeats: int) -> dict[str, Any]:
    """p50/p95 per query, excluding the query embedding (and including it, with MiniLM)."""
    weights = make_weights(variant.weights)
    embedder = bank if variant.embedder else None
    found: dict[str, Any] = {}
    with open_memory(store.path, embedder, weights, exact=variant.exact) as memory:
        first = bank.vector(QUERIES[0].text) if embedder is not None else None
        start = time.perf_counter()
        retrieve(memory, QUERIES[0], LATENCY_LIMIT, first)
        found["first_query_ms"] = (time.perf_counter() - start) * 1e3
        found["index"] = prepare_index(memory)
        _timed_pass(memory, embedder, True)  # warm-up
        samples: list[float] = []
        for _ in range(repeats):
            samples += _timed_pass(memory, embedder, True)
        found["excluding_embedding"] = percentiles(samples)
        if variant.embedder:
            # Every query embedded by the model inside the call (query cache emptied).
            bank.live = frozenset(q.text for q in QUERIES)
            try:
                live: list[float] = []
                for _ in range(repeats):
                    _forget_query_vectors(memory)
                    live += _timed_pass(memory, bank, False)
            finally:
                bank.live = frozenset()
            found["including_embedding"] = percentiles(live)
    return found


def embed_latency(bank: VectorBank) -> dict[str, float]:
    """MiniLM time to embed one query, alone (second pass: the first warms torch up)."""
    samples: list[float] = []
    bank.live = frozenset(q.text for q in QUERIES)
    try:
        for _ in range(2):
            samples = []
            for query in QUERIES:
                start = time.perf_counter()
                bank.embed([query.text])
                samples.append(time.perf_counter() - start)
    finally:
        bank.live = frozenset()
    return percentiles(samples)


# -- RSS in a fresh process without torch -----------------------------------------------------

_RSS_CHILD = r"""
import json, sys
import numpy as np

def rss():
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            fields[name] = value.split()
    return int(fields["VmRSS"][0]) / 1024, int(fields["VmHWM"][0]) / 1024

path, queries_file, vectors_file, mode, model_id = sys.argv[1:6]
queries = json.loads(open(queries_file).read())
vectors = np.load(vectors_file)
by_text = {q["text"]: vectors[i] for i, q in enumerate(queries)}

class StoredVectors:
    # The model's id and size, and the queries' precomputed vectors: no model is loaded.
    model_id = model_id
    dim = int(vectors.shape[1])
    misses = 0
    def embed(self, texts):
        rows = []
        for text in texts:
            if text not in by_text:
                StoredVectors.misses += 1
            rows.append(by_text.get(text, np.zeros(self.dim, np.float32)))
        return np.stack(rows).astype(np.float32)

import selfmem
base, _ = rss()
kwargs = {"flush_interval_s": None}
if mode == "vectors":
    kwargs["embedder"] = StoredVectors()
memory = selfmem.SelfLearningMemory.open(path, **kwargs)
opened, _ = rss()
import inspect, time
engine = getattr(memory._core, "retrieval", None)
index = engine.index(memory.namespace) if engine is not None else None
ann = getattr(index, "ann", None)
while ann is not None and not ann.ready:
    time.sleep(0.05)
loaded, _ = rss()
takes_vector = "query_vector" in inspect.signature(memory.retrieve_relevant_context).parameters
returned = 0
for i, q in enumerate(queries):
    extra = {"query_vector": vectors[i]} if mode == "vectors" and takes_vector else {}
    returned += len(memory.retrieve_relevant_context(q["text"], q["context"], 5, **extra).episodes)
after, peak = rss()
memory.close()
print(json.dumps({"import_mb": base, "open_mb": opened, "index_loaded_mb": loaded,
                  "ann": ann is not None, "after_queries_mb": after,
                  "peak_mb": peak, "returned": returned, "misses": StoredVectors.misses,
                  "torch_loaded": "torch" in sys.modules,
                  "sentence_transformers_loaded": "sentence_transformers" in sys.modules}))
"""


def rss(store: Store, bank: VectorBank, workdir: Path) -> dict[str, Any]:
    if not Path("/proc/self/status").exists():
        return {}
    queries_file, vectors_file = workdir / "queries.json", workdir / "query_vectors.npy"
    payload = [{"text": q.text, "context": q.context} for q in QUERIES]
    queries_file.write_text(json.dumps(payload))
    np.save(vectors_file, np.stack([bank.vector(q.text) for q in QUERIES]))
    found: dict[str, Any] = {}
    for mode in ("lexical", "vectors"):
        args = [str(store.path), str(queries_file), str(vectors_file), mode, bank.model_id]
        done = subprocess.run(
            [sys.executable, "-c", _RSS_CHILD, *args], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            found[mode] = {"error": done.stderr.strip().splitlines()[-1:]}
            continue
        found[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


# -- LangGraph and LlamaIndex on the same vectors ---------------------------------------------


def _time_queries(
    search: Callable[[str], list[str]], passes: int
) -> tuple[list[float], list[list[str]]]:
    samples: list[float] = []
    rankings: list[list[str]] = []
    for index in range(passes):
        for query in QUERIES:
            start = time.perf_counter()
            keys = search(query.text)
            samples.append(time.perf_counter() - start)
            if index == 0:
                rankings.append(keys)
    return samples, rankings


def _measure(
    name: str, search: Callable[[str], list[str]], bank: VectorBank, repeats: int
) -> dict[str, Any]:
    search(QUERIES[0].text)  # warm-up
    _time_queries(search, 1)
    samples, rankings = _time_queries(search, repeats)
    bank.live = frozenset(q.text for q in QUERIES)
    try:
        live, _ = _time_queries(search, 1)
    finally:
        bank.live = frozenset()
    progress(f"  {name}: done")
    return {
        "quality": score_queries(QUERIES, rankings),
        "excluding_embedding": percentiles(samples),
        "including_embedding": percentiles(live),
    }


def langgraph_run(docs: list[tuple[str, str]], bank: VectorBank, repeats: int) -> dict[str, Any]:
    from langgraph.store.base import IndexConfig
    from langgraph.store.memory import InMemoryStore

    def embed(texts: Sequence[str]) -> list[list[float]]:
        return bank.embed(texts).tolist()  # type: ignore[no-any-return]

    store = InMemoryStore(index=IndexConfig(embed=embed, dims=bank.dim, fields=["text"]))
    namespace = ("episodes",)
    start = time.perf_counter()
    for key, text in docs:
        store.put(namespace, key, {"text": text})
    build = time.perf_counter() - start

    def search(text: str) -> list[str]:
        return [item.key for item in store.search(namespace, query=text, limit=QUALITY_LIMIT)]

    return {"build_s": build, **_measure("LangGraph InMemoryStore", search, bank, repeats)}


def llamaindex_run(docs: list[tuple[str, str]], bank: VectorBank, repeats: int) -> dict[str, Any]:
    from llama_index.core import VectorStoreIndex
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.core.schema import TextNode

    class BankEmbedding(BaseEmbedding):
        """LlamaIndex's embedding interface over the same MiniLM vectors."""

        def _get_query_embedding(self, query: str) -> list[float]:
            return bank.embed([query])[0].tolist()  # type: ignore[no-any-return]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return bank.embed([text])[0].tolist()  # type: ignore[no-any-return]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return bank.embed(texts).tolist()  # type: ignore[no-any-return]

    start = time.perf_counter()
    nodes = [
        TextNode(id_=key, text=text, embedding=bank.vector(text).tolist()) for key, text in docs
    ]
    index = VectorStoreIndex(nodes, embed_model=BankEmbedding(model_name=bank.model_id))
    build = time.perf_counter() - start
    retriever = index.as_retriever(similarity_top_k=QUALITY_LIMIT)

    def search(text: str) -> list[str]:
        return [hit.node.node_id for hit in retriever.retrieve(text)]

    return {"build_s": build, **_measure("LlamaIndex VectorStoreIndex", search, bank, repeats)}


def compare(store: Store, bank: VectorBank, repeats: int) -> dict[str, Any]:
    """LangGraph and LlamaIndex over the store's episodes (the text selfmem embeds)."""
    docs = [(spec.key, embedding_text(spec)) for spec in store.order[: store.size]]
    found: dict[str, Any] = {"items": len(docs)}
    for name, run in (("langgraph", langgraph_run), ("llamaindex", llamaindex_run)):
        progress(f"{name}: {len(docs)} items")
        try:
            found[name] = run(docs, bank, repeats)
        except ImportError as exc:
            found[name] = {"error": f"not installed: {exc}"}
    return found


# -- the run ----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    memory_gb = 0.0
    if Path("/proc/cpuinfo").exists():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gb = int(line.split()[1]) / 2**20
    names = ("selfmem", "numpy", "torch", "sentence-transformers", "langgraph",
             "llama-index-core", "libsql", "usearch")  # fmt: skip
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {"cpu": cpu, "cpus": os.cpu_count(), "memory_gb": round(memory_gb, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "load_average": _load(), "versions": versions, "git": _git(),
            "thread_env": {name: os.environ.get(name) for name in _THREAD_VARIABLES}}  # fmt: skip


def _git() -> str:
    """The commit of the checkout, and whether src/ has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" + uncommitted src/ changes" if git("status", "--porcelain", "src") else "")


_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else []


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
    report: dict[str, Any] = {"machine": machine(), "plan": dataclasses.asdict(plan),
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
    report["load_average_at_end"] = _load()
    return report


# -- reporting --------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table with aligned columns."""
    body = [list(headers), *[list(row) for row in rows]]
    widths = [max(len(row[i]) for row in body) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
             for row in body]  # fmt: skip
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _f(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) else "n/a"


def _get(data: Mapping[str, Any], *path: str) -> Any:
    current: Any = data
    for key in path:
        if not isinstance(current, Mapping) or key not in current:
            return None
        current = current[key]
    return current


def quality_table(entry: Mapping[str, Any]) -> str:
    rows = []
    for name, result in entry["quality"].items():
        if "error" in result:
            rows.append([name, "n/a", "n/a", "n/a", "n/a", "n/a", "n/a"])
            continue
        rows.append([name, _f(result["all"]["recall@5"]), _f(result["all"]["mrr"]),
                     _f(result["all"]["ndcg@10"]),
                     *(f"{_f(_get(result, kind, 'recall@5'))} / {_f(_get(result, kind, 'mrr'))}"
                       for kind in ("lexical", "paraphrase", "context"))])  # fmt: skip
    counts = {kind: _get(next(iter(entry["quality"].values())), kind, "queries")
              for kind in ("lexical", "paraphrase", "context")}  # fmt: skip
    headers = ["ranking", "recall@5", "MRR", "nDCG@10",
               *(f"{kind} ({counts[kind]}): R@5 / MRR" for kind in counts)]  # fmt: skip
    return table(headers, rows)


def size_table(report: Mapping[str, Any]) -> str:
    rows = []
    names = dict.fromkeys(name for entry in report["sizes"] for name in entry["quality"])
    for name in names:
        cells = [name]
        for entry in report["sizes"]:
            q = entry["quality"].get(name, {})
            cells.append(f"{_f(_get(q, 'all', 'recall@5'))} / {_f(_get(q, 'all', 'ndcg@10'))}")
        rows.append(cells)
    headers = ["ranking", *(f"{e['size']:,} stored: recall@5 / nDCG@10" for e in report["sizes"])]
    return table(headers, rows)


def _build_cell(build: Mapping[str, Any]) -> str:
    cells = []
    if build.get("public_api"):
        cells.append(f"{build['public_api']:,} in {build['public_api_s']:.0f} s")
    if build.get("direct"):
        cells.append(f"{build['direct']:,} in {build['direct_s']:.0f} s")
    return " / ".join(cells) or "-"


def _pair(data: Any, *path: str) -> str:
    p50, p95 = _get(data, *path, "p50_ms"), _get(data, *path, "p95_ms")
    return f"{_f(p50, 1)} / {_f(p95, 1)}" if p50 is not None else "n/a"


def latency_table(report: Mapping[str, Any]) -> str:
    rows = []
    for entry in report["sizes"]:
        lat = entry["latency"]
        peak = _get(entry, "rss", "vectors", "peak_mb")
        rows.append([
            f"{entry['size']:,}",
            _build_cell(entry["build"]),
            _pair(lat, PLAIN.name, "excluding_embedding"),
            _pair(lat, HYBRID.name, "excluding_embedding"),
            _pair(lat, HYBRID_EXACT.name, "excluding_embedding"),
            _pair(lat, HYBRID.name, "including_embedding"),
            _f(_get(lat, HYBRID.name, "first_query_ms"), 0),
            _f(_get(lat, HYBRID.name, "index", "ann_wait_s"), 1)
            if _get(lat, HYBRID.name, "index", "ann") else "no HNSW",
            _f(_get(entry, "rss", "lexical", "after_queries_mb"), 0),
            f"{_f(_get(entry, 'rss', 'vectors', 'after_queries_mb'), 0)} ({_f(peak, 0)})",
        ])  # fmt: skip
    headers = ["stored", "added: API / direct", "no embedder", "hybrid", "hybrid, exact search",
               "hybrid incl. query embedding", "first query ms", "HNSW build s",
               "RSS lexical MB", "RSS vectors MB (peak)"]  # fmt: skip
    return "p50 / p95 ms per call; without query embedding unless stated\n\n" + table(headers, rows)


def compare_table(report: Mapping[str, Any]) -> str:
    entry = next((e for e in report["sizes"] if "compare" in e), None)
    if entry is None:
        return ""
    hybrid = HYBRID.name
    own = _get(entry, "latency", hybrid, "excluding_embedding", "p50_ms")
    own_live = _get(entry, "latency", hybrid, "including_embedding", "p50_ms")
    rows = []
    for name in (hybrid, SEMANTIC.name):
        q = entry["quality"].get(name, {})
        lat = entry["latency"].get(name, {}) if name == hybrid else {}
        rows.append([f"selfmem {name}", _f(_get(q, "all", "recall@5")),
                     _f(_get(q, "paraphrase", "recall@5")), _f(_get(q, "context", "recall@5")),
                     "n/a", _f(_get(lat, "excluding_embedding", "p50_ms"), 2),
                     _f(_get(lat, "excluding_embedding", "p95_ms"), 2),
                     _f(_get(lat, "including_embedding", "p50_ms"), 2),
                     "1.0" if name == hybrid else "", ""])  # fmt: skip
    for key, label in (("langgraph", "LangGraph InMemoryStore"),
                       ("llamaindex", "LlamaIndex VectorStoreIndex")):  # fmt: skip
        result = entry["compare"].get(key, {})
        p50 = _get(result, "excluding_embedding", "p50_ms")
        p50_live = _get(result, "including_embedding", "p50_ms")
        rows.append([label, _f(_get(result, "quality", "all", "recall@5")),
                     _f(_get(result, "quality", "paraphrase", "recall@5")),
                     _f(_get(result, "quality", "context", "recall@5")),
                     _f(result.get("build_s"), 1), _f(p50, 2),
                     _f(_get(result, "excluding_embedding", "p95_ms"), 2), _f(p50_live, 2),
                     f"{p50 / own:.1f}" if p50 and own else "n/a",
                     f"{p50_live / own_live:.1f}" if p50_live and own_live else "n/a"])  # fmt: skip
    headers = ["system", "recall@5", "paraphrase", "context", "build s", "p50 ms (excl.)",
               "p95 ms (excl.)", "p50 ms (incl.)", "p50 / selfmem (excl.)",
               "p50 / selfmem (incl.)"]  # fmt: skip
    return f"At {entry['compare']['items']:,} items:\n\n" + table(headers, rows)


def render(report: Mapping[str, Any], elapsed: float) -> str:
    info = report["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    first = report["sizes"][0]
    embed = report["embed_query"]
    load = (
        f"load average {info['load_average']} at the start, {report['load_average_at_end']} at end"
    )
    parts = [
        f"Machine: {info['cpu']}, {info['cpus']} CPUs, {info['memory_gb']} GB, "
        f"Python {info['python']}; {versions}; {load}; selfmem checkout {info['git']}",
        f"\n## Quality at {first['size']:,} stored episodes ({len(SEEDS)} seeds + fillers, "
        f"{len(QUERIES)} queries)\n",
        quality_table(first),
        "\n## Quality by store size\n",
        size_table(report),
        f"\n## Latency (limit {LATENCY_LIMIT}) and RSS\n",
        latency_table(report),
        f"\nMiniLM query embedding alone: p50 {embed['p50_ms']:.1f} ms, "
        f"p95 {embed['p95_ms']:.1f} ms",
        "\n## Side by side (same episodes, queries and MiniLM vectors)\n",
        compare_table(report),
        f"\n{'quick' if report.get('quick') else 'full'} run, {elapsed:.0f} s",
    ]
    return "\n".join(parts)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_retrieval",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="1k episodes only, a smoke run")
    parser.add_argument("--sizes", help="stored-episode counts, e.g. 1000,10000,100000")
    parser.add_argument("--compare-size", type=int, help="size for LangGraph / LlamaIndex "
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
    print(json.dumps(report, indent=2) if args.json else render(report, elapsed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
