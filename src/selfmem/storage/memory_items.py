"""Key-value items in process memory: the reference :class:`~selfmem.storage.base.ItemStore`."""

from __future__ import annotations

import threading
from dataclasses import replace

from .base import ItemRow

__all__ = ["InMemoryItems"]


class InMemoryItems:
    """Items in a dict keyed by (namespace, path, key); lost when the process ends."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, tuple[str, ...], str], ItemRow] = {}
        self._lock = threading.Lock()

    def put_item(self, namespace: str, row: ItemRow) -> ItemRow:
        with self._lock:
            old = self._rows.get((namespace, row.path, row.key))
            if old is not None:
                row = replace(row, created_at=old.created_at)
            self._rows[(namespace, row.path, row.key)] = row
        return row

    def get_item(self, namespace: str, path: tuple[str, ...], key: str) -> ItemRow | None:
        with self._lock:
            return self._rows.get((namespace, path, key))

    def delete_items(self, namespace: str, path: tuple[str, ...], key: str | None) -> int:
        with self._lock:
            doomed = [
                k
                for k in self._rows
                if k[0] == namespace
                and (k[1:] == (path, key) if key is not None else k[1][: len(path)] == path)
            ]
            for k in doomed:
                del self._rows[k]
        return len(doomed)

    def scan_items(self, namespace: str, prefix: tuple[str, ...]) -> list[ItemRow]:
        with self._lock:
            found = [
                row
                for (ns, path, _), row in self._rows.items()
                if ns == namespace and path[: len(prefix)] == prefix
            ]
        return sorted(found, key=lambda row: (row.path, row.key))

    def item_paths(self, namespace: str) -> list[tuple[str, ...]]:
        with self._lock:
            return sorted({path for ns, path, _ in self._rows if ns == namespace})
