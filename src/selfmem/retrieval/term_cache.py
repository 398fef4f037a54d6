"""What one state of the retrieval index saves queries: each recent query term's BM25
contribution to each of its rows, and the last query's scores.

A term's contribution per posting depends on the index as a whole (its idf, the average
length), so everything here holds for one state of the index and is dropped when it changes
(:meth:`TermCache.check`). Common terms come back query after query and their contributions
are most of a query's cost at a million rows; and a retrieval scores the same text twice (the
results, then the nearest runs that vote for a sequence).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import numpy.typing as npt

__all__ = ["TermCache"]

F32 = npt.NDArray[np.float32]


class TermCache:
    """Per-term contributions (least recently used out past ``max_bytes``) and the last
    query's scores (read-only), for one state of the index."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._state: object = None
        self._terms: OrderedDict[str, F32] = OrderedDict()
        self._bytes = 0
        self._last: tuple[str, F32] | None = None

    def check(self, state: object) -> None:
        """Drop everything unless the index is in the state it was when it was kept."""
        if state != self._state:
            self._state = state
            self._terms.clear()
            self._bytes = 0
            self._last = None

    def scores(self, text: str) -> F32 | None:
        last = self._last
        return last[1] if last is not None and last[0] == text else None

    def keep_scores(self, text: str, scores: F32) -> F32:
        scores.flags.writeable = False
        self._last = (text, scores)
        return scores

    def impacts(self, term: str) -> F32 | None:
        found = self._terms.get(term)
        if found is not None:
            self._terms.move_to_end(term)
        return found

    def keep_impacts(self, term: str, impacts: F32) -> None:
        self._terms[term] = impacts
        self._bytes += impacts.nbytes
        while self._bytes > self._max_bytes and len(self._terms) > 1:
            self._bytes -= self._terms.popitem(last=False)[1].nbytes
