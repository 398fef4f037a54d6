"""``SelfMemRetriever``: selfmem's experience as a LlamaIndex retriever.

Works anywhere a ``BaseRetriever`` does: on its own, in a ``RetrieverQueryEngine``, fused
with a document retriever in a ``QueryFusionRetriever``, or as an agent tool
(:meth:`SelfMemRetriever.as_tool`). Retrieval is selfmem's hybrid ranking
(:meth:`selfmem.SelfLearningMemory.retrieve_relevant_context`); the async path uses the
memory's async twin, so an event loop is never blocked.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.tools import RetrieverTool
from llama_index.retrievers.selfmem.nodes import ItemKind, result_to_nodes

from selfmem import RetrievalResult, SelfLearningMemory, TaskContext, TaskType

__all__ = ["SelfMemRetriever"]

logger = logging.getLogger(__name__)

_ALL: tuple[ItemKind, ...] = ("episodes", "patterns", "heuristics")
_TOOL_DESCRIPTION = (
    "Look up past experience with similar tasks: what worked, what failed, learned tool "
    "sequences and rules. Input: a description of the current task."
)


class SelfMemRetriever(BaseRetriever):
    """Past episodes, learned patterns and heuristics relevant to a query, as nodes.

    ``memory``: an open :class:`selfmem.SelfLearningMemory` (the caller owns and closes it).
    ``limit``: at most this many episodes and this many patterns (and heuristics).
    ``context``, ``task_type``, ``success_only``, ``domain``, ``tags``: passed to
    ``retrieve_relevant_context`` as the task's context and filters.
    ``include``: which kinds of items to return (default all three).

    Each node's metadata has ``kind`` (``episode``, ``pattern`` or ``heuristic``), the item's
    id, and ``why`` (the score and the signals behind it).
    """

    def __init__(
        self,
        memory: SelfLearningMemory,
        *,
        limit: int = 5,
        context: TaskContext | dict[str, Any] | None = None,
        task_type: TaskType | str | None = None,
        success_only: bool = False,
        domain: str | None = None,
        tags: Sequence[str] = (),
        include: Sequence[ItemKind] = _ALL,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        unknown = set(include) - set(_ALL)
        if unknown:
            raise ValueError(f"include: unknown kinds {sorted(unknown)}; known: {list(_ALL)}")
        self._memory = memory
        self._limit = limit
        self._context = context
        self._task_type = task_type
        self._success_only = success_only
        self._domain = domain
        self._tags = tuple(tags)
        self._include: tuple[ItemKind, ...] = tuple(include)
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    @property
    def memory(self) -> SelfLearningMemory:
        """The memory this retriever reads."""
        return self._memory

    def _options(self) -> dict[str, Any]:
        return {
            "context": self._context,
            "limit": self._limit,
            "task_type": self._task_type,
            "success_only": self._success_only,
            "domain": self._domain,
            "tags": self._tags,
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

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query = query_bundle.query_str
        if not query.strip():
            return []
        nodes = result_to_nodes(self.retrieve_result(query), self._include)
        logger.debug("retrieved %d selfmem nodes for %r", len(nodes), query[:80])
        return nodes

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query = query_bundle.query_str
        if not query.strip():
            return []
        nodes = result_to_nodes(await self.aretrieve_result(query), self._include)
        logger.debug("retrieved %d selfmem nodes for %r", len(nodes), query[:80])
        return nodes

    def as_tool(
        self, name: str = "past_experience", description: str = _TOOL_DESCRIPTION
    ) -> RetrieverTool:
        """This retriever as an agent tool (a ``RetrieverTool``)."""
        return RetrieverTool.from_defaults(retriever=self, name=name, description=description)
