"""Ranking quality (recall@k, MRR, nDCG@k) on graded labels, and latency percentiles."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .retrieval_dataset import LabelledQuery

QUALITY_LIMIT = 10  # results fetched for the quality metrics (nDCG@10)


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
