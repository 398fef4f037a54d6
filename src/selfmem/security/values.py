"""Values that can always be serialised and stored: text, identifiers and JSON documents.

Whatever the boundary accepts must survive ``model_dump_json`` and the store, or it poisons
later writes. Three things do not:

* **lone surrogates** (``os.fsdecode(b"report-\\xff.txt")`` gives ``"report-\\udcff.txt"``):
  not valid Unicode, so UTF-8 cannot encode them. Free text (tool output, descriptions,
  parameters) gets U+FFFD instead and the record notes the field under
  ``metadata["replaced_surrogates"]``; identifiers (ids, namespaces, tool names, tags, item
  keys) are rejected, because a changed identifier would address something else.
* **numbers JSON or SQLite cannot hold**: NaN and infinities, integers outside the signed
  64-bit range (SQLite stores ``2**63`` as a REAL, so ``2**63`` and ``2**63 + 1`` collide).
* **structures**: nesting deeper than ``Limits.max_json_depth``, cycles, and objects that are
  not JSON (``{"f": object()}``). A few well-known scalars (dates, decimals, UUIDs, paths)
  become their string form, sets become lists, numpy values their Python equivalents;
  anything else is rejected.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import math
import numbers
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from ..errors import InvalidInputError, LimitExceededError

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "REPLACED_KEY",
    "check_identifier",
    "check_int",
    "check_text",
    "clean_text",
    "has_surrogate",
    "json_value",
    "replace_surrogates",
    "show",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: The metadata key listing the fields whose lone surrogates were replaced with U+FFFD.
REPLACED_KEY = "replaced_surrogates"

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_AS_STRING = (dt.date, dt.time, dt.timedelta, decimal.Decimal, uuid.UUID, PurePath)


def show(value: Any, limit: int = 60) -> str:
    """``value`` for an error message: ``repr`` (which escapes lone surrogates), cut short."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}…"


def has_surrogate(text: str) -> bool:
    return not text.isascii() and _SURROGATE.search(text) is not None


def replace_surrogates(text: str) -> str:
    """Join surrogate pairs split over two code points; lone surrogates become U+FFFD."""
    joined = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return _SURROGATE.sub("\ufffd", joined)


def clean_text(text: str, field: str, replaced: list[str]) -> str:
    """``text`` with lone surrogates replaced; ``field`` is added to ``replaced`` if any were."""
    if not has_surrogate(text):
        return text
    if field not in replaced:
        replaced.append(field)
    return replace_surrogates(text)


def check_text(text: str, field: str) -> str:
    """Reject text holding a lone surrogate (identifiers, names, labels)."""
    if has_surrogate(text):
        found = _SURROGATE.search(text)
        assert found is not None
        raise InvalidInputError(
            f"{field} holds a lone surrogate (U+{ord(found.group()):04X} at position "
            f"{found.start()}), which is not valid Unicode; decode it with errors='replace'",
            field=field,
        )
    return text


def check_identifier(value: Any, field: str, max_chars: int) -> str:
    """A non-empty string of at most ``max_chars`` characters, valid Unicode, no control
    characters: ids, namespaces and keys."""
    if not isinstance(value, str) or not value:
        raise InvalidInputError(
            f"{field} must be a non-empty string of at most {max_chars} characters", field=field
        )
    if len(value) > max_chars:
        raise LimitExceededError(field, max_chars, len(value))
    check_text(value, field)
    if _CONTROL.search(value):
        raise InvalidInputError(f"{field} must not hold control characters", field=field)
    return value


def check_int(value: int, field: str, minimum: int = INT64_MIN, maximum: int = INT64_MAX) -> int:
    """An integer from ``minimum`` to ``maximum`` (by default the signed 64-bit range that
    SQLite stores exactly)."""
    if not minimum <= value <= maximum:
        raise InvalidInputError(
            f"{field} must be an integer from {minimum} to {maximum}", field=field
        )
    return value


