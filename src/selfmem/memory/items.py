"""Items: durable JSON documents beside the episodes, addressed by a path of labels and a key.

They hold what an agent framework wants to keep next to its experience: long-term facts
and preferences (a LangGraph store), conversation history, notes. Items live in the same
store as the episodes and are scoped by the handle's namespace; secrets are redacted
before storage like everything else. A query ranks items by meaning when the memory has an
embedder, by BM25 otherwise.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from ..engine.item_search import check_filter, matches, rank_lexical, searchable_text
from ..engine.runtime import twin
from ..errors import InvalidInputError, LimitExceededError
from ..records.items import Item
from ..security.redaction import redact_text, redact_value
from ..security.values import check_text, json_value, show
from ..storage.base import ItemRow
from .handle import Handle

__all__ = ["ItemsAPI"]

_MAX_LABELS = 16
_MAX_LABEL_CHARS = 256
_MAX_KEY_CHARS = 512
_MAX_PAGE = 1_000


def _label_ok(label: Any) -> bool:
    return (
        isinstance(label, str)
        and 0 < len(label) <= _MAX_LABEL_CHARS
        and not any(ord(ch) < 0x20 for ch in label)
    )


def _labels(labels: Any, field: str) -> tuple[str, ...]:
    """A sequence of labels (not a string), at most 16."""
    if isinstance(labels, str | bytes) or not isinstance(labels, Sequence):
        raise InvalidInputError(
            f"{field} is a tuple of labels, e.g. ('users', 'alice')", field=field
        )
    path = tuple(labels)
    if len(path) > _MAX_LABELS:
        raise LimitExceededError(field, _MAX_LABELS, len(path), unit="labels")
    for label in path:
        if not _label_ok(label):
            raise InvalidInputError(
                f"{field} label {show(label)} must be a non-empty string of at most "
                f"{_MAX_LABEL_CHARS} characters without control characters",
                field=field,
            )
        check_text(label, f"{field} label")
    return path


def _path(namespace: Any, *, allow_empty: bool = False) -> tuple[str, ...]:
    path = _labels(namespace, "namespace")
    if not path and not allow_empty:
        raise InvalidInputError("an item namespace needs at least one label", field="namespace")
    return path


def _key(key: Any) -> str:
    if not isinstance(key, str) or not key or len(key) > _MAX_KEY_CHARS:
        raise InvalidInputError(
            f"an item key must be a non-empty string of at most {_MAX_KEY_CHARS} characters",
            field="key",
        )
    return check_text(key, "key")


def _no_secret(text: str, field: str) -> None:
    """Keys and labels address an item, so a secret in one cannot be redacted (the item
    could not be found again): it is refused instead."""
    if redact_text(text) != text:
        raise InvalidInputError(
            f"{field} looks like it holds a secret, and {field}s are stored as given; "
            "use another name (or turn redact_secrets off)",
            field=field,
        )


def _int(value: Any, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInputError(f"{field} must be an integer", field=field)
    return value


def _page(limit: Any, offset: Any) -> None:
    if not 1 <= _int(limit, "limit") <= _MAX_PAGE:
        raise InvalidInputError(f"limit must be between 1 and {_MAX_PAGE}", field="limit")
    if _int(offset, "offset") < 0:
        raise InvalidInputError("offset must be >= 0", field="offset")


def _index(index: Any) -> list[str] | None:
    if index is None:
        return None
    if isinstance(index, str | bytes) or not isinstance(index, Sequence):
        raise InvalidInputError("index is a list of field paths, or None, or False", field="index")
    fields = list(index)
    if not all(isinstance(field, str) for field in fields):
        raise InvalidInputError("index is a list of field paths (strings)", field="index")
    for field in fields:
        check_text(field, "index")
    return fields


def _matches_pattern(labels: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    return len(labels) >= len(pattern) and all(
        want in ("*", got) for want, got in zip(pattern, labels, strict=False)
    )


def _item(row: ItemRow, score: float | None = None) -> Item:
    return Item(
        namespace=row.path,
        key=row.key,
        value=json.loads(row.value),
        created_at=datetime.fromtimestamp(row.created_at, UTC),
        updated_at=datetime.fromtimestamp(row.updated_at, UTC),
        score=score,
    )


class ItemsAPI(Handle):
    """Key-value documents: put, get, delete, search and list namespaces."""

    def put_item(
        self,
        namespace: Sequence[str],
        key: str,
        value: Mapping[str, Any],
        *,
        index: Sequence[str] | Literal[False] | None = None,
    ) -> Item:
        """Store ``value`` (a JSON object) under ``namespace`` and ``key``, replacing any item.

        ``index`` picks the text a query search matches: ``None`` all string content,
        a list of field paths (``"text"``, ``"meta.title"``, ``"parts[*].text"``) only those,
        ``False`` none (the item is still found by listing and filters).
        """
        self._check_open()
        path, key = _path(namespace), _key(key)
        limits, redact = self.config.limits, self.config.redact_secrets
        if redact:
            for label in path:
                _no_secret(label, "namespace label")
            _no_secret(key, "key")
        if not isinstance(value, Mapping):
            raise InvalidInputError("an item value must be a JSON object (a dict)", field="value")
        fields = None if index is False else _index(index)
        # lone surrogates are refused: an item has no metadata to note a replacement in
        stored, _ = json_value(value, "value", max_depth=limits.max_json_depth, replace=False)
        encoded = json.dumps(stored, ensure_ascii=False)
        if len(encoded.encode()) > limits.max_item_bytes:
            raise LimitExceededError(
                "value", limits.max_item_bytes, len(encoded.encode()), unit="bytes"
            )
        if redact:
            stored = redact_value(stored)
            encoded = json.dumps(stored, ensure_ascii=False)
        text = None if index is False else (searchable_text(stored, fields) or None)
        vector, model = self._item_vector(text)
        now = time.time()
        row = ItemRow(path, key, encoded, text, vector, model, now, now)
        return _item(self._core.store.items.put_item(self.namespace, row))

    def _item_vector(self, text: str | None) -> tuple[bytes | None, str | None]:
        embedder = self._core.retrieval.embedder
        if text is None or embedder is None:
            return None, None
        return embedder.embed([text])[0].astype("<f4").tobytes(), embedder.model_id

    def get_item(self, namespace: Sequence[str], key: str) -> Item | None:
        """The item at ``namespace`` / ``key``, or None."""
        self._check_open()
        row = self._core.store.items.get_item(self.namespace, _path(namespace), _key(key))
        return _item(row) if row is not None else None

    def delete_item(self, namespace: Sequence[str], key: str) -> bool:
        """Delete one item; False if it did not exist."""
        self._check_open()
        return self._core.store.items.delete_items(self.namespace, _path(namespace), _key(key)) > 0

    def delete_items(self, namespace_prefix: Sequence[str]) -> int:
        """Delete every item at or under ``namespace_prefix``; returns how many."""
        self._check_open()
        return self._core.store.items.delete_items(self.namespace, _path(namespace_prefix), None)

    def search_items(
        self,
        namespace_prefix: Sequence[str] = (),
        *,
        query: str | None = None,
        filter: Mapping[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[Item]:
        """Items at or under ``namespace_prefix`` that pass ``filter``.

        ``filter`` holds conditions on top-level fields: ``{"status": "done"}`` or
        ``{"score": {"$gte": 0.5}}`` (``$eq $ne $gt $gte $lt $lte``). Without ``query``
        items come ordered by namespace and key; with one, most relevant first and each
        with a ``score`` (cosine similarity with an embedder, BM25 otherwise).
        """
        self._check_open()
        prefix = _path(namespace_prefix, allow_empty=True)
        _page(limit, offset)
        if filter is not None and not isinstance(filter, Mapping):
            raise InvalidInputError(
                "filter is a mapping of field to value or {operator: value}", field="filter"
            )
        if query is not None and not isinstance(query, str):
            raise InvalidInputError("query must be a string", field="query")
        check_filter(filter)
        rows = [
            row
            for row in self._core.store.items.scan_items(self.namespace, prefix)
            if matches(json.loads(row.value), filter)
        ]
        if query is None or not query.strip():
            return [_item(row) for row in rows[offset : offset + limit]]
        ranked = self._rank_items(query, rows)
        return [_item(row, score) for row, score in ranked[offset : offset + limit]]

    def _rank_items(self, query: str, rows: list[ItemRow]) -> list[tuple[ItemRow, float]]:
        engine = self._core.retrieval
        vector = engine.query_vector(query)
        if vector is None or engine.embedder is None:
            scored = rank_lexical(query, rows)
        else:
            import numpy as np

            model = engine.embedder.model_id
            with_vectors = [row for row in rows if row.vector is not None and row.model == model]
            if with_vectors:
                matrix = np.frombuffer(b"".join(r.vector or b"" for r in with_vectors), "<f4")
                sims = matrix.reshape(len(with_vectors), -1) @ vector
                scored = [(row, float(sim)) for row, sim in zip(with_vectors, sims, strict=True)]
            else:
                scored = []
        return sorted(scored, key=lambda pair: -pair[1])

    def list_item_namespaces(
        self,
        *,
        prefix: Sequence[str] = (),
        suffix: Sequence[str] = (),
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        """Namespaces holding items, sorted; ``"*"`` in ``prefix`` / ``suffix`` matches any label.

        ``max_depth`` truncates longer namespaces to that many labels (deduplicated).
        """
        self._check_open()
        _page(limit, offset)
        if max_depth is not None and _int(max_depth, "max_depth") < 1:
            raise InvalidInputError("max_depth must be >= 1", field="max_depth")
        want_prefix, want_suffix = _labels(prefix, "prefix"), _labels(suffix, "suffix")
        found: set[tuple[str, ...]] = set()
        for path in self._core.store.items.item_paths(self.namespace):
            if not _matches_pattern(path, want_prefix):
                continue
            if want_suffix and not _matches_pattern(path[::-1], want_suffix[::-1]):
                continue
            found.add(path[:max_depth] if max_depth is not None else path)
        return sorted(found)[offset : offset + limit]

    aput_item = twin(put_item)
    aget_item = twin(get_item)
    adelete_item = twin(delete_item)
    adelete_items = twin(delete_items)
    asearch_items = twin(search_items)
    alist_item_namespaces = twin(list_item_namespaces)
