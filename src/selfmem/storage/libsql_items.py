"""Key-value items in libSQL: the ``items`` table behind :class:`~selfmem.storage.base.ItemStore`.

Deleting items checkpoints the WAL of an embedded file (unless ``scrub_on_delete`` is
off), so their text is not left in ``-wal``; ``secure_delete`` zeroes it in the database.

An item's path of labels is stored joined by U+001F (labels may not contain control
characters), so "everything under a prefix" is one range scan of the primary key.
"""

from __future__ import annotations

from typing import Any

from .base import ItemRow
from .libsql_connection import LibSQLConnection, SizedRead

__all__ = ["LibSQLItems", "join_path", "split_path"]

_SEP = "\x1f"
_AFTER_SEP = "\x20"  # the character after U+001F: the exclusive end of a prefix range
_COLUMNS = "path, key, value, search_text, vector, model, created_at, updated_at"
# what a row carries, for reading items in pages bounded by size
_SIZE = (
    "octet_length(value) + coalesce(octet_length(search_text), 0) "
    "+ coalesce(length(vector), 0) + octet_length(path) + octet_length(key)"
)


def join_path(path: tuple[str, ...]) -> str:
    return _SEP.join(path)


def split_path(joined: str) -> tuple[str, ...]:
    return tuple(joined.split(_SEP)) if joined else ()


def _row(raw: tuple[Any, ...]) -> ItemRow:
    path, key, value, text, vector, model, created, updated = raw
    return ItemRow(
        split_path(path), key, value, text, bytes(vector) if vector is not None else None,
        model, float(created), float(updated),
    )  # fmt: skip


def _under(prefix: tuple[str, ...]) -> tuple[str, list[Any]]:
    """A WHERE fragment matching paths equal to ``prefix`` or below it."""
    if not prefix:
        return "", []
    joined = join_path(prefix)
    return " AND (path = ? OR (path >= ? AND path < ?))", [
        joined, joined + _SEP, joined + _AFTER_SEP,
    ]  # fmt: skip


class LibSQLItems:
    """The :class:`~selfmem.storage.base.ItemStore` on a libSQL store's connection."""

    def __init__(self, store: LibSQLConnection, *, scrub_on_delete: bool = True) -> None:
        self._store = store
        self._scrub = scrub_on_delete

    def put_item(self, namespace: str, row: ItemRow) -> ItemRow:
        # one statement: atomic in autocommit, one round trip to a server
        found = self._store._run(
            f"INSERT INTO items (namespace, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (namespace, path, key) DO UPDATE SET value = excluded.value, "
            "search_text = excluded.search_text, vector = excluded.vector, "
            "model = excluded.model, updated_at = excluded.updated_at "
            "RETURNING created_at",
            (
                namespace, join_path(row.path), row.key, row.value, row.search_text,
                row.vector, row.model, row.created_at, row.updated_at,
            ),
        )  # fmt: skip
        created = float(found[0][0]) if found else row.created_at
        return ItemRow(
            row.path, row.key, row.value, row.search_text, row.vector, row.model,
            created, row.updated_at,
        )  # fmt: skip

    def get_item(self, namespace: str, path: tuple[str, ...], key: str) -> ItemRow | None:
        rows = self._store._run(
            f"SELECT {_COLUMNS} FROM items WHERE namespace = ? AND path = ? AND key = ?",
            (namespace, join_path(path), key),
        )
        return _row(rows[0]) if rows else None

    def delete_items(self, namespace: str, path: tuple[str, ...], key: str | None) -> int:
        if key is not None:
            where, params = " AND path = ? AND key = ?", [join_path(path), key]
        else:
            where, params = _under(path)
        deleted = self._store._run(
            f"DELETE FROM items WHERE namespace = ?{where} RETURNING key", (namespace, *params)
        )
        if deleted and self._scrub:
            self._store.checkpoint()  # no byte of the deleted items left in the WAL
        return len(deleted)

    def scan_items(self, namespace: str, prefix: tuple[str, ...]) -> list[ItemRow]:
        where, params = _under(prefix)
        read = SizedRead(
            "items", tuple(_COLUMNS.split(", ")), ("namespace", "path", "key"), _SIZE,
            f"namespace = ?{where}", (namespace, *params),
        )  # fmt: skip
        return [_row(raw) for raw in self._store._paged(read)]

    def item_paths(self, namespace: str) -> list[tuple[str, ...]]:
        rows = self._store._run(
            "SELECT DISTINCT path FROM items WHERE namespace = ? ORDER BY path", (namespace,)
        )
        return [split_path(raw[0]) for raw in rows]
