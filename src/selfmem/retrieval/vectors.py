"""The vectors of an index's rows, kept once: a float32 matrix, or the HNSW graph's copy.

Below ``ann_threshold`` (and while an HNSW graph is being built) vectors live in a float32
matrix that exact search multiplies. Once a graph holds them and is ready, the matrix is
dropped and the few rows ranking reads (a candidate pool, the picks to diversify) are read
back from the graph (``f16`` by default: within about 1e-3 of the float32 values). At
100,000 MiniLM vectors that saves the ~200 MB the matrix took beside the graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .ann import AnnIndex

__all__ = ["RowVectors"]

F32 = npt.NDArray[np.float32]


class RowVectors:
    """Indexed like a ``(capacity, dim)`` float32 matrix: ``v[row]``, ``v[rows]``, ``v[a:b]``."""

    def __init__(self, capacity: int, dim: int) -> None:
        self._matrix: F32 | None = np.zeros((capacity, dim), dtype=np.float32)
        self._capacity = capacity
        self._dim = dim
        self._ann: AnnIndex | None = None
        # The first rows, given whole to a fresh matrix (an index restored from a snapshot)
        # and not copied until something reads or writes them: a saved graph read next
        # makes the copy needless (it took ~0.8 s and 200 MB at 100,000 vectors).
        self._first: F32 | None = None
        self._touched = False

    @property
    def shape(self) -> tuple[int, int]:
        return (self._capacity, self._dim)

    @property
    def in_matrix(self) -> bool:
        """True while the vectors are held in a float32 matrix (no ready graph yet)."""
        self._settle()
        return self._matrix is not None or self._first is not None

    def use(self, ann: AnnIndex) -> None:
        """Read vectors from ``ann`` once it is ready (the matrix is dropped then)."""
        self._ann = ann
        self._settle()

    def _settle(self) -> None:
        if self._ann is not None and self._ann.ready:
            self._matrix = self._first = None
        elif self._first is not None and self._matrix is not None:
            self._matrix[: len(self._first)] = self._first
            self._first = None

    def grow(self, capacity: int, size: int) -> None:
        """Room for ``capacity`` rows, keeping the first ``size``."""
        self._settle()
        self._touched = True
        if self._matrix is not None:
            grown = np.zeros((capacity, self._dim), dtype=np.float32)
            grown[:size] = self._matrix[:size]
            self._matrix = grown
        self._capacity = capacity

    def __getitem__(self, key: Any) -> F32:
        self._settle()
        if self._matrix is not None:
            found: F32 = self._matrix[key]
            return found
        assert self._ann is not None
        if isinstance(key, int | np.integer):
            one: F32 = self._ann.vectors(np.asarray([int(key)], dtype=np.int64))[0]
            return one
        rows = np.arange(self._capacity)[key] if isinstance(key, slice) else np.asarray(key)
        return self._ann.vectors(rows.astype(np.int64))

    def _defer(self, key: Any, value: Any) -> bool:
        """Keep ``value`` as the first rows without copying, if it is all there is yet."""
        if self._touched or not isinstance(key, slice) or key.start or key.step:
            return False
        if not isinstance(value, np.ndarray) or value.dtype != np.float32 or value.ndim != 2:
            return False
        if value.shape[1] != self._dim or key.stop != len(value):
            return False
        if len(value) > self._capacity:
            return False
        self._first, self._touched = value, True
        return True

    def __setitem__(self, key: Any, value: Any) -> None:
        """Write into the matrix; once the graph holds the vectors, the index adds a new
        row's vector to the graph itself, so there is nothing to keep here."""
        if self._defer(key, value):
            return
        self._touched = True
        self._settle()
        if self._matrix is not None:
            self._matrix[key] = value
