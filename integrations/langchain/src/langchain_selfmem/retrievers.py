"""``SelfMemRetriever``: past episodes, learned patterns and heuristics as ``Document``s."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from selfmem import (
    RetrievalResult,
    ScoredEpisode,
    ScoredHeuristic,
    ScoredPattern,
    SelfLearningMemory,
    TaskContext,
    TaskType,
)

__all__ = ["Kind", "SelfMemRetriever", "episode_document", "heuristic_document",
           "pattern_document"]  # fmt: skip

#: What a document describes.
Kind = Literal["episode", "pattern", "heuristic"]


def episode_document(scored: ScoredEpisode) -> Document:
    """A past episode: its task, outcome, tools and lessons."""
    episode = scored.episode
    outcome = episode.outcome.summary() if episode.outcome else "open"
    lines = [f"Task: {episode.task_description}", f"Outcome: {outcome}"]
    sequence = episode.tool_sequence()
    if sequence:
        lines.append(f"Tools: {sequence}")
    errors = [step for step in episode.steps if not step.success]
    if errors:
        lines.append(f"Failed step: {errors[-1].tool}: {errors[-1].error or ''}"[:400])
    if episode.reflection and episode.reflection.recommendations:
        lines.append("Lessons: " + "; ".join(episode.reflection.recommendations[:3]))
    metadata: dict[str, Any] = {
        "kind": "episode",
        "id": episode.id,
        "episode_id": episode.id,
        "score": scored.score,
        "signals": dict(scored.signals),
        "outcome": episode.outcome.status.value if episode.outcome else None,
        "reward": episode.reward.total if episode.reward else None,
        "task_type": episode.task_type.value,
        "domain": episode.context.domain,
        "namespace": episode.namespace,
        "end_time": episode.end_time.isoformat() if episode.end_time else None,
    }
    return Document(id=episode.id, page_content="\n".join(lines), metadata=metadata)


def pattern_document(scored: ScoredPattern) -> Document:
    """A learned pattern and its evidence."""
    pattern = scored.pattern
    metadata: dict[str, Any] = {
        "kind": "pattern",
        "id": pattern.id,
        "pattern_id": pattern.id,
        "pattern_kind": pattern.kind.value,
        "score": scored.score,
        "signals": dict(scored.signals),
        "confidence": pattern.confidence,
        "support": pattern.support,
        "successes": pattern.successes,
        "namespace": pattern.namespace,
        "episode_ids": list(pattern.episode_ids),
    }
    return Document(id=pattern.id, page_content=pattern.describe(), metadata=metadata)


def heuristic_document(scored: ScoredHeuristic) -> Document:
    """A learned rule (condition -> action) and its evidence."""
    heuristic = scored.heuristic
    metadata: dict[str, Any] = {
        "kind": "heuristic",
        "id": heuristic.id,
        "heuristic_id": heuristic.id,
        "heuristic_kind": heuristic.kind.value,
        "score": scored.score,
        "confidence": heuristic.confidence,
        "evidence": heuristic.evidence,
        "successes": heuristic.successes,
        "namespace": heuristic.namespace,
        "source_pattern_ids": list(heuristic.source_pattern_ids),
    }
    return Document(id=heuristic.id, page_content=heuristic.explain(), metadata=metadata)


class SelfMemRetriever(BaseRetriever):
    """Relevant past experience for a query, from a selfmem memory.

    Returns up to ``k`` documents: the best episode, pattern and heuristic first, then the
    second of each, and so on (only the kinds in ``include``). ``metadata["kind"]`` says
    which; ``metadata["id"]`` and ``metadata["score"]`` are always set, episodes add their
    ``outcome`` and ``reward``, patterns and heuristics their ``confidence`` and evidence.

    ``context``, ``task_type``, ``success_only``, ``domain`` and ``required_tags`` (as
    ``tags``) filter and rank as in :meth:`selfmem.SelfLearningMemory.retrieve_relevant_context`.
    ``invoke(query, k=...)`` overrides ``k`` for one call.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: SelfLearningMemory
    k: int = Field(default=4, ge=1, le=100)
    include: Sequence[Kind] = ("episode", "pattern", "heuristic")
    context: TaskContext | dict[str, Any] | None = None
    task_type: TaskType | str | None = None
    success_only: bool = False
    domain: str | None = None
    required_tags: Sequence[str] = ()

    def _query_args(self, query: str, k: int) -> dict[str, Any]:
        return {
            "description": query, "context": self.context, "limit": k,
            "task_type": self.task_type, "success_only": self.success_only,
            "domain": self.domain, "tags": tuple(self.required_tags),
        }  # fmt: skip

    def _documents(self, result: RetrievalResult, k: int) -> list[Document]:
        sources: dict[Kind, Iterator[Document]] = {
            "episode": map(episode_document, result.episodes),
            "pattern": map(pattern_document, result.patterns),
            "heuristic": map(heuristic_document, result.heuristics),
        }
        columns = [sources[kind] for kind in dict.fromkeys(self.include)]
        interleaved = (
            doc
            for row in itertools.zip_longest(*columns)
            for doc in row
            if doc is not None
        )
        return list(itertools.islice(interleaved, k))

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        wanted = k or self.k
        result = self.memory.retrieve_relevant_context(**self._query_args(query, wanted))
        return self._documents(result, wanted)

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        wanted = k or self.k
        result = await self.memory.aretrieve_relevant_context(**self._query_args(query, wanted))
        return self._documents(result, wanted)
