"""Interning a categorical column's values (domain, language, tags...) as small integers."""

from __future__ import annotations

from array import array
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["NONE", "Codes", "group_rows"]

I32 = npt.NDArray[np.int32]
#: The code of "not set" in every categorical column.
NONE = 0


class Codes:
    """Interns the values of one categorical column as small integers (0 = unset)."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}

    def code(self, value: str | None) -> int:
        if value is None:
            return NONE
        found = self._codes.get(value)
        if found is None:
            found = self._codes[value] = len(self._codes) + 1
        return found

    def codes(self, values: Sequence[str | None]) -> I32:
        """The codes of many values (new ones interned), as one array."""
        distinct = dict.fromkeys(values, NONE)
        for value in distinct:
            distinct[value] = self.code(value)
        return np.fromiter(map(distinct.__getitem__, values), dtype=np.int32, count=len(values))

    def lookup(self, value: str | None) -> int | None:
        """The code of a value, or None if no row has it (``NONE`` for None)."""
        return NONE if value is None else self._codes.get(value)

    def export(self, column: I32) -> tuple[list[str], I32]:
        """The values ``column`` uses and the column recoded to them (nothing of others)."""
        values = list(self._codes)  # codes are given in insertion order, from 1
        used, recoded = np.unique(np.concatenate([[NONE], column]), return_inverse=True)
        return [values[c - 1] for c in used.tolist() if c != NONE], recoded[1:].astype(np.int32)

    @classmethod
    def restore(cls, values: Sequence[str]) -> Codes:
        codes = cls()
        codes._codes = {value: i + 1 for i, value in enumerate(values)}
        return codes


def group_rows(codes: I32, rows: I32) -> dict[int, array[int]]:
    """Rows grouped by code (rows in their given order within a code), one array each."""
    if len(codes) == 0:
        return {}
    order = np.argsort(codes, kind="stable")
    keys, starts = np.unique(codes[order], return_index=True)
    grouped: dict[int, array[int]] = {}
    for key, part in zip(keys.tolist(), np.split(rows[order], starts[1:]), strict=True):
        grouped[key] = array("i")
        grouped[key].frombytes(part.astype(np.int32).tobytes())
    return grouped
