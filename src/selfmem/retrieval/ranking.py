"""Hybrid ranking: evidence, per-query fusion, tie-breakers and diversification.

Signals, each in [0, 1]:

- **evidence** that an episode is about the task:
  - **lexical**: BM25 over task and step terms, divided by the best score of the query;
  - **semantic**: cosine similarity of the query and episode embeddings (clipped at 0);
- **priors**, which only break ties between equally relevant episodes:
  - **context**: :meth:`EpisodeIndex.context_scores` (domain, language, framework, task
    type, tags; only the fields the query states);
  - **outcome**: the episode's reward, capped at 1 (failures score 0);
  - **recency**: ``0.5 ** (age_days / recency_half_life_days)``.

Candidates are the best rows by lexical and by semantic score. Only a candidate with
evidence is kept: a shared term, or a semantic similarity of at least ``min_semantic`` and
at least ``min_semantic_ratio`` of the best one. Context, outcome and recency never admit an
episode on their own.

**Relevance** fuses the evidence per query: a weighted mean of the evidence signals in which
each signal's weight (``lexical``, ``semantic``) is divided by its spread over the kept
candidates, ``max(max - min, min_spread)``. That orders candidates as if every signal were
first rescaled to the same spread: a signal constant over the candidates changes nothing,
and one that separates them counts by its weight whatever its raw range (cosines of related
texts bunch in 0.3-0.8, BM25 ratios span 0-1), while the relevance shown stays a mean of the
signals shown. Without an embedder, relevance orders the candidates exactly as BM25 does.

**Score** adds the priors after relevance, ``(relevance + S * sum(w_p * p)) / (1 + S *
sum(w_p))``, where ``S`` is the spread of relevance over the candidates (the harmonic mean
of the evidence spreads, weighted): a prior can only reorder candidates whose relevance
differs by less than its weight times ``S``. An episode that merely shares the context can
therefore not overtake one that is clearly more about the task.

The best ``candidates`` by score are then diversified. A near-duplicate of a pick (the same
task recorded again: same domain and language, cosine >= ``near_duplicate_cosine`` or term
Jaccard >= ``near_duplicate_jaccard``) is taken only when nothing else is left, so copies of
one task do not crowd out the rest. With ``mmr_lambda`` below 1 (default 1: off), each pick
also maximizes ``mmr_lambda * score - (1 - mmr_lambda) * max_similarity_to_picked``
(cosine of embeddings, or Jaccard of terms without them). If no failure was picked but a
failed candidate has at least ``avoid_ratio`` of the best pick's relevance, it replaces the
last pick: it is what to avoid. Diversification decides *which* episodes are returned; they
are returned in the order of their score, so the scores shown never go up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..records.episodes import TaskContext, TaskType
from .ann import AnnIndex
from .index import EpisodeIndex, QueryFilters
from .weights import RankingWeights

__all__ = ["Ranked", "RankingWeights", "rank"]

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Ranked:
    """One picked row with its score and the raw value of each signal."""

    row: int
    score: float
    signals: dict[str, float]


def _dot(matrix: F32, vector: F32) -> F32:
    """Matrix-vector product without BLAS: OpenBLAS threads keep spinning after a call and
    starve the embedding model's threads on small machines (query embedding went from
    ~7 ms to ~40 ms at 10,000 episodes on 2 cores); einsum runs in this thread only."""
    result: F32 = np.einsum("ij,j->i", matrix, vector).astype(np.float32, copy=False)
    return result


#: Every ``_STRIDE``-th score is sampled by :func:`_top`; with at least ``_SAMPLED_POSITIVE``
#: positive scores in the sample (a query whose words most rows contain), the cut-off is
#: taken from them.
_STRIDE = 16
_SAMPLED_POSITIVE = 4_096


def _top(values: F32, mask: npt.NDArray[np.bool_], k: int) -> npt.NDArray[np.int64]:
    """Rows of the ``k`` largest positive values among the masked rows.

    When many rows score, ordering them all is most of a query's cost; so a cut-off is taken
    from a sample (every ``_STRIDE``-th value), low enough that about twice ``k`` rows
    reach it. When at least ``k`` eligible rows do, the ``k`` largest are all among them and
    only those are ordered; otherwise every eligible row is."""
    eligible = None
    sample = values[::_STRIDE]
    positive = sample[sample > 0]
    if len(positive) >= _SAMPLED_POSITIVE and k > 0:
        wanted = min(len(positive), 2 * k // _STRIDE + 1)
        cut = float(np.partition(positive, len(positive) - wanted)[len(positive) - wanted])
        above = np.flatnonzero(mask & (values >= cut))
        if len(above) >= k:
            eligible = above
    if eligible is None:
        eligible = np.flatnonzero(mask & (values > 0))
    if len(eligible) > k:
        eligible = eligible[np.argpartition(-values[eligible], k - 1)[:k]]
    return eligible.astype(np.int64)


def _semantic_pool(
    index: EpisodeIndex, query: F32, mask: npt.NDArray[np.bool_], k: int, enough: int = 0
) -> tuple[npt.NDArray[np.int64], F32 | None]:
    """Rows most similar to the query: HNSW when ready, else an exact matrix product (and
    then the similarity of every row, so that it is not computed again for the pool).

    HNSW is asked for twice ``k`` rows, or four times when the filters keep less than half
    of them, so that ``k`` are left once filtered. Asking for more than the graph's search
    breadth (400) makes every search wider: 800 rows took twice as long. With ``enough``,
    a caller that needs only a few rows (the nearest runs of a task, for a vote) takes the
    usual search when ``enough`` rows of it pass the filters: a retrieval's own ranking
    has just made that search with the same query, and the wider one is not needed."""
    n = index.size
    ann = index.ann
    if ann is not None and ann.ready:
        wide = 2 * int(np.count_nonzero(mask[:n])) < n
        if wide and enough:
            kept = _searched(ann, query, min(n, 2 * k), mask, n)
            if len(kept) >= enough:
                return kept[:k], None
        return _searched(ann, query, min(n, (4 if wide else 2) * k), mask, n)[:k], None
    assert index.vectors is not None
    every = _dot(index.vectors[:n], query)
    return _top(np.where(index.has_vector[:n], every, 0.0).astype(np.float32), mask, k), every


def _searched(
    ann: AnnIndex, query: F32, k: int, mask: npt.NDArray[np.bool_], n: int
) -> npt.NDArray[np.int64]:
    """The rows of HNSW's ``k`` nearest that the filters keep, nearest first."""
    rows, _ = ann.search(query, k)
    rows = rows[(rows >= 0) & (rows < n)]
    return rows[mask[rows]]


