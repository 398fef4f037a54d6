"""The weights of the retrieval signals (kept free of numpy so importing selfmem stays light)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RankingWeights"]


@dataclass(frozen=True, slots=True)
class RankingWeights:
    """Weights of the signals and the knobs of diversification (see :mod:`.ranking`).

    ``lexical`` and ``semantic`` weigh the evidence within relevance (only their ratio
    matters); ``context``, ``outcome`` and ``recency`` are tie-breakers added after it, each
    able to reorder candidates whose relevance differs by less than its weight.
    ``min_semantic`` is the cosine below which an embedding similarity is not evidence
    (0.2 suits all-MiniLM-L6-v2, where unrelated task pairs score about 0.05, 0.17 at the
    90th percentile), nor is one below ``min_semantic_ratio`` of the query's best match;
    ``min_spread`` keeps differences smaller than it from being magnified
    when a signal is rescaled by its spread over the candidates. ``mmr_lambda`` below 1
    trades relevance for variety among the returned episodes (1: none); a near-duplicate of
    a returned episode (the same task recorded again: cosine >= ``near_duplicate_cosine`` or
    term Jaccard >= ``near_duplicate_jaccard``, same domain and language) is returned only
    when nothing else is left.
    """

    lexical: float = 0.4
    semantic: float = 0.6
    context: float = 0.3
    outcome: float = 0.05
    recency: float = 0.02
    recency_half_life_days: float = 30.0
    min_semantic: float = 0.2
    min_semantic_ratio: float = 0.5
    min_spread: float = 0.1
    mmr_lambda: float = 1.0
    near_duplicate_cosine: float = 0.99
    near_duplicate_jaccard: float = 0.95
    candidates: int = 50
    avoid_ratio: float = 0.6
