"""``SelfMemStore``: a LangGraph ``BaseStore`` whose items live in selfmem.

Long-term memory for LangGraph and ``create_agent(..., store=SelfMemStore(memory))``: the
items are kept in selfmem's store (the libSQL file or server, beside the episodes) and
scoped by the memory handle's namespace. Only ``batch`` / ``abatch`` are implemented; the
``get`` / ``put`` / ``search`` / ``delete`` / ``list_namespaces`` methods of ``BaseStore``
build the operations.

A query search ranks by meaning when the memory has an embedder
(``SelfLearningMemory.open(embedder=...)``) and by BM25 otherwise; items stored with
``index=False`` are found by listing and filters, not by a query. TTLs are not supported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal

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

__all__ = ["SelfMemStore"]


def _check_put_namespace(namespace: tuple[str, ...]) -> None:
    """LangGraph's rules for a namespace written to: at least one label, and not under the
    reserved root ``langgraph``."""
    if not namespace:
        raise InvalidNamespaceError("Namespace cannot be empty.")
    if namespace[0] == "langgraph":
        raise InvalidNamespaceError(
            f'Root label for namespace cannot be "langgraph". Got: {namespace}'
        )


def _times(item: SelfMemItem) -> tuple[datetime, datetime]:
    return item.created_at, item.updated_at


def _item(item: SelfMemItem) -> Item:
    created, updated = _times(item)
    return Item(value=item.value, key=item.key, namespace=item.namespace,
                created_at=created, updated_at=updated)  # fmt: skip


def _search_item(item: SelfMemItem) -> SearchItem:
    created, updated = _times(item)
    return SearchItem(item.namespace, item.key, item.value, created, updated, item.score)


class SelfMemStore(BaseStore):
    """A LangGraph store backed by a :class:`selfmem.SelfLearningMemory`.

    ``index_fields``: the fields a query search matches for items put without an explicit
    ``index`` (``None``: all their text). ``memory`` is not closed by the store.
    """

    supports_ttl = False

    def __init__(
        self, memory: SelfLearningMemory, *, index_fields: Sequence[str] | None = None
    ) -> None:
        self.memory = memory
        self.index_fields = list(index_fields) if index_fields is not None else None

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run the operations in order; returns one result per operation."""
        return [self._run(op) for op in ops]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async twin of :meth:`batch` (the operations run in one worker thread)."""
        return await asyncio.to_thread(self.batch, list(ops))

    def _run(self, op: Op) -> Result:
        validate_op_namespace(op)
        if isinstance(op, GetOp):
            found = self.memory.get_item(op.namespace, op.key)
            return _item(found) if found is not None else None
        if isinstance(op, PutOp):
            self._put(op)
            return None
        if isinstance(op, SearchOp):
            found_items = self.memory.search_items(
                op.namespace_prefix, query=op.query, filter=op.filter,
                limit=op.limit, offset=op.offset,
            )  # fmt: skip
            return [_search_item(item) for item in found_items]
        if isinstance(op, ListNamespacesOp):
            return self._list_namespaces(op)
        raise TypeError(f"unknown store operation {type(op).__name__}")

    def _put(self, op: PutOp) -> None:
        _check_put_namespace(op.namespace)
        if op.value is None:
            self.memory.delete_item(op.namespace, op.key)
            return
        index: Sequence[str] | Literal[False] | None = (
            self.index_fields if op.index is None else op.index
        )
        self.memory.put_item(op.namespace, op.key, op.value, index=index)

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
        return self.memory.list_item_namespaces(
            prefix=prefix, suffix=suffix, max_depth=op.max_depth,
            limit=op.limit, offset=op.offset,
        )  # fmt: skip
