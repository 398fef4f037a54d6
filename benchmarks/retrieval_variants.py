"""selfmem's ranking variants, and the quality and latency of each on the benchmark store."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from selfmem import SelfLearningMemory
from selfmem.retrieval.ranking import RankingWeights

from .retrieval_dataset import QUERIES, LabelledQuery
from .retrieval_metrics import QUALITY_LIMIT, exact_ranks, percentiles, score_queries
from .retrieval_store import Store, open_memory, supports
from .retrieval_vectors import F32, VectorBank, embedding_text

LATENCY_LIMIT = 5  # results fetched in the latency runs (the API default)


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
