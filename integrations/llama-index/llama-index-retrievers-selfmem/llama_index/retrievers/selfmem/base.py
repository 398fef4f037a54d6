"""``SelfMemRetriever``: selfmem's experience as a LlamaIndex retriever.

Works anywhere a ``BaseRetriever`` does: on its own, in a ``RetrieverQueryEngine``, fused
with a document retriever in a ``QueryFusionRetriever``, or as an agent tool
(:meth:`SelfMemRetriever.as_tool`). Retrieval is selfmem's hybrid ranking
(:meth:`selfmem.SelfLearningMemory.retrieve_relevant_context`), plus the lessons written down
as items; the async path uses the memory's async twins, so an event loop is never blocked.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Sequence
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.tools import RetrieverTool
from llama_index.retrievers.selfmem.nodes import ItemKind, result_to_nodes

from selfmem import (
    InvalidInputError,
    Item,
    RetrievalResult,
    SelfLearningMemory,
    TaskContext,
    TaskType,
)
from selfmem.memory.options import (
    KINDS,
    check_context,
    check_count,
    check_include,
    check_memory,
    check_task_type,
)

__all__ = ["LESSONS", "SelfMemRetriever"]

logger = logging.getLogger(__name__)

#: Where lessons are kept by default (items; LangChain's lesson tool writes them here).
LESSONS: tuple[str, ...] = ("lessons",)
_TOOL_DESCRIPTION = (
    "Look up past experience with similar tasks: what worked, what failed, learned tool "
    "sequences, rules and lessons. Input: a description of the current task."
)
_UNSET: Any = object()


def _labels(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value or not all(
        isinstance(label, str) and label for label in value
    ):
        raise InvalidInputError(
            f"lessons_namespace must be a tuple of labels, e.g. ('lessons',), got {value!r}",
            field="lessons_namespace",
        )
    return tuple(value)


class SelfMemRetriever(BaseRetriever):
    """Past episodes, learned patterns, heuristics and lessons relevant to a query, as nodes.

    ``memory`` (first argument, positional or keyword): an open
    :class:`selfmem.SelfLearningMemory` (the caller owns and closes it).
    ``similarity_top_k``: at most this many episodes, this many patterns (and heuristics)
    and this many lessons. ``context``, ``task_type``, ``success_only``, ``domain``,
    ``tags``: passed to ``retrieve_relevant_context`` as the task's context and filters
    (``domain`` also leaves out patterns, heuristics and lessons of other domains).
    ``include``: which kinds to return, of ``episode``, ``pattern``, ``heuristic``,
    ``lesson`` (default all; plurals accepted). ``lessons_namespace``: where lessons are
    kept (items; default ``("lessons",)``). A wrong option raises
    :class:`selfmem.InvalidInputError` here, naming it. ``limit`` is the deprecated name of
    ``similarity_top_k``.

    Each node's metadata has ``kind`` (``episode``, ``pattern``, ``heuristic`` or
    ``lesson``), the item's id, and ``why`` (the score and the signals behind it).
    """

    def __init__(
        self,
        memory: SelfLearningMemory,
        *,
        similarity_top_k: int = 5,
        context: TaskContext | dict[str, Any] | None = None,
        task_type: TaskType | str | None = None,
        success_only: bool = False,
        domain: str | None = None,
        tags: Sequence[str] = (),
        include: Sequence[ItemKind | str] = KINDS,
        lessons_namespace: Sequence[str] = LESSONS,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
        limit: int = _UNSET,
    ) -> None:
        if limit is not _UNSET:
            warnings.warn(
                "SelfMemRetriever(limit=...) is deprecated; use similarity_top_k=...",
                DeprecationWarning,
                stacklevel=2,
            )
            similarity_top_k = limit
        self._memory = check_memory(memory)
        self._top_k = check_count(similarity_top_k, "similarity_top_k")
        self._context = check_context(context)
        self._task_type = None if task_type is None else check_task_type(task_type)
        if not isinstance(success_only, bool):
            raise InvalidInputError("success_only must be True or False", field="success_only")
        if domain is not None and (not isinstance(domain, str) or not domain.strip()):
            raise InvalidInputError("domain must be a non-empty string or None", field="domain")
        if isinstance(tags, str) or not all(isinstance(tag, str) for tag in tags):
            raise InvalidInputError("tags must be a list of strings", field="tags")
        self._success_only = success_only
        self._domain = domain
        self._tags = tuple(tags)
        self._include: tuple[ItemKind, ...] = check_include(include)
        self._lessons = _labels(lessons_namespace)
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    @property
    def memory(self) -> SelfLearningMemory:
        """The memory this retriever reads."""
        return self._memory

    @property
    def similarity_top_k(self) -> int:
        """How many episodes, patterns and lessons (each) a query returns at most."""
        return self._top_k

    def _options(self) -> dict[str, Any]:
        return {
            "context": self._context,
            "limit": self._top_k,
            "task_type": self._task_type,
            "success_only": self._success_only,
            "domain": self._domain,
            "tags": self._tags,
        }

    def _lesson_query(self, query: str) -> dict[str, Any]:
        return {
            "query": query,
            "filter": {"domain": self._domain} if self._domain else None,
            "limit": self._top_k,
        }

    def retrieve_result(self, query: str) -> RetrievalResult:
        """The raw selfmem result for a query (episodes, patterns, heuristics, ``render()``)."""
        return self._memory.retrieve_relevant_context(query, **self._options())

    async def aretrieve_result(self, query: str) -> RetrievalResult:
        """Async twin of :meth:`retrieve_result`."""
        result: RetrievalResult = await self._memory.aretrieve_relevant_context(
            query, **self._options()
        )
        return result

    def retrieve_lessons(self, query: str) -> list[Item]:
        """The lessons (items of ``lessons_namespace``) that match a query, best first."""
        return self._memory.search_items(self._lessons, **self._lesson_query(query))

    async def aretrieve_lessons(self, query: str) -> list[Item]:
        """Async twin of :meth:`retrieve_lessons`."""
        found: list[Item] = await self._memory.asearch_items(
            self._lessons, **self._lesson_query(query)
        )
        return found

    def _in_domain(self, result: RetrievalResult) -> RetrievalResult:
        """``result`` without the patterns and heuristics learned in another domain than the
        ``domain`` filter (the core filters episodes only)."""
        if self._domain is None:
            return result

        def fits(domain: str | None) -> bool:
            return domain is None or domain == self._domain

        return dataclasses.replace(
            result,
            patterns=[s for s in result.patterns if fits(s.pattern.context.domain)],
            heuristics=[s for s in result.heuristics if fits(s.heuristic.context.domain)],
        )

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query = query_bundle.query_str
        if not query.strip():
            return []
        lessons = self.retrieve_lessons(query) if "lesson" in self._include else []
        result = self._in_domain(self.retrieve_result(query))
        nodes = result_to_nodes(result, self._include, lessons)
        logger.debug("retrieved %d selfmem nodes for %r", len(nodes), query[:80])
        return nodes

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query = query_bundle.query_str
        if not query.strip():
            return []
        lessons = await self.aretrieve_lessons(query) if "lesson" in self._include else []
        result = self._in_domain(await self.aretrieve_result(query))
        nodes = result_to_nodes(result, self._include, lessons)
        logger.debug("retrieved %d selfmem nodes for %r", len(nodes), query[:80])
        return nodes

    def as_tool(
        self, name: str = "past_experience", description: str = _TOOL_DESCRIPTION
    ) -> RetrieverTool:
        """This retriever as an agent tool (a ``RetrieverTool``)."""
        return RetrieverTool.from_defaults(retriever=self, name=name, description=description)