def _semantic_signal(
    index: EpisodeIndex, pool: npt.NDArray[np.int64], query: F32, every: F32 | None
) -> F32:
    """The query's similarity to each pool row (``every``: to every row, if known)."""
    assert index.vectors is not None
    ann = index.ann
    if every is not None:
        values = every[pool]
    elif ann is not None and ann.ready:
        values = ann.similarities(query, pool)  # the search's, and only the rest computed
    else:
        values = _dot(index.vectors[pool], query)
    return np.where(index.has_vector[pool], np.clip(values, 0.0, 1.0), 0.0).astype(np.float32)


def _pool_signals(
    index: EpisodeIndex,
    pool: npt.NDArray[np.int64],
    lexical: F32,
    best_lexical: float,
    query_vector: F32 | None,
    similar: F32 | None,
    context: F32 | None,
    weights: RankingWeights,
) -> dict[str, F32]:
    """The raw value of every signal that is on, for the pool's rows."""
    found: dict[str, F32] = {}
    if weights.lexical > 0:
        found["lexical"] = lexical[pool] / best_lexical if best_lexical else lexical[pool]
    if weights.semantic > 0 and query_vector is not None and index.vectors is not None:
        found["semantic"] = _semantic_signal(index, pool, query_vector, similar)
    if context is not None and weights.context > 0:
        found["context"] = context
    if weights.outcome > 0:
        found["outcome"] = np.clip(index.reward[pool], 0.0, 1.0).astype(np.float32)
    if weights.recency > 0:
        age_days = (time.time() - index.end_time[pool]) / 86_400.0
        half_life = max(weights.recency_half_life_days, 1e-9)
        found["recency"] = np.power(0.5, np.maximum(age_days, 0) / half_life).astype(np.float32)
    return found


