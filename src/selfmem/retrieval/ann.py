"""An optional approximate nearest-neighbour index (usearch HNSW, extra ``[ann]``).

Exact search over a float32 matrix costs about 0.1 ms per 1,000 vectors; above
``ann_threshold`` vectors the retrieval engine builds an HNSW index in a background thread and
asks it for the top candidates instead. Until the index is ready, search stays exact, and
vectors that arrive during the build wait in a list instead of blocking the caller. Without
``usearch`` installed, search is always exact.

Parameters (connectivity 32, 200 candidates while adding, 400 while searching) were chosen on
100,000 real MiniLM vectors of the retrieval benchmark: 98.6% of the exact top 50 appear in
the 800 rows a query asks for, in about 2 ms; the defaults (16 / 128 / 64) gave 97.4% with
single queries down to 60%, and took longer to build.

Vectors are stored as ``f16`` (:data:`DEFAULT_DTYPE`): on MiniLM vectors it finds the same
neighbours as ``f32`` (recall against exact search within 0.001, ``benchmarks/bench_vectors.py``)
in half the memory; ``i8`` halves it again at a measurable cost in recall.

The usearch keys are *slots*, not the caller's rows: an index saved by one process
(:meth:`export`) and restored by another (:meth:`restore`) keeps its keys while the rows of
the episodes are renumbered, so the index translates slots to rows on every answer.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["DEFAULT_DTYPE", "AnnIndex", "ann_available"]

logger = logging.getLogger(__name__)

#: How vectors are stored in the graph (see the module docstring for why).
DEFAULT_DTYPE = "f16"
_CONNECTIVITY = 32
_EXPANSION_ADD = 200
_EXPANSION_SEARCH = 400


def ann_available() -> bool:
    try:
        import usearch.index  # noqa: F401
    except ImportError:
        return False
    return True


def _new_index(dim: int, dtype: str) -> Any:
    from usearch.index import Index

    return Index(
        ndim=dim,
        metric="ip",
        dtype=dtype,
        connectivity=_CONNECTIVITY,
        expansion_add=_EXPANSION_ADD,
        expansion_search=_EXPANSION_SEARCH,
    )


class AnnIndex:
    """HNSW over row numbers of an :class:`~selfmem.retrieval.index.EpisodeIndex`.

    ``built`` is True when the graph was built here (not restored from a saved copy);
    ``removals`` counts rows removed since it was built or restored: a graph keeps a removed
    vector's bytes, so one with removals must not be saved.
    """

    def __init__(self, dim: int, dtype: str = DEFAULT_DTYPE) -> None:
        self.dim = dim
        self.dtype = dtype
        self._index: Any = _new_index(dim, dtype)
        self._lock = threading.Lock()
        self._pending_lock = threading.Lock()
        self._pending: list[tuple[int, npt.NDArray[np.float32] | None]] = []
        self._row_of_slot = np.zeros(0, dtype=np.int64)  # -1: slot removed or unused
        self._slots = 0
        self._slot_of_row = np.zeros(0, dtype=np.int64)  # -1: the row has no vector here
        self.ready = False
        self.built = True
        self.removals = 0
        self.changes = 0
        #: The last search: (query bytes, k, changes then, rows, similarities). A retrieval
        #: ranks twice with one query vector (its results, then the runs that vote).
        self._last: tuple[bytes, int, int, npt.NDArray[np.int64], npt.NDArray[np.float32]] | None
        self._last = None
        #: What the last query's similarity to rows is known to be: (query bytes, changes
        #: then, rows ascending, similarities), from its search and the rows asked since.
        self._known: tuple[bytes, int, npt.NDArray[np.int64], npt.NDArray[np.float32]] | None
        self._known = None

    # -- slots ------------------------------------------------------------------------------

    def _new_slot(self, row: int) -> int:
        slot = self._slots
        if slot == len(self._row_of_slot):  # grow by doubling: appends stay O(1)
            grown = np.full(max(1_024, 2 * slot), -1, dtype=np.int64)
            grown[:slot] = self._row_of_slot
            self._row_of_slot = grown
        self._row_of_slot[slot] = row
        self._slots += 1
        self._set_slots(np.asarray([row], dtype=np.int64), np.asarray([slot], dtype=np.int64))
        return slot

    def _set_slots(self, rows: npt.NDArray[np.int64], slots: npt.NDArray[np.int64]) -> None:
        top = int(rows.max()) + 1 if len(rows) else 0
        if top > len(self._slot_of_row):
            grown = np.full(max(1_024, top, 2 * len(self._slot_of_row)), -1, dtype=np.int64)
            grown[: len(self._slot_of_row)] = self._slot_of_row
            self._slot_of_row = grown
        self._slot_of_row[rows] = slots

    def _slots_of(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        inside = (rows >= 0) & (rows < len(self._slot_of_row))
        found = np.full(len(rows), -1, dtype=np.int64)
        found[inside] = self._slot_of_row[rows[inside]]
        return found

    def rows(self) -> npt.NDArray[np.int64]:
        """The rows the graph holds a vector of."""
        with self._lock:
            return np.flatnonzero(self._slot_of_row >= 0).astype(np.int64)

    # -- building ---------------------------------------------------------------------------

    def build_from(self, vectors: npt.NDArray[np.float32], rows: npt.NDArray[np.int64]) -> None:
        """Add ``vectors`` (one per row, run in a background thread); then mark ready."""
        with self._lock:
            if len(rows):
                rows = np.asarray(rows, dtype=np.int64)
                start = self._slots
                slots = np.arange(start, start + len(rows), dtype=np.int64)
                self._row_of_slot = np.concatenate([self._row_of_slot[:start], rows])
                self._slots = len(self._row_of_slot)
                self._set_slots(rows, slots)
                self._index.add(slots, vectors, threads=1)
                self._last = None
            with self._pending_lock:
                for row, vector in self._pending:  # what arrived during the build, in order
                    self._apply(row, vector)
                self._pending.clear()
                self.ready = True
        logger.info("HNSW index ready over %d vectors", len(rows))

    def _apply(self, row: int, vector: npt.NDArray[np.float32] | None) -> None:
        slot = int(self._slots_of(np.asarray([row], dtype=np.int64))[0])
        if slot >= 0:
            self._slot_of_row[row] = -1
            self._index.remove(slot)
            self._row_of_slot[slot] = -1
            if vector is None:
                self.removals += 1
        if vector is not None:
            self._index.add(self._new_slot(row), vector)
        self.changes += 1

    def add(self, row: int, vector: npt.NDArray[np.float32]) -> None:
        """Add or replace a row's vector (queued while the index is being built)."""
        self._change(row, np.array(vector, dtype=np.float32))

    def remove(self, row: int) -> None:
        self._change(row, None)

    def _change(self, row: int, vector: npt.NDArray[np.float32] | None) -> None:
        if not self.ready:  # the build holds the lock for seconds: do not wait for it
            with self._pending_lock:
                if not self.ready:
                    self._pending.append((row, vector))
                    return
        with self._lock:
            self._apply(row, vector)

    # -- reading ----------------------------------------------------------------------------

    def search(
        self, query: npt.NDArray[np.float32], k: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Rows and inner products of the ``k`` nearest vectors (read-only arrays: the same
        search again, with nothing changed since, returns them again)."""
        key = np.asarray(query, dtype=np.float32).tobytes()
        with self._lock:
            last = self._last
            if last is not None and (last[0], last[1], last[2]) == (key, k, self.changes):
                return last[3], last[4]
            matches = self._index.search(query, k)
            slots = np.asarray(matches.keys, dtype=np.int64)
            rows = self._row_of_slot[slots] if len(slots) else slots
            keep = rows >= 0
            sims = 1.0 - np.asarray(matches.distances, dtype=np.float32)
            rows, sims = rows[keep], sims[keep]
            rows.flags.writeable = sims.flags.writeable = False
            self._last = (key, k, self.changes, rows, sims)
            self._learn(key, rows, sims)
        return rows, sims

    def similarities(
        self, query: npt.NDArray[np.float32], rows: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float32]:
        """The query's inner product with the vector of each of ``rows`` (0 for a row the
        graph lacks). What its search found, or an earlier call computed, is not computed
        again: a retrieval ranks twice with one query (its results, then the runs that
        vote), over mostly the same rows."""
        query = np.asarray(query, dtype=np.float32)
        key = query.tobytes()
        rows = np.asarray(rows, dtype=np.int64)
        with self._lock:
            found = np.zeros(len(rows), dtype=np.float32)
            missing = np.ones(len(rows), dtype=bool)
            known = self._known
            if known is not None and known[:2] == (key, self.changes) and len(known[2]):
                at = np.minimum(np.searchsorted(known[2], rows), len(known[2]) - 1)
                missing = known[2][at] != rows
                found[~missing] = known[3][at[~missing]]
            wanted = np.flatnonzero(missing)
            if len(wanted) == 0:
                return found
            # einsum, not BLAS: see ranking._dot (a row the graph lacks reads as zeros)
            found[wanted] = np.einsum("ij,j->i", self._read(rows[wanted]), query)
            self._learn(key, rows[wanted], found[wanted])
        return found

    def _learn(
        self, key: bytes, rows: npt.NDArray[np.int64], sims: npt.NDArray[np.float32]
    ) -> None:
        """Add to what the query's similarities are known to be (the lock is held)."""
        known = self._known
        if known is not None and known[:2] == (key, self.changes):
            rows, sims = np.concatenate([known[2], rows]), np.concatenate([known[3], sims])
        rows, first = np.unique(rows, return_index=True)
        self._known = (key, self.changes, rows, sims[first].astype(np.float32))

    def vectors(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """The stored vectors of ``rows`` as float32 (zeros for a row the graph lacks)."""
        with self._lock:
            return self._read(np.asarray(rows, dtype=np.int64))

    def _read(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """:meth:`vectors`, the lock held."""
        found = np.zeros((len(rows), self.dim), dtype=np.float32)
        slots = self._slots_of(rows)
        present = slots >= 0
        if present.any():
            keys = slots[present].astype(np.uint64)
            found[present] = self._index.get(keys, dtype=np.float32)
        return found

    # -- saving and restoring ---------------------------------------------------------------

    def export(self) -> tuple[bytes, npt.NDArray[np.int64]]:
        """The serialized graph and, per slot, the row it holds (-1: removed)."""
        with self._lock:
            return bytes(self._index.save()), self._row_of_slot[: self._slots].copy()

    @classmethod
    def restore(
        cls, dim: int, dtype: str, graph: bytes | bytearray, row_of_slot: npt.NDArray[np.int64]
    ) -> AnnIndex:
        """A ready index from :meth:`export`'s graph, its slots mapped to ``row_of_slot``."""
        from usearch.index import Index

        ann = cls(dim, dtype)
        meta = Index.metadata(graph)
        if not meta or meta["dimensions"] != dim:
            raise ValueError("the saved graph is of another dimension")
        ann._index.load(graph)
        if len(ann._index) != int((row_of_slot >= 0).sum()):
            raise ValueError("the saved graph does not match its rows")
        ann._row_of_slot = np.asarray(row_of_slot, dtype=np.int64).copy()
        ann._slots = len(ann._row_of_slot)
        held = np.flatnonzero(ann._row_of_slot >= 0)
        ann._set_slots(ann._row_of_slot[held], held.astype(np.int64))
        ann.ready, ann.built = True, False
        return ann
