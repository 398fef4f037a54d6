"""Pure logic behind item search: which text is indexed, filters, and ranking by a query.

No I/O here. ``searchable_text`` picks the text of an item to index, ``matches`` applies a
filter, and ``rank_items`` orders stored rows by BM25 over their text, or by cosine
similarity when an embedder is in use.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InvalidInputError
from ..storage.base import ItemRow
from ..text.tokens import query_terms, tokenize

__all__ = ["OPERATORS", "check_filter", "matches", "rank_lexical", "searchable_text"]

_PATH = re.compile(r"[^.\[\]]+(?:\.[^.\[\]]+|\[(?:\*|-?\d+)\])*")
_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\*|-?\d+)\]")


def _strings(value: Any) -> list[str]:
    """Every string leaf of a JSON-like value, in order."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _strings(item)]
    return [str(value)] if isinstance(value, int | float) and not isinstance(value, bool) else []


def _select(value: Any, segments: Sequence[str]) -> list[Any]:
    if not segments:
        return [value]
    head, rest = segments[0], segments[1:]
    if head == "[*]":
        items = value if isinstance(value, list) else []
        return [found for item in items for found in _select(item, rest)]
    if head.startswith("["):
        index = int(head[1:-1])
        if isinstance(value, list) and -len(value) <= index < len(value):
            return _select(value[index], rest)
        return []
    if isinstance(value, Mapping) and head in value:
        return _select(value[head], rest)
    return []


def _segments(field: str) -> list[str]:
    if not _PATH.fullmatch(field):
        raise InvalidInputError(
            f"index field {field!r} is not a path like 'text', 'meta.title' or 'parts[*].text'",
            field="index",
        )
    return [m.group(1) or f"[{m.group(2)}]" for m in _SEGMENT.finditer(field)]


def searchable_text(value: Mapping[str, Any], fields: Sequence[str] | None) -> str:
    """The text of ``value`` a query is matched against: all of it, or the named fields.

    Field paths use dots for keys and ``[*]`` / ``[n]`` for list items.
    """
    if fields is None:
        return "\n".join(_strings(value))
    found: list[str] = []
    for field in fields:
        for item in _select(value, _segments(field)):
            found.extend(_strings(item))
    return "\n".join(found)


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "$eq":
        return bool(actual == expected)
    if op == "$ne":
        return bool(actual != expected)
    try:
        if op == "$gt":
            return bool(actual > expected)
        if op == "$gte":
            return bool(actual >= expected)
        if op == "$lt":
            return bool(actual < expected)
        return bool(actual <= expected)
    except TypeError:  # None or mismatched types never satisfy an ordering
        return False


#: Filter operators: ``{"field": {"$gt": 3}}``. A bare value means ``$eq``.
OPERATORS = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"})


def check_filter(filter: Mapping[str, Any] | None) -> None:
    """Reject unknown operators up front, naming them."""
    for field, condition in (filter or {}).items():
        if isinstance(condition, Mapping):
            unknown = set(condition) - OPERATORS
            if unknown:
                raise InvalidInputError(
                    f"unknown filter operator(s) {sorted(unknown)} on {field!r}; "
                    f"use {sorted(OPERATORS)}",
                    field="filter",
                )


def matches(value: Mapping[str, Any], filter: Mapping[str, Any] | None) -> bool:
    """True when every condition of ``filter`` holds for the item's ``value``."""
    for field, condition in (filter or {}).items():
        present = field in value
        actual = value.get(field)
        if isinstance(condition, Mapping):
            for op, expected in condition.items():
                if op != "$ne" and not present:
                    return False
                if not _compare(op, actual, expected):
                    return False
        elif not present or actual != condition:
            return False
    return True


def rank_lexical(query: str, rows: Sequence[ItemRow]) -> list[tuple[ItemRow, float]]:
    """Rows whose text shares a term with ``query``, by Okapi BM25 (k1 1.2, b 0.75)."""
    terms = query_terms(query)
    docs = [(row, Counter(tokenize(row.search_text or ""))) for row in rows if row.search_text]
    if not terms or not docs:
        return []
    average = sum(sum(counts.values()) for _, counts in docs) / len(docs) or 1.0
    frequency = {t: sum(1 for _, counts in docs if t in counts) for t in terms}
    scored: list[tuple[ItemRow, float]] = []
    for row, counts in docs:
        length = sum(counts.values())
        score = 0.0
        for term in terms:
            tf = counts.get(term, 0)
            if tf:
                idf = math.log(1 + (len(docs) - frequency[term] + 0.5) / (frequency[term] + 0.5))
                score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / average))
        if score > 0:
            scored.append((row, score))
    return scored
