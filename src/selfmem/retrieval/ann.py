"""An optional approximate nearest-neighbour index (usearch HNSW, extra ``[ann]``).

Exact search over a float32 matrix costs about 0.1 ms per 1,000 vectors; above
``ann_threshold`` vectors the retrieval engine builds an HNSW index in a background thread and
asks it for the top candidates instead. Until the index is ready, search stays exact. Without
``usearch`` installed, search is always exact.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["AnnIndex", "ann_available"]

logger = logging.getLogger(__name__)


def ann_available() -> bool:
    try:
        import usearch.index  # noqa: F401
    except ImportError:
        return False
    return True


class AnnIndex:
    """HNSW over row numbers of an :class:`~selfmem.retrieval.index.EpisodeIndex`."""

    def __init__(self, dim: int) -> None:
        from usearch.index import Index

        self._index: Any = Index(ndim=dim, metric="ip", dtype="f16")
        self._lock = threading.Lock()
        self.ready = False
        self.rows = 0

    def build_from(self, vectors: npt.NDArray[np.float32], rows: npt.NDArray[np.int64]) -> None:
        """Add ``vectors`` (one per row, run in a background thread); then mark ready."""
        if len(rows):
            with self._lock:
                self._index.add(rows, vectors, threads=1)
                self.rows = max(self.rows, int(rows.max()) + 1)
        self.ready = True
        logger.info("HNSW index ready over %d vectors", len(rows))

    def add(self, row: int, vector: npt.NDArray[np.float32]) -> None:
        with self._lock:
            self._index.add(row, vector)
            self.rows = max(self.rows, row + 1)

    def remove(self, row: int) -> None:
        with self._lock:
            if self._index.contains(row):
                self._index.remove(row)

    def search(
        self, query: npt.NDArray[np.float32], k: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Rows and inner products of the ``k`` nearest vectors."""
        with self._lock:
            matches = self._index.search(query, k)
        return (
            np.asarray(matches.keys, dtype=np.int64),
            (1.0 - np.asarray(matches.distances, dtype=np.float32)),
        )