EVIDENCE = ("lexical", "semantic")
PRIORS = ("context", "outcome", "recency")


def has_evidence(signals: dict[str, F32], weights: RankingWeights) -> npt.NDArray[np.bool_]:
    """Which candidates have evidence of relevance to the task text: a shared term, or a
    semantic similarity of at least ``min_semantic`` and at least ``min_semantic_ratio`` of
    the best candidate's (below that it is background similarity: every two tasks of a
    project look somewhat alike). Priors never count as evidence."""
    n = len(next(iter(signals.values()))) if signals else 0
    found = np.zeros(n, dtype=bool)
    if "lexical" in signals:
        found |= signals["lexical"] > 0
    semantic = signals.get("semantic")
    if semantic is not None and n:
        floor = max(weights.min_semantic, weights.min_semantic_ratio * float(semantic.max()))
        found |= semantic >= max(floor, 1e-6)
    return found


def spread(values: F32, min_spread: float) -> float:
    """The spread of a signal over the candidates, ``max - min``, at least ``min_spread``."""
    if len(values) == 0:
        return min_spread
    return max(float(values.max()) - float(values.min()), min_spread)


def fuse(signals: dict[str, F32], weights: RankingWeights) -> tuple[F32, F32]:
    """Relevance (fused evidence) and score (relevance, then priors) of each candidate.

    Each evidence signal's weight is divided by its spread over the candidates, which ranks
    them as ``sum(w_i * (s_i - min_i) / spread_i)`` would (each signal rescaled to unit
    spread) while relevance stays a weighted mean of the raw signals, in [0, 1]. Priors are
    added scaled by the spread of relevance (the weighted harmonic mean of the spreads), so
    a prior of weight ``w`` can reorder only candidates whose relevance differs by less than
    ``w`` times that spread.
    """
    n = len(next(iter(signals.values()))) if signals else 0
    gains = {
        name: float(getattr(weights, name)) / spread(signals[name], weights.min_spread)
        for name in EVIDENCE
        if name in signals and float(getattr(weights, name)) > 0
    }
    relevance = np.zeros(n)
    total_gain = sum(gains.values())
    for name, gain in gains.items():
        relevance += gain / total_gain * signals[name].astype(np.float64)
    evidence_weight = sum(float(getattr(weights, name)) for name in gains)
    scale = evidence_weight / total_gain if total_gain > 0 else 1.0
    score = relevance.copy()
    priors = 0.0
    for name in PRIORS:
        weight = float(getattr(weights, name)) * scale
        if name in signals and weight > 0:
            score += weight * signals[name].astype(np.float64)
            priors += weight
    return relevance.astype(np.float32), (score / (1.0 + priors)).astype(np.float32)


def _jaccard(index: EpisodeIndex, rows: list[int]) -> F32:
    """Pairwise Jaccard similarity of the rows' distinct terms."""
    ids = index.terms_of(rows)
    flat = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int32)
    vocabulary, columns = np.unique(flat, return_inverse=True)
    terms = np.zeros((len(rows), max(1, len(vocabulary))), dtype=np.float32)
    terms[np.repeat(np.arange(len(rows)), [len(i) for i in ids]), columns] = 1.0
    shared = np.einsum("ik,jk->ij", terms, terms)
    sizes = terms.sum(axis=1)
    union = sizes[:, None] + sizes[None, :] - shared
    return np.where(union > 0, shared / np.maximum(union, 1.0), 0.0).astype(np.float32)