@dataclass(slots=True)
class _Walk:
    field: str
    max_depth: int
    replace: bool  # lone surrogates: replace (True) or reject (False)
    replaced: bool = False

    def fail(self, where: str, what: str) -> InvalidInputError:
        return InvalidInputError(f"{where} {what}", field=self.field)

    def text(self, value: str, where: str) -> str:
        if not has_surrogate(value):
            return value
        if not self.replace:
            raise self.fail(where, "holds a lone surrogate, which is not valid Unicode; "
                                   "decode it with errors='replace'")  # fmt: skip
        self.replaced = True
        return replace_surrogates(value)

    def integer(self, value: int, where: str) -> int:
        if not INT64_MIN <= value <= INT64_MAX:
            raise self.fail(where, f"is outside the signed 64-bit range ({INT64_MIN} to "
                                   f"{INT64_MAX}) that SQLite and JSON readers hold")  # fmt: skip
        return value

    def key(self, key: Any, where: str) -> str:
        if isinstance(key, str):
            return self.text(str.__str__(key), f"a key of {where}")
        if key is None or isinstance(key, bool | int | float):  # as json.dumps does
            if isinstance(key, int) and not isinstance(key, bool):
                self.integer(key, f"a key of {where}")
            return json.dumps(key)
        raise self.fail(where, f"has a key {show(key)} of type {type(key).__name__}; "
                               "JSON keys are strings")  # fmt: skip

    def value(self, value: Any, where: str, depth: int, active: set[int]) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str):
            return self.text(str.__str__(value), where)
        if isinstance(value, int):
            return self.integer(int(value), where)
        if isinstance(value, float):
            return self.number(float(value), where)
        if isinstance(value, Mapping | list | tuple | set | frozenset):
            return self.container(value, where, depth, active)
        return self.scalar(value, where, depth, active)

    def number(self, value: float, where: str) -> float:
        if not math.isfinite(value):
            raise self.fail(where, f"is {value}, which is not JSON-serializable (JSON numbers "
                                   "are finite)")  # fmt: skip
        return value

    def scalar(self, value: Any, where: str, depth: int, active: set[int]) -> Any:
        if isinstance(value, enum.Enum):
            return self.value(value.value, where, depth, active)
        if hasattr(value, "dtype") and callable(getattr(value, "tolist", None)):
            return self.value(value.tolist(), where, depth, active)  # numpy scalars, arrays
        if isinstance(value, numbers.Integral):
            return self.integer(int(value), where)
        if isinstance(value, numbers.Real):
            return self.number(float(value), where)
        if isinstance(value, _AS_STRING):
            return self.text(str(value), where)
        kind = type(value).__name__
        raise self.fail(where, f"is of type {kind}, which is not JSON-serializable (use "
                               "strings, numbers, booleans, None, lists and dicts)")  # fmt: skip

    def container(self, value: Any, where: str, depth: int, active: set[int]) -> Any:
        if depth >= self.max_depth:
            raise self.fail(self.field, f"is nested deeper than the limit of {self.max_depth} "
                                        "levels")  # fmt: skip
        if id(value) in active:
            raise self.fail(where, "contains itself (a circular reference); it is not "
                                   "JSON-serializable")  # fmt: skip
        active.add(id(value))
        try:
            if isinstance(value, Mapping):
                out: dict[str, Any] = {}
                for key, item in value.items():
                    name = self.key(key, where)
                    out[name] = self.value(item, f"{where}[{show(name, 40)}]", depth + 1, active)
                return out
            items = value
            if isinstance(value, set | frozenset):
                try:
                    items = sorted(value)
                except TypeError:
                    items = list(value)
            return [
                self.value(item, f"{where}[{index}]", depth + 1, active)
                for index, item in enumerate(items)
            ]
        finally:
            active.discard(id(value))


def json_value(value: Any, field: str, *, max_depth: int, replace: bool) -> tuple[Any, bool]:
    """A copy of ``value`` that JSON and the store can hold, and whether lone surrogates were
    replaced (with ``replace=False`` they are rejected instead).

    Raises :class:`InvalidInputError` naming ``field`` and saying where inside it the
    problem is: an object that is not JSON, a circular reference, a number out of range,
    nesting deeper than ``max_depth``.
    """
    walk = _Walk(field, max_depth, replace)
    return walk.value(value, field, 0, set()), walk.replaced
