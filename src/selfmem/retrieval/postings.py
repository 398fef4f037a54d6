"""The lexical half of the retrieval index: term ids, postings and each row's terms.

Memory is the constraint at 100,000 episodes, so nothing here is a Python object per
posting. Postings live in two flat numpy arrays (rows and term frequencies) grouped by term,
plus a small list "tail" per term for rows added since the last :meth:`Postings.compact`.
Each row's distinct term ids are kept in one flat array with offsets (CSR) for MMR.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Postings"]

I32 = npt.NDArray[np.int32]
U16 = npt.NDArray[np.uint16]

#: Tails are merged into the flat arrays once they hold this share of all postings.
_COMPACT_RATIO = 0.25
_COMPACT_MIN = 20_000


def _merge_grouped(
    parts: Sequence[tuple[I32, I32, U16]], vocabulary: int
) -> tuple[I32, U16, npt.NDArray[np.int64]]:
    """Merge parts of postings, each grouped by term (``(term ids ascending, rows, tfs)``),
    into one grouped by term, each term's postings in the order of the parts: what a stable
    sort of their concatenation by term would give, in linear time. Returns the rows, the
    frequencies and each term's number of postings."""
    counts = np.zeros(vocabulary, dtype=np.int64)
    for tids, _, _ in parts:
        counts += np.bincount(tids, minlength=vocabulary)
    ends = np.cumsum(counts)
    filled = ends - counts  # where each term's next posting goes
    total = int(ends[-1]) if vocabulary else 0
    rows_out, tfs_out = np.empty(total, dtype=np.int32), np.empty(total, dtype=np.uint16)
    for tids, rows, tfs in parts:
        n = len(tids)
        if n == 0:
            continue
        first = np.flatnonzero(np.concatenate(([True], tids[1:] != tids[:-1])))
        lengths = np.diff(np.append(first, n))
        runs = tids[first]  # one run per term of the part
        where = np.repeat(filled[runs] - first, lengths) + np.arange(n)
        rows_out[where] = rows
        tfs_out[where] = tfs
        filled[runs] += lengths
    return rows_out, tfs_out, counts


def _raw(values: npt.NDArray[Any]) -> memoryview:
    """The bytes of a contiguous array, uncopied (for ``array.frombytes``)."""
    return values.data.cast("B")