def _similarities(
    index: EpisodeIndex, rows: list[int], weights: RankingWeights
) -> tuple[F32, npt.NDArray[np.bool_]]:
    """Pairwise similarity of the candidate rows, and which pairs are near-duplicates.

    Cosine of embeddings where both rows have one, Jaccard of their terms otherwise; a
    near-duplicate is similar text *and* the same domain and language (the same task in
    two stacks is not a duplicate)."""
    at = np.asarray(rows, dtype=np.int64)
    embedded = index.has_vector[at] if index.vectors is not None else np.zeros(len(at), bool)
    if embedded.all():  # every pair has a cosine: no terms needed
        sim = np.zeros((len(at), len(at)), dtype=np.float32)
        duplicate = np.zeros((len(at), len(at)), dtype=bool)
    else:
        sim = _jaccard(index, rows)
        duplicate = sim >= weights.near_duplicate_jaccard
    if embedded.any():
        assert index.vectors is not None
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
    diversify: bool = True,
) -> list[Ranked]:
    """The ``limit`` best rows for a query, fused, diversified and explained.

    BM25 is computed for every row; candidates are the best rows by lexical and semantic
    score, the other signals (context, outcome, recency) are computed for those only, and
    only those with evidence are fused and diversified.
    With ``diversify=False`` the best rows by score are returned as they are, copies and
    all (the nearest runs of a task, for a vote).
    """
    with index.lock:
        n = index.size
        if n == 0:
            return []
        mask = index.filter_mask(filters)
        lexical = index.bm25(text)
        k = weights.candidates * 4
        parts = [_top(lexical, mask, k)]
        # the best lexical score among the rows the filters keep is among the best k
        best_lexical = float(lexical[parts[0]].max()) if len(parts[0]) else 0.0
        similar = None
        if query_vector is not None and index.vectors is not None and weights.semantic > 0:
            query_vector = query_vector.astype(np.float32)
            enough = 0 if diversify else min(k, 4 * limit)
            semantic, similar = _semantic_pool(index, query_vector, mask, k, enough)
            parts.append(semantic)
        pool = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
        if len(pool) == 0:
            return []
        ctx = None
        if context is not None or task_type is not None:
            ctx = index.context_scores(
                pool,
                context.domain if context else None,
                context.language if context else None,
                context.framework if context else None,
                task_type.value if task_type else None,
                context.tags if context else (),
            )
        signals = _pool_signals(
            index, pool, lexical, best_lexical, query_vector, similar, ctx, weights
        )
        keep = has_evidence(signals, weights)
        pool = pool[keep]
        if len(pool) == 0:
            return []
        signals = {name: values[keep] for name, values in signals.items()}
        relevance, fused = fuse(signals, weights)
        order = _best_first(index, pool, fused, weights.candidates)
        candidates = pool[order].tolist()  # only these can be picked: keyed by row below
        position = dict(zip(candidates, order.tolist(), strict=True))
        scores = dict(zip(candidates, fused[order].tolist(), strict=True))
        relevant = dict(zip(candidates, relevance[order].tolist(), strict=True))
        if diversify:
            picked = _mmr(index, candidates, scores, limit, weights)
            picked = _ensure_warning(index, picked, candidates, relevant, weights)
        else:
            picked = candidates[:limit]
        picked.sort(key=lambda row: -scores[row])
        return [
            Ranked(row, scores[row], {name: float(v[position[row]]) for name, v in signals.items()})
            for row in picked
        ]


def _best_first(
    index: EpisodeIndex, pool: npt.NDArray[np.int64], fused: F32, limit: int
) -> npt.NDArray[np.int64]:
    """Positions in ``pool`` of its ``limit`` best rows by score; equal scores put the
    newest episode first (ids grow with time), whatever the row order. Ids are read only
    for the rows whose score another row shares (rare: copies of one run)."""
    order = np.argsort(-fused, kind="stable")
    values = fused[order]
    same = np.flatnonzero(values[1:] == values[:-1])  # position i ties with i + 1
    if len(same) and same[0] < limit:
        # runs of equal scores that start inside the first ``limit`` positions
        starts = same[np.concatenate(([True], np.diff(same) > 1))]
        for start in starts[starts < limit].tolist():
            end = start + 1
            while end < len(values) and values[end] == values[start]:
                end += 1
            tied = order[start:end]
            ids = index.row_of.encoded(pool[tied].tolist())  # sort like the ids (UTF-8)
            order[start:end] = tied[sorted(range(len(ids)), key=ids.__getitem__, reverse=True)]
    return order[:limit]


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
