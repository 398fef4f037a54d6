"""Retrieval: ``retrieve_relevant_context`` and ``recommend_patterns``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import InvalidInputError, NotFoundError
from .handle import Handle
from .models import (
    Episode,
    TaskContext,
    TaskType,
)
from .retrieval.pattern_ranking import ScoredHeuristic, ScoredPattern, rank_patterns
from .retrieval.ranking import context_match, fuse, outcome_signal
from .retrieval.result import RetrievalResult, ScoredEpisode
from .runtime import twin
from .security import validation
from .storage.base import EpisodeQuery

__all__ = ["RetrievalAPI"]


class RetrievalAPI(Handle):
    """Finding the experience that helps most with a new task."""

    def retrieve_relevant_context(
        self,
        description: str,
        context: TaskContext | dict[str, Any] | None = None,
        limit: int = 5,
        *,
        task_type: TaskType | str | None = None,
        success_only: bool = False,
    ) -> RetrievalResult:
        """Past completed episodes most relevant to a new task, ranked and explained.

        Signals: full-text relevance (FTS5 BM25 over task and step text), context match
        and outcome reward; see :mod:`selfmem.retrieval.ranking`.
        """
        self._check_open()
        if not isinstance(description, str) or not description.strip():
            raise InvalidInputError("description must be a non-empty string", field="description")
        if not 1 <= limit <= 100:
            raise InvalidInputError("limit must be between 1 and 100", field="limit")
        ctx = validation.prepare_context(context, self.config.limits)
        stated = ctx if context is not None else None
        wanted_type = validation.prepare_task_type(task_type) if task_type else None
        candidates = self._candidates(description, stated, pool=max(50, limit * 10))
        scored: list[ScoredEpisode] = []
        for episode, lexical in candidates:
            if success_only and not (episode.outcome and episode.outcome.is_success):
                continue
            if wanted_type is not None and episode.task_type != wanted_type:
                continue
            signals = {
                "lexical": lexical,
                "context": context_match(stated, wanted_type, episode),
                "outcome": outcome_signal(episode),
            }
            scored.append(ScoredEpisode(episode, fuse(signals, self._ranking), signals))
        scored.sort(key=lambda s: s.score, reverse=True)
        patterns, heuristics = self._rank_patterns(description, stated, wanted_type, limit)
        return RetrievalResult(
            query=description, episodes=scored[:limit], patterns=patterns, heuristics=heuristics
        )

    def _rank_patterns(
        self, description: str, ctx: TaskContext | None, task_type: TaskType | None, limit: int
    ) -> tuple[list[ScoredPattern], list[ScoredHeuristic]]:
        learner = self._core.learning.learner(self.namespace)
        with self._core.learning.lock:
            served = learner.patterns()
        return rank_patterns(served, description, ctx, task_type, limit)

    def _candidates(
        self, description: str, ctx: TaskContext | None, pool: int
    ) -> Iterable[tuple[Episode, float]]:
        hits = self._core.store.search_episodes(self.namespace, description, pool)
        best = max((hit.score for hit in hits), default=0.0) or 1.0
        found: dict[str, tuple[Episode, float]] = {}
        for hit in hits:
            try:
                episode = self.get_episode(hit.episode_id)
            except NotFoundError:
                continue
            found[episode.id] = (episode, hit.score / best)
        if ctx is not None:
            same_domain = self._core.store.list_episodes(
                EpisodeQuery(self.namespace, domain=ctx.domain, completed_only=True, limit=pool)
            )
            for episode in same_domain:
                found.setdefault(episode.id, (episode, 0.0))
        return found.values()

    def recommend_patterns(
        self,
        description: str,
        context: TaskContext | dict[str, Any] | None = None,
        limit: int = 5,
        *,
        task_type: TaskType | str | None = None,
    ) -> list[ScoredPattern]:
        """What to try for this task: served patterns ranked by effectiveness and fit."""
        self._check_open()
        ctx = validation.prepare_context(context, self.config.limits)
        wanted = validation.prepare_task_type(task_type) if task_type else None
        stated = ctx if context is not None else None
        return self._rank_patterns(description, stated, wanted, limit)[0]

    aretrieve_relevant_context = twin(retrieve_relevant_context)
    arecommend_patterns = twin(recommend_patterns)
