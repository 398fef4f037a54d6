"""The weights of the retrieval signals (kept free of numpy so importing selfmem stays light)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RankingWeights"]


@dataclass(frozen=True, slots=True)
class RankingWeights:
    """Weights of the signals and the knobs of diversification (see the module doc)."""

    lexical: float = 0.15
    semantic: float = 0.55
    context: float = 0.15
    outcome: float = 0.1
    recency: float = 0.05
    recency_half_life_days: float = 30.0
    mmr_lambda: float = 0.9
    near_duplicate_cosine: float = 0.92
    near_duplicate_jaccard: float = 0.7
    candidates: int = 50
    avoid_ratio: float = 0.6
    min_relevance: float = 0.0