class Postings:
    """Postings of every term, and the distinct terms of every row, in flat arrays."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._rows: I32 = np.zeros(0, dtype=np.int32)
        self._tfs: U16 = np.zeros(0, dtype=np.uint16)  # a term's count in a row (<= MAX_TERMS)
        self._start: array[int] = array("q")  # per term id: its span in the flat arrays
        self._end: array[int] = array("q")
        self._tail: dict[int, tuple[array[int], array[int]]] = {}
        self._tail_count = 0
        self._doc_terms: array[int] = array("i")  # distinct term ids of every row, concatenated
        self._doc_start: array[int] = array("q", [0])
        #: Postings added by :meth:`extend`, (term ids, rows, frequencies), not yet merged.
        self._blocks: list[tuple[I32, I32, U16]] = []
        #: While True (a bulk load), tails are not merged until :meth:`compact` is called.
        self.deferred = False

    @property
    def vocabulary(self) -> int:
        return len(self._ids)

    def add(self, row: int, terms: Sequence[str]) -> None:
        """Add the terms (with repeats) of the next row; rows are added in order from 0."""
        if row != len(self._doc_start) - 1:
            raise ValueError(f"rows must be added in order: expected {len(self._doc_start) - 1}")
        if self._blocks:  # merged first, so that every term's rows stay in order
            self.compact()
        for term, count in Counter(terms).items():
            tid = self._ids.get(term)
            if tid is None:
                tid = self._ids[term] = len(self._ids)
                self._start.append(0)
                self._end.append(0)
            tail = self._tail.get(tid)
            if tail is None:
                tail = self._tail[tid] = (array("i"), array("H"))
            tail[0].append(row)
            tail[1].append(count)
            self._doc_terms.append(tid)
        self._doc_start.append(len(self._doc_terms))
        self._tail_count += len(self._doc_terms) - self._doc_start[-2]
        if not self.deferred and self._tail_count > max(
            _COMPACT_MIN, _COMPACT_RATIO * len(self._rows)
        ):
            self.compact()

    def extend(self, first: int, texts: Sequence[str]) -> npt.NDArray[np.int64]:
        """Add the terms of rows ``first, first + 1, ...`` at once, each row's given as one
        string of space-separated terms (with repeats); returns each row's term count.

        Bulk loading: the batch's terms are split in one call and interned in one pass, and
        the rows' postings counted with numpy, with no Python object per posting; they are
        merged by :meth:`compact`.
        """
        if first != len(self._doc_start) - 1:
            raise ValueError(f"rows must be added in order: expected {len(self._doc_start) - 1}")
        ids = self._ids
        every = " ".join(texts).split()
        lengths = np.fromiter((t.count(" ") + 1 if t else 0 for t in texts), dtype=np.int64,
                              count=len(texts))  # fmt: skip
        if int(lengths.sum()) != len(every):  # not single-spaced: split row by row
            lengths = np.fromiter((len(t.split()) for t in texts), dtype=np.int64,
                                  count=len(texts))  # fmt: skip
        # one dict lookup per term occurrence; terms new to the index (few, after the first
        # batches) get the next ids in the order they first occur
        flat = np.fromiter(map(ids.get, every, repeat(-1)), dtype=np.int64, count=len(every))
        for position in np.flatnonzero(flat < 0).tolist():
            flat[position] = ids.setdefault(every[position], len(ids))
        missing = len(ids) - len(self._start)
        self._start.extend([0] * missing)
        self._end.extend([0] * missing)
        # keys ordered by term, then row: the block comes out grouped by term, as compact
        # merges them; rows are numbered within the batch, so that they also sort by radix
        count = len(texts)
        local = np.repeat(np.arange(count, dtype=np.int64), lengths)
        keys, counts = np.unique(flat * count + local, return_counts=True)
        tids = (keys // max(1, count)).astype(np.int32)
        local = keys % max(1, count)
        by_row = np.argsort(local.astype(np.uint16 if count <= 1 << 16 else np.int64),
                            kind="stable")  # fmt: skip
        self._doc_terms.frombytes(tids[by_row].tobytes())
        per_row = np.bincount(local, minlength=count).astype(np.int64)
        self._doc_start.extend((np.cumsum(per_row) + self._doc_start[-1]).tolist())
        self._blocks.append((tids, (local + first).astype(np.int32), counts.astype(np.uint16)))
        return lengths

    def compact(self) -> None:
        """Merge every tail into the flat arrays (grouped by term, rows in order)."""
        if not self._tail and not self._blocks:
            return
        spans = np.frombuffer(self._end, dtype=np.int64) - np.frombuffer(
            self._start, dtype=np.int64
        )
        flat = (np.repeat(np.arange(len(spans), dtype=np.int32), spans), self._rows, self._tfs)
        tails = sorted(self._tail.items())  # by term
        tail = (
            np.concatenate([np.full(len(rows), tid, dtype=np.int32) for tid, (rows, _) in tails]
                           or [np.zeros(0, dtype=np.int32)]),
            np.concatenate([np.frombuffer(rows, dtype=np.int32) for _, (rows, _) in tails]
                           or [np.zeros(0, dtype=np.int32)]),
            np.concatenate([np.frombuffer(tfs, dtype=np.uint16) for _, (_, tfs) in tails]
                           or [np.zeros(0, dtype=np.uint16)]),
        )  # fmt: skip
        blocks, self._blocks = self._blocks, []
        # older rows first: the flat arrays, then rows added one by one, then bulk batches
        self._rows, self._tfs, counts = _merge_grouped([flat, tail, *blocks], len(self._ids))
        del flat, tail, blocks
        ends = np.cumsum(counts)
        self._start = array("q", (ends - counts).tolist())
        self._end = array("q", ends.tolist())
        self._tail.clear()
        self._tail_count = 0

    def get(self, term: str) -> tuple[I32, U16] | None:
        """Rows containing ``term`` and its frequency in each, or None if no row has it."""
        tid = self._ids.get(term)
        if tid is None:
            return None
        if self._blocks:
            self.compact()
        rows = self._rows[self._start[tid] : self._end[tid]]
        tfs = self._tfs[self._start[tid] : self._end[tid]]
        tail = self._tail.get(tid)
        if tail is not None:
            rows = np.concatenate([rows, np.frombuffer(tail[0], dtype=np.int32)])
            tfs = np.concatenate([tfs, np.frombuffer(tail[1], dtype=np.uint16)])
        return rows, tfs

    def terms_of(self, rows: Sequence[int]) -> list[I32]:
        """The distinct term ids of each row (copies: the flat array keeps growing)."""
        flat = np.frombuffer(self._doc_terms, dtype=np.int32)
        try:
            return [flat[self._doc_start[r] : self._doc_start[r + 1]].copy() for r in rows]
        finally:
            del flat  # release the buffer export, or the array could not grow

    def export(self, keep: npt.NDArray[np.int64]) -> tuple[list[str], dict[str, npt.NDArray[Any]]]:
        """The postings of rows ``keep`` (ascending), renumbered ``0..len(keep)``, and nothing
        of the other rows: the terms these rows use, and both layouts :meth:`restore` needs,
        so that it sorts nothing. Row after row: how many distinct terms each row has
        (``doc_counts``) and their term ids (``doc_terms``, 16-bit when the terms fit). Term
        after term: how many rows have it (``term_counts``), those rows (``term_rows``) and
        the term's frequency in each (``term_freqs``)."""
        self.compact()  # the flat arrays then hold every posting, grouped by term
        spans = np.frombuffer(self._end, dtype=np.int64) - np.frombuffer(
            self._start, dtype=np.int64
        )
        term_of = np.repeat(np.arange(len(spans), dtype=np.int32), spans)
        rows, tfs = self._rows, self._tfs
        starts = np.frombuffer(self._doc_start, dtype=np.int64)
        per_row = np.diff(starts)
        doc_terms = np.frombuffer(self._doc_terms, dtype=np.int32)
        count = len(per_row)
        if len(keep) != count or not bool((keep == np.arange(count)).all()):
            renumber = np.full(count, -1, dtype=np.int32)  # every row kept: nothing to drop
            renumber[keep] = np.arange(len(keep), dtype=np.int32)
            rows = renumber[rows]
            picked = rows >= 0
            rows, tfs, term_of = rows[picked], tfs[picked], term_of[picked]
            doc_terms = doc_terms[np.repeat(renumber >= 0, per_row)]
            per_row = per_row[keep]
        per_term = np.bincount(term_of, minlength=len(self._ids))
        used = per_term > 0  # the terms these rows use, in the order they were first seen
        new_tid = np.cumsum(used, dtype=np.int64) - 1
        by_id = list(self._ids)  # term ids are given in insertion order
        terms = [by_id[t] for t in np.flatnonzero(used).tolist()]
        small = np.uint16 if len(terms) <= 1 << 16 else np.int32
        arrays = {
            "doc_counts": per_row.astype(np.int32),
            "doc_terms": new_tid[doc_terms].astype(small),
            "term_counts": per_term[used].astype(np.int32),
            "term_rows": rows.astype(np.int32),  # copies: the caller encodes them unlocked
            "term_freqs": tfs.astype(np.uint16),
        }
        del doc_terms, starts  # release the buffer exports of the growing arrays
        return terms, arrays

    @classmethod
    def restore(cls, terms: Sequence[str], arrays: dict[str, npt.NDArray[Any]]) -> Postings:
        """Postings from what :meth:`export` returned, with no sorting: both layouts are
        copied as they are."""
        postings = cls()
        postings._ids = {term: i for i, term in enumerate(terms)}
        postings._doc_terms.frombytes(_raw(arrays["doc_terms"].astype(np.int32)))
        starts = np.zeros(len(arrays["doc_counts"]) + 1, dtype=np.int64)
        np.cumsum(arrays["doc_counts"], out=starts[1:])
        postings._doc_start.frombytes(_raw(starts[1:]))
        postings._rows = arrays["term_rows"].astype(np.int32)
        postings._tfs = arrays["term_freqs"].astype(np.uint16)
        ends = np.cumsum(arrays["term_counts"], dtype=np.int64)
        postings._start = array("q", (ends - arrays["term_counts"]).tobytes())
        postings._end = array("q", ends.tobytes())
        return postings

    def nbytes(self) -> int:
        """Bytes held by the arrays (not the term dictionary)."""
        tails = sum(len(r) * 6 for r, _ in self._tail.values())
        tails += sum(b[0].nbytes * 3 for b in self._blocks)
        return int(
            self._rows.nbytes + self._tfs.nbytes + len(self._start) * 16 + tails
            + len(self._doc_terms) * 4 + len(self._doc_start) * 8
        )  # fmt: skip
