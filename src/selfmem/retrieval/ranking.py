"""Hybrid ranking: signals, their weighted fusion, and MMR diversification.

Every signal lies in [0, 1]:

- **lexical**: BM25 over task and step terms, divided by the best score of the query;
- **semantic**: cosine similarity of the query and episode embeddings (clipped at 0);
- **context**: :meth:`EpisodeIndex.context_scores` (domain, language, framework, task type,
  tags; only the fields the query states);
- **outcome**: the episode's reward, capped at 1 (failures score 0);
- **recency**: ``0.5 ** (age_days / recency_half_life_days)``.

``score = sum(w_i * s_i) / sum(w_i)`` over the signals that are available for the query
(semantic needs an embedder; context needs a stated context). The best ``candidates`` are
then re-ranked with maximal marginal relevance: each pick maximizes
``mmr_lambda * score - (1 - mmr_lambda) * max_similarity_to_picked`` (cosine of embeddings,
or Jaccard of terms without them); a near-duplicate of a pick (cosine >= 0.92, Jaccard >=
0.7) is taken only when nothing else is left, so near-duplicates do not crowd out the rest.
Finally, if no failure was picked but a failed episode is nearly as relevant (``avoid_ratio`` of the
best relevance, which leaves out outcome and recency), it replaces the last pick: it is
what to avoid. Episodes whose relevance is not above ``min_relevance`` (no shared term, no
semantic similarity, no context match) are never returned.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..records.episodes import TaskContext, TaskType
from .index import EpisodeIndex, QueryFilters
from .weights import RankingWeights

__all__ = ["Ranked", "RankingWeights", "rank"]

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Ranked:
    """One picked row with its fused score and the value of each signal."""

    row: int
    score: float
    signals: dict[str, float]


def _dot(matrix: F32, vector: F32) -> F32:
    """Matrix-vector product without BLAS: OpenBLAS threads keep spinning after a call and
    starve the embedding model's threads on small machines (query embedding went from
    ~7 ms to ~40 ms at 10,000 episodes on 2 cores); einsum runs in this thread only."""
    result: F32 = np.einsum("ij,j->i", matrix, vector).astype(np.float32, copy=False)
    return result


def _top(values: F32, mask: npt.NDArray[np.bool_], k: int) -> npt.NDArray[np.int64]:
    """Rows of the ``k`` largest positive values among the masked rows."""
    eligible = np.flatnonzero(mask & (values > 0))
    if len(eligible) > k:
        eligible = eligible[np.argpartition(-values[eligible], k - 1)[:k]]
    return eligible.astype(np.int64)


def _semantic_pool(
    index: EpisodeIndex, query: F32, mask: npt.NDArray[np.bool_], k: int
) -> npt.NDArray[np.int64]:
    """Rows most similar to the query: HNSW when ready, else an exact matrix product."""
    n = index.size
    ann = index.ann
    if ann is not None and ann.ready:
        rows, _ = ann.search(query, min(n, 4 * k))
        rows = rows[(rows >= 0) & (rows < n)]
        return rows[mask[rows]][:k]
    assert index.vectors is not None
    sims = _dot(index.vectors[:n], query)
    return _top(np.where(index.has_vector[:n], sims, 0.0).astype(np.float32), mask, k)


def _pool_signals(
    index: EpisodeIndex,
    pool: npt.NDArray[np.int64],
    lexical: F32,
    best_lexical: float,
    query_vector: F32 | None,
    context: F32 | None,
    weights: RankingWeights,
) -> dict[str, tuple[float, F32]]:
    found: dict[str, tuple[float, F32]] = {}
    semantic_on = query_vector is not None and index.vectors is not None and weights.semantic > 0
    found["lexical"] = (
        weights.lexical,
        lexical[pool] / best_lexical if best_lexical else lexical[pool],
    )
    if semantic_on and query_vector is not None and index.vectors is not None:
        sims = _dot(index.vectors[pool], query_vector)
        sims = np.where(index.has_vector[pool], np.clip(sims, 0.0, 1.0), 0.0)
        found["semantic"] = (weights.semantic, sims.astype(np.float32))
    if context is not None:
        found["context"] = (weights.context, context[pool])
    found["outcome"] = (weights.outcome, np.clip(index.reward[pool], 0.0, 1.0).astype(np.float32))
    age_days = (time.time() - index.end_time[pool]) / 86_400.0
    half_life = max(weights.recency_half_life_days, 1e-9)
    recency = np.power(0.5, np.maximum(age_days, 0) / half_life).astype(np.float32)
    found["recency"] = (weights.recency, recency)
    return {name: value for name, value in found.items() if value[0] > 0}


def _similarities(
    index: EpisodeIndex, rows: list[int], weights: RankingWeights
) -> tuple[F32, npt.NDArray[np.bool_]]:
    """Pairwise similarity of the candidate rows, and which pairs are near-duplicates.

    Cosine of embeddings where both rows have one, Jaccard of their terms otherwise; a
    near-duplicate is similar text *and* the same domain and language (the same task in
    two stacks is not a duplicate)."""
    at = np.asarray(rows, dtype=np.int64)
    ids = index.terms_of(rows)
    flat = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int32)
    vocabulary, columns = np.unique(flat, return_inverse=True)
    terms = np.zeros((len(rows), max(1, len(vocabulary))), dtype=np.float32)
    terms[np.repeat(np.arange(len(rows)), [len(i) for i in ids]), columns] = 1.0
    shared = np.einsum("ik,jk->ij", terms, terms)
    sizes = terms.sum(axis=1)
    union = sizes[:, None] + sizes[None, :] - shared
    sim = np.where(union > 0, shared / np.maximum(union, 1.0), 0.0).astype(np.float32)
    duplicate = sim >= weights.near_duplicate_jaccard
    if index.vectors is not None:
        embedded = index.has_vector[at]
        both = embedded[:, None] & embedded[None, :]
        vectors = index.vectors[at]
        cosine = np.einsum("ik,jk->ij", vectors, vectors).astype(np.float32)
        sim = np.where(both, cosine, sim)
        duplicate = np.where(both, cosine >= weights.near_duplicate_cosine, duplicate)
    same_context = (index.domain[at][:, None] == index.domain[at][None, :]) & (
        index.language[at][:, None] == index.language[at][None, :]
    )
    return sim, duplicate & same_context


def _mmr(
    index: EpisodeIndex,
    rows: list[int],
    scores: dict[int, float],
    limit: int,
    weights: RankingWeights,
) -> list[int]:
    """Greedy MMR; a near-duplicate of a pick comes last unless nothing else is left."""
    if not rows:
        return []
    lam = weights.mmr_lambda
    sim, duplicate = _similarities(index, rows, weights)
    relevance = np.asarray([scores[row] for row in rows], dtype=np.float64)
    relevance = lam * relevance / (relevance[0] or 1.0)
    redundancy = np.zeros(len(rows))
    penalty = np.zeros(len(rows))
    available = np.ones(len(rows), dtype=bool)
    picked: list[int] = []
    while len(picked) < min(limit, len(rows)):
        value = relevance - (1.0 - lam) * redundancy - penalty
        best = int(np.flatnonzero(available)[np.argmax(value[available])])
        picked.append(rows[best])
        available[best] = False
        redundancy = np.maximum(redundancy, sim[best])
        penalty = np.maximum(penalty, 2.0 * duplicate[best])
    return picked


def rank(
    index: EpisodeIndex,
    text: str,
    *,
    query_vector: F32 | None,
    context: TaskContext | None,
    task_type: TaskType | None,
    filters: QueryFilters,
    weights: RankingWeights,
    limit: int,
) -> list[Ranked]:
    """The ``limit`` best rows for a query, fused, diversified and explained.

    Cheap signals (BM25, context) are computed for every row; candidates are the best rows
    by lexical, semantic and context relevance, and only they are fused and diversified.
    """
    with index.lock:
        n = index.size
        if n == 0:
            return []
        mask = index.filter_mask(filters)
        lexical = index.bm25(text)
        best_lexical = float(lexical[mask].max()) if mask.any() else 0.0
        ctx = None
        if context is not None or task_type is not None:
            ctx = index.context_scores(
                context.domain if context else None,
                context.language if context else None,
                context.framework if context else None,
                task_type.value if task_type else None,
                context.tags if context else (),
            )
        k = weights.candidates * 4
        parts = [_top(lexical, mask, k)]
        if query_vector is not None and index.vectors is not None and weights.semantic > 0:
            query_vector = query_vector.astype(np.float32)
            parts.append(_semantic_pool(index, query_vector, mask, k))
        if ctx is not None:
            parts.append(_top(ctx, mask, k))
        pool = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
        if len(pool) == 0:
            return []
        signals = _pool_signals(index, pool, lexical, best_lexical, query_vector, ctx, weights)
        total_weight = sum(w for w, _ in signals.values())
        fused = sum((w * v for w, v in signals.values()), np.zeros(len(pool), np.float32))
        fused = (fused / total_weight).astype(np.float32)
        relevance = sum(
            (signals[name][0] * signals[name][1] for name in ("lexical", "semantic", "context")
             if name in signals),
            np.zeros(len(pool), np.float32),
        )  # fmt: skip
        position = dict(zip(pool.tolist(), range(len(pool)), strict=True))  # rows of signals
        keep = relevance > weights.min_relevance
        pool, fused, relevance = pool[keep], fused[keep], relevance[keep]
        if len(pool) == 0:
            return []
        order = np.argsort(-fused, kind="stable")[: weights.candidates]
        rows = pool.tolist()
        scores = dict(zip(rows, fused.tolist(), strict=True))
        relevant = dict(zip(rows, relevance.tolist(), strict=True))
        candidates = pool[order].tolist()
        picked = _mmr(index, candidates, scores, limit, weights)
        picked = _ensure_warning(index, picked, candidates, relevant, weights)
        return [
            Ranked(
                row,
                scores[row],
                {name: float(v[position[row]]) for name, (_, v) in signals.items()},
            )
            for row in picked
        ]


def _ensure_warning(
    index: EpisodeIndex,
    picked: list[int],
    candidates: list[int],
    relevance: dict[int, float],
    weights: RankingWeights,
) -> list[int]:
    if len(picked) < 2 or any(index.failure[row] for row in picked):
        return picked
    failures = [row for row in candidates if index.failure[row]]
    if not failures:
        return picked
    best_failure = max(failures, key=lambda row: relevance[row])
    best_relevance = max(relevance[row] for row in picked)
    if relevance[best_failure] >= weights.avoid_ratio * best_relevance:
        return [*picked[:-1], best_failure]
    return picked
