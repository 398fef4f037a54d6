"""Scoring signals and their fusion (first version: lexical + context + outcome).

``score = w_lexical * lexical + w_context * context + w_outcome * outcome``, each signal in
[0, 1]: lexical is BM25 divided by the best BM25 of the query, context is
:func:`context_match`, outcome is the episode's reward (capped at 1; failures count 0).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Episode, TaskContext, TaskType

__all__ = ["RankingWeights", "context_match", "fuse"]


@dataclass(frozen=True, slots=True)
class RankingWeights:
    lexical: float = 0.55
    context: float = 0.3
    outcome: float = 0.15


def context_match(
    query: TaskContext | None, query_type: TaskType | None, episode: Episode
) -> float:
    """Similarity of two task contexts in [0, 1].

    Domain 0.3, language 0.2, framework 0.1, task type 0.2, tag overlap (Jaccard) 0.2.
    Fields the query leaves unset are skipped and the rest renormalized; with no context
    and no task type at all the signal is a neutral 0.5.
    """
    other = episode.context
    if query is None:
        if query_type is None:
            return 0.5
        return float(episode.task_type == query_type)
    parts: list[tuple[float, float]] = [(0.3, float(query.domain == other.domain))]
    if query.language:
        parts.append((0.2, float((other.language or "").lower() == query.language.lower())))
    if query.framework:
        parts.append((0.1, float((other.framework or "").lower() == query.framework.lower())))
    if query_type is not None:
        parts.append((0.2, float(episode.task_type == query_type)))
    if query.tags:
        union = set(query.tags) | set(other.tags)
        parts.append((0.2, len(set(query.tags) & set(other.tags)) / len(union)))
    weight = sum(w for w, _ in parts)
    return sum(w * v for w, v in parts) / weight


def outcome_signal(episode: Episode) -> float:
    if episode.reward is None:
        return 0.0
    return min(1.0, max(0.0, episode.reward.total))


def fuse(signals: dict[str, float], weights: RankingWeights) -> float:
    return (
        weights.lexical * signals.get("lexical", 0.0)
        + weights.context * signals.get("context", 0.0)
        + weights.outcome * signals.get("outcome", 0.0)
    )
