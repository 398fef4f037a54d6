"""``SelfMemStore``: a LangGraph ``BaseStore`` whose items live in selfmem.

Long-term memory for LangGraph and ``create_agent(..., store=SelfMemStore(memory))``: the
items are kept in selfmem's store (the libSQL file or server, beside the episodes) and
scoped by the memory handle's namespace. Only ``batch`` / ``abatch`` are implemented; the
``get`` / ``put`` / ``search`` / ``delete`` / ``list_namespaces`` methods of ``BaseStore``
build the operations.

Search behaves as in LangGraph's stores: the namespace prefix and the filter select the
items, and a query only orders them, never hides one. With LangGraph's own
``index={"dims": ..., "embed": ..., "fields": [...]}`` a query ranks by the similarity of the
embedded fields (see :mod:`._store_index`); without it, by meaning when the memory has an
embedder (``SelfLearningMemory.open(embedder=...)``) and by BM25 otherwise. Items the query
does not match (or stored with ``index=False``) follow the ranked ones, with no score.
TTLs are not supported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    validate_op_namespace,
)

from selfmem import Item as SelfMemItem
from selfmem import SelfLearningMemory
from selfmem.memory.options import check_memory

from ._store_index import RESERVED, VECTOR_ROOT, StoreIndex, cosine_scores

__all__ = ["SelfMemStore"]

_PAGE = 1_000  # the most items (or namespaces) selfmem returns at once
Vectors = dict[int, Any]  # position of an op in the batch -> its vectors, or a query's vector


def _check_put_namespace(namespace: tuple[str, ...]) -> None:
    """LangGraph's rules for a namespace written to: at least one label, and not under the
    reserved root ``langgraph``."""
    if not namespace:
        raise InvalidNamespaceError("Namespace cannot be empty.")
    if namespace[0] == RESERVED:
        raise InvalidNamespaceError(
            f'Root label for namespace cannot be "langgraph". Got: {namespace}'
        )


def _item(item: SelfMemItem) -> Item:
    return Item(value=item.value, key=item.key, namespace=item.namespace,
                created_at=item.created_at, updated_at=item.updated_at)  # fmt: skip


def _search_item(item: SelfMemItem, score: float | None) -> SearchItem:
    return SearchItem(item.namespace, item.key, item.value, item.created_at, item.updated_at,
                      score)  # fmt: skip


def _pages(fetch: Callable[[int, int], list[Any]]) -> list[Any]:
    """Everything ``fetch(limit, offset)`` returns, page after page."""
    found: list[Any] = []
    while True:
        page = fetch(_PAGE, len(found))
        found.extend(page)
        if len(page) < _PAGE:
            return found


class SelfMemStore(BaseStore):
    """A LangGraph store backed by a :class:`selfmem.SelfLearningMemory`.

    ``index``: LangGraph's index configuration, ``{"dims": ..., "embed": ..., "fields":
    [...]}`` (``embed``: an ``Embeddings``, a function or a provider string); a query then
    ranks by the embedded fields. ``index_fields``: without ``index``, the fields a query
    matches for items put without an explicit ``index`` (``None``: all their text).
    ``memory`` is not closed by the store. A wrong option raises
    :class:`selfmem.InvalidInputError`.
    """

    supports_ttl = False

    def __init__(
        self,
        memory: SelfLearningMemory,
        *,
        index: Mapping[str, Any] | None = None,
        index_fields: Sequence[str] | None = None,
    ) -> None:
        self.memory = check_memory(memory)
        self.index = StoreIndex(index) if index is not None else None
        self.index_fields = list(index_fields) if index_fields is not None else None

    # -- batches ----------------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run the operations in order; returns one result per operation."""
        ops = list(ops)
        return self._run_all(ops, self._embed(ops))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async twin of :meth:`batch`: embeddings are awaited, the operations run in one
        worker thread."""
        ops = list(ops)
        vectors = await self._aembed(ops)
        return await asyncio.to_thread(self._run_all, ops, vectors)

    def _embed(self, ops: list[Op]) -> Vectors:
        if self.index is None:
            return {}
        puts = [(n, op) for n, op in enumerate(ops) if isinstance(op, PutOp)]
        by_put = self.index.embed_puts([op for _, op in puts])
        vectors: Vectors = {puts[i][0]: found for i, found in by_put.items()}
        for n, op in enumerate(ops):
            if isinstance(op, SearchOp) and op.query and op.query.strip():
                vectors[n] = self.index.embed_query(op.query)
        return vectors

    async def _aembed(self, ops: list[Op]) -> Vectors:
        if self.index is None:
            return {}
        puts = [(n, op) for n, op in enumerate(ops) if isinstance(op, PutOp)]
        by_put = await self.index.aembed_puts([op for _, op in puts])
        vectors: Vectors = {puts[i][0]: found for i, found in by_put.items()}
        for n, op in enumerate(ops):
            if isinstance(op, SearchOp) and op.query and op.query.strip():
                vectors[n] = await self.index.aembed_query(op.query)
        return vectors

    def _run_all(self, ops: list[Op], vectors: Vectors) -> list[Result]:
        return [self._run(op, vectors.get(n)) for n, op in enumerate(ops)]

    def _run(self, op: Op, vectors: Any) -> Result:
        validate_op_namespace(op)
        if isinstance(op, GetOp):
            if op.namespace[:1] == (RESERVED,):
                return None
            found = self.memory.get_item(op.namespace, op.key)
            return _item(found) if found is not None else None
        if isinstance(op, PutOp):
            self._put(op, vectors or [])
            return None
        if isinstance(op, SearchOp):
            return self._search(op, vectors)
        if isinstance(op, ListNamespacesOp):
            return self._list_namespaces(op)
        raise TypeError(f"unknown store operation {type(op).__name__}")

    # -- writing ----------------------------------------------------------------------------

    def _put(self, op: PutOp, vectors: list[list[float]]) -> None:
        _check_put_namespace(op.namespace)
        kept = (*VECTOR_ROOT, *op.namespace)
        if op.value is None:
            self.memory.delete_item(op.namespace, op.key)
            if self.index is not None:
                self.memory.delete_item(kept, op.key)
            return
        if self.index is not None:  # the index ranks; selfmem's own text index is not needed
            self.memory.put_item(op.namespace, op.key, op.value, index=False)
            if vectors:
                self.memory.put_item(kept, op.key, self.index.stored(vectors), index=False)
            else:
                self.memory.delete_item(kept, op.key)
            return
        index: Sequence[str] | Literal[False] | None = (
            self.index_fields if op.index is None else op.index
        )
        self.memory.put_item(op.namespace, op.key, op.value, index=index)

    # -- searching --------------------------------------------------------------------------

    def _all(
        self, prefix: tuple[str, ...], filter: Mapping[str, Any] | None, query: str | None = None
    ) -> list[SelfMemItem]:
        """Every visible item under ``prefix`` passing ``filter`` (ranked, with ``query``)."""
        found: list[SelfMemItem] = _pages(lambda limit, offset: self.memory.search_items(
            prefix, query=query, filter=filter, limit=limit, offset=offset
        ))  # fmt: skip
        return [item for item in found if item.namespace[:1] != (RESERVED,)]

    def _search(self, op: SearchOp, query_vector: list[float] | None) -> list[SearchItem]:
        prefix, end = tuple(op.namespace_prefix), op.offset + op.limit
        if prefix[:1] == (RESERVED,):
            return []
        query = op.query if op.query and op.query.strip() else None
        if query is None:
            if prefix and op.limit <= _PAGE:  # nothing reserved below a user prefix
                found = self.memory.search_items(prefix, filter=op.filter, limit=op.limit,
                                                 offset=op.offset)  # fmt: skip
                return [_search_item(item, None) for item in found]
            visible = self._all(prefix, op.filter)[op.offset : end]
            return [_search_item(item, None) for item in visible]
        if self.index is not None and query_vector is not None:
            ranked = self._rank_by_vectors(prefix, op.filter, query_vector)
        else:
            ranked = self._rank_by_memory(prefix, op.filter, query)
        return [_search_item(item, score) for item, score in ranked[op.offset : end]]

    def _rank_by_memory(
        self, prefix: tuple[str, ...], filter: Mapping[str, Any] | None, query: str
    ) -> list[tuple[SelfMemItem, float | None]]:
        """selfmem's ranking (BM25, or the memory's embedder), then what it did not match."""
        matched = self._all(prefix, filter, query)
        seen = {(item.namespace, item.key) for item in matched}
        rest = [i for i in self._all(prefix, filter) if (i.namespace, i.key) not in seen]
        return [(item, item.score) for item in matched] + [(item, None) for item in rest]

    def _rank_by_vectors(
        self, prefix: tuple[str, ...], filter: Mapping[str, Any] | None, query: list[float]
    ) -> list[tuple[SelfMemItem, float | None]]:
        """Items by their closest embedded text, then those with none."""
        assert self.index is not None
        stored = _pages(lambda limit, offset: self.memory.search_items(
            (*VECTOR_ROOT, *prefix), limit=limit, offset=offset
        ))  # fmt: skip
        by_item = {(i.namespace[len(VECTOR_ROOT) :], i.key): self.index.usable(i.value)
                   for i in stored}  # fmt: skip
        scored: list[tuple[SelfMemItem, float]] = []
        unscored: list[SelfMemItem] = []
        for item in self._all(prefix, filter):
            vectors = by_item.get((item.namespace, item.key))
            if vectors:
                scored.append((item, max(cosine_scores(query, vectors))))
            else:
                unscored.append(item)
        scored.sort(key=lambda pair: -pair[1])
        return [*scored, *((item, None) for item in unscored)]

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        prefix: tuple[str, ...] = ()
        suffix: tuple[str, ...] = ()
        for condition in op.match_conditions or ():
            if condition.match_type == "prefix":
                prefix = tuple(condition.path)
            elif condition.match_type == "suffix":
                suffix = tuple(condition.path)
            else:
                raise ValueError(f"unknown namespace match type {condition.match_type!r}")
        found: list[tuple[str, ...]] = _pages(lambda limit, offset: (
            self.memory.list_item_namespaces(prefix=prefix, suffix=suffix,
                                             max_depth=op.max_depth, limit=limit, offset=offset)
        ))  # fmt: skip
        visible = [namespace for namespace in found if namespace[:1] != (RESERVED,)]
        return visible[op.offset : op.offset + op.limit]
