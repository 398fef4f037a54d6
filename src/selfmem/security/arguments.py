"""Checks of plain arguments: ids, namespaces, counts, and types nothing else checks.

Each returns the value or raises :class:`~selfmem.errors.InvalidInputError` naming the
field and what it must be, so a wrong type never escapes as a ``TypeError`` or an
``AttributeError`` from deep inside.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInputError
from .values import check_identifier

__all__ = [
    "MAX_IDS",
    "MAX_ID_CHARS",
    "check_count",
    "check_id",
    "check_ids",
    "check_namespace",
    "expect",
]

#: The longest episode id, pattern id or namespace.
MAX_ID_CHARS = 128
#: Ids one call takes in a list (pattern ids, heuristic ids, followed episodes).
MAX_IDS = 100


def check_id(value: Any, field: str = "episode_id") -> str:
    """An episode or pattern id: a non-empty string of at most 128 characters, valid
    Unicode, no control characters."""
    return check_identifier(value, field, MAX_ID_CHARS)


def check_namespace(namespace: Any) -> str:
    if not isinstance(namespace, str) or not namespace.strip():
        raise InvalidInputError("namespace must be a non-empty string", field="namespace")
    return check_identifier(namespace, "namespace", MAX_ID_CHARS)


def expect(value: Any, kind: type | tuple[type, ...], field: str) -> Any:
    """``value`` if it is a ``kind``, else ``InvalidInputError`` naming the field and the
    type expected (for arguments whose type nothing else checks)."""
    if isinstance(value, kind) and not (isinstance(value, bool) and bool not in _types(kind)):
        return value
    names = " or ".join(t.__name__ for t in _types(kind))
    raise InvalidInputError(f"{field} must be {names}, not {type(value).__name__}", field=field)


def _types(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def check_count(value: Any, field: str, minimum: int, maximum: int) -> int:
    """An integer (not a bool) from ``minimum`` to ``maximum``: limits, offsets, depths."""
    expect(value, int, field)
    if not minimum <= value <= maximum:
        raise InvalidInputError(f"{field} must be between {minimum} and {maximum}", field=field)
    return int(value)


def check_ids(values: Any, field: str, max_count: int = MAX_IDS) -> list[str]:
    """A list (or tuple) of at most ``max_count`` ids, each checked as :func:`check_id`
    checks one."""
    if isinstance(values, str | bytes) or not isinstance(values, list | tuple):
        raise InvalidInputError(f"{field} must be a list of ids", field=field)
    if len(values) > max_count:
        raise InvalidInputError(
            f"{field} holds {len(values)} ids; at most {max_count} per call", field=field
        )
    return [check_id(value, f"{field}[]") for value in values]
