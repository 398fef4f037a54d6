"""The in-process retrieval index of one namespace: columns, BM25 postings and vectors.

Every signal is computed for all indexed episodes at once with numpy, so a query costs a
few vectorized passes over flat arrays instead of a database round trip per candidate.
Rows are appended as episodes complete and tombstoned when deleted.
"""

from __future__ import annotations

import math
import threading
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from typing import Any

import numpy as np
import numpy.typing as npt

from ..records.episodes import OutcomeStatus
from ..records.index_rows import IndexRow
from ..text.tokens import query_terms
from .ann import AnnIndex, ann_available
from .codes import Codes, group_rows
from .index_state import CATEGORIES, NUMBERS, IndexState, live_tags
from .postings import Postings
from .row_ids import RowIds
from .term_cache import TermCache
from .vectors import RowVectors

__all__ = ["EpisodeIndex", "IndexState", "QueryFilters"]

F32 = npt.NDArray[np.float32]
I32 = npt.NDArray[np.int32]
_K1 = 1.2
_B = 0.75
#: Memory for the kept contributions of recent query terms (see EpisodeIndex.bm25).
_TERM_CACHE_BYTES = 32 << 20
# Distinct query terms BM25 scores: task descriptions of tool-using agents often run past 32
# (a request with its constraints); 64 still bounds the postings read per query.
_QUERY_TERMS = 64
# Rows :meth:`EpisodeIndex.load` indexes at once. Small on purpose: a batch's row objects
# and term strings are freed between long-lived ids and terms, and at 50,000 rows the heap
# they fragment was kept (RSS at 100,000 episodes 300 MB instead of 146 MB).
_LOAD_BATCH = 4_096


@dataclass(frozen=True, slots=True)
class QueryFilters:
    domain: str | None = None
    task_type: str | None = None
    success_only: bool = False
    ended_after: float | None = None
    ended_before: float | None = None
    tags: tuple[str, ...] = ()


class EpisodeIndex:
    """Columns and postings of the completed episodes of one namespace."""

    domain: npt.NDArray[Any]
    language: npt.NDArray[Any]
    framework: npt.NDArray[Any]
    task_type: npt.NDArray[Any]
    success: npt.NDArray[Any]
    failure: npt.NDArray[Any]
    reward: npt.NDArray[Any]
    end_time: npt.NDArray[Any]
    doc_len: npt.NDArray[Any]
    tag_count: npt.NDArray[Any]
    alive: npt.NDArray[Any]

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.row_of = RowIds()  # the row of each live episode id
        self.ids: Sequence[str] = self.row_of.by_row  # the episode id of every row
        self._size = 0
        self._cap = 0
        self._domain = Codes()
        self._language = Codes()
        self._framework = Codes()
        self._type = Codes()
        self._tag_codes = Codes()
        self._postings = Postings()
        self._tags: dict[int, array[int]] = {}  # tag code -> its rows (no int objects)
        self._total_len = 0.0
        self._alive_count = 0
        self._term_cache = TermCache(_TERM_CACHE_BYTES)
        self._alloc(1024)
        self.vectors: RowVectors | None = None
        self.has_vector: npt.NDArray[np.bool_] = np.zeros(self._cap, dtype=bool)
        self.model: str | None = None
        self.ann: AnnIndex | None = None

    # -- storage of columns -----------------------------------------------------------------

    def _alloc(self, capacity: int) -> None:
        def grow(old: npt.NDArray[Any] | None, dtype: type) -> npt.NDArray[Any]:
            new: npt.NDArray[Any] = np.zeros(capacity, dtype=dtype)
            if old is not None:
                new[: self._size] = old[: self._size]
            return new

        first = self._cap == 0
        self.domain = grow(None if first else self.domain, np.int32)
        self.language = grow(None if first else self.language, np.int32)
        self.framework = grow(None if first else self.framework, np.int32)
        self.task_type = grow(None if first else self.task_type, np.int32)
        self.success = grow(None if first else self.success, np.bool_)
        self.failure = grow(None if first else self.failure, np.bool_)
        self.reward = grow(None if first else self.reward, np.float32)
        self.end_time = grow(None if first else self.end_time, np.float64)
        self.doc_len = grow(None if first else self.doc_len, np.float32)
        self.tag_count = grow(None if first else self.tag_count, np.float32)
        self.alive = grow(None if first else self.alive, np.bool_)
        if not first:
            self.has_vector = grow(self.has_vector, np.bool_)
            if self.vectors is not None:
                self.vectors.grow(capacity, self._size)
        self._cap = capacity

    @property
    def size(self) -> int:
        return self._size

    def __len__(self) -> int:
        return self._alive_count

    def add(self, row: IndexRow) -> int:
        """Index a completed episode (re-adding an id replaces it); returns its row."""
        with self.lock:
            if row.episode_id in self.row_of:
                self.remove(row.episode_id)
            if self._size == self._cap:
                self._alloc(self._cap * 2)
            r = self._size
            self._size += 1
            self.row_of.append(row.episode_id)
            self.domain[r] = self._domain.code(row.domain)
            self.language[r] = self._language.code(row.language)
            self.framework[r] = self._framework.code(row.framework)
            self.task_type[r] = self._type.code(row.task_type)
            self.success[r] = row.outcome == OutcomeStatus.SUCCESS.value
            self.failure[r] = row.outcome == OutcomeStatus.FAILURE.value
            self.reward[r] = row.reward
            self.end_time[r] = row.end_time
            terms = row.term_list()
            self.doc_len[r] = len(terms)
            self.tag_count[r] = len(row.tags)
            self.alive[r] = True
            self._alive_count += 1
            self._total_len += len(terms)
            self._postings.add(r, terms)
            for tag in row.tags:
                self._tags.setdefault(self._tag_codes.code(tag), array("i")).append(r)
            return r

    def load(self, rows: Iterable[IndexRow]) -> None:
        """Index many rows (e.g. every stored episode on first use), then compact.

        Rows are taken in batches: each batch fills the columns with one slice assignment
        each and counts its postings with numpy (:meth:`Postings.extend`)."""
        with self.lock:
            self._postings.deferred = True
            # Into an empty index, ids are not looked up batch by batch (a million lookups):
            # the earlier rows of ids that came twice are tombstoned once at the end.
            fresh = self._size == 0
            stream = iter(rows)
            try:
                while batch := list(islice(stream, _LOAD_BATCH)):
                    self._append_batch(batch, fresh)
            finally:
                if fresh:
                    for r in self.row_of.drop_repeated():
                        self._tombstone(r)
                self._postings.deferred = False
                self._postings.compact()

    def _append_batch(self, rows: list[IndexRow], fresh: bool) -> None:
        """Append a batch of rows; an id repeated inside it splits it, so that the later
        row replaces the earlier one as :meth:`add` would. ``fresh``: the load began on an
        empty index, and repeated ids are left to its end."""
        ids = [row.episode_id for row in rows]
        if fresh or len(set(ids)) == len(ids):
            self._append_many(rows, ids, fresh)
            return
        start, seen = 0, set[str]()
        for i, episode_id in enumerate(ids):
            if episode_id in seen:
                self._append_many(rows[start:i], ids[start:i], fresh)
                start, seen = i, set()
            seen.add(episode_id)
        self._append_many(rows[start:], ids[start:], fresh)

    def _append_many(self, rows: Sequence[IndexRow], ids: list[str], fresh: bool) -> None:
        """Append rows of distinct ids with one slice assignment per column (re-adding an
        id replaces it; unless ``fresh``, see :meth:`load`)."""
        if not rows:
            return
        if not fresh and self._alive_count:
            for episode_id, known in zip(ids, self.row_of.rows_of(ids).tolist(), strict=True):
                if known >= 0:
                    self.remove(episode_id)
        start, end = self._size, self._size + len(rows)
        capacity = self._cap
        while capacity < end:
            capacity *= 2
        if capacity > self._cap:
            self._alloc(capacity)
        self.row_of.extend(ids)
        types, domains, languages, frameworks, tags, outcomes, rewards, ends, terms = (
            list(column) for column in islice(zip(*rows, strict=True), 1, None)
        )  # the row's fields after the id, in IndexRow's order
        codes = self._categories()
        for name, values in zip(CATEGORIES, (domains, languages, frameworks, types), strict=True):
            getattr(self, name)[start:end] = codes[name].codes(values)
        outcome = np.asarray(outcomes, dtype=object)
        self.success[start:end] = outcome == OutcomeStatus.SUCCESS.value
        self.failure[start:end] = outcome == OutcomeStatus.FAILURE.value
        self.reward[start:end] = rewards
        self.end_time[start:end] = ends
        lengths = self._postings.extend(start, terms)
        self.doc_len[start:end] = lengths
        self.tag_count[start:end] = [len(t) for t in tags]
        self.alive[start:end] = True
        self._size = end
        self._alive_count += len(rows)
        self._total_len += float(lengths.sum())
        self._add_tags(start, tags)

    def _add_tags(self, start: int, tags: list[tuple[str, ...]]) -> None:
        """File rows ``start, start + 1, ...`` under their tags: one array append per tag
        of the batch, not one per row and tag."""
        counts = np.fromiter(map(len, tags), dtype=np.int64, count=len(tags))
        if not counts.any():
            return
        codes = self._tag_codes.codes(list(chain.from_iterable(tags)))
        rows = np.repeat(np.arange(start, start + len(tags), dtype=np.int32), counts)
        for code, part in group_rows(codes, rows).items():
            self._tags.setdefault(code, array("i")).extend(part)

    def remove(self, episode_id: str) -> bool:
        """Tombstone an episode; its postings are skipped from now on."""
        with self.lock:
            r = self.row_of.remove(episode_id)
            if r is None:
                return False
            self._tombstone(r)
            return True

    def _tombstone(self, r: int) -> None:
        self.alive[r] = False
        if self.ann is not None and self.has_vector[r]:
            self.ann.remove(r)
        self.has_vector[r] = False
        self._alive_count -= 1
        self._total_len -= float(self.doc_len[r])

    def set_vectors(self, model: str, items: Sequence[tuple[str, F32]]) -> None:
        """Attach unit vectors (of ``model``) to indexed episodes."""
        with self.lock:
            if not items:
                return
            dim = int(items[0][1].shape[-1])
            if self.vectors is None or self.model != model or self.vectors.shape[1] != dim:
                self.vectors = RowVectors(self._cap, dim)
                self.has_vector[:] = False
                self.model = model
                self.ann = None
            rows = self.row_of.rows_of([episode_id for episode_id, _ in items]).tolist()
            for r, (_, vector) in zip(rows, items, strict=True):
                if r >= 0:
                    self.vectors[r] = vector
                    self.has_vector[r] = True
                    if self.ann is not None:
                        self.ann.add(r, vector)

    def start_ann(self, threshold: int) -> threading.Thread | None:
        """Build an HNSW index in the background once ``threshold`` rows have vectors."""
        with self.lock:
            if self.ann is not None or self.vectors is None or not ann_available():
                return None
            rows = np.flatnonzero(self.has_vector[: self._size]).astype(np.int64)
            if len(rows) < threshold:
                return None
            self.ann = AnnIndex(self.vectors.shape[1])
            self.vectors.use(self.ann)  # the matrix is dropped once the graph is ready
            snapshot = self.vectors[rows].copy()
        ann = self.ann
        worker = threading.Thread(
            target=ann.build_from, args=(snapshot, rows), name="selfmem-ann", daemon=True
        )
        worker.start()
        return worker

    def _categories(self) -> dict[str, Codes]:
        return {"domain": self._domain, "language": self._language,
                "framework": self._framework, "task_type": self._type}  # fmt: skip

    def export_state(self) -> IndexState:
        """A copy of the live rows, for :meth:`from_state` in another process."""
        with self.lock:
            keep = np.flatnonzero(self.alive[: self._size]).astype(np.int64)
            lists: dict[str, list[str]] = {}
            arrays: dict[str, npt.NDArray[Any]] = self.row_of.export(keep)
            for name, codes in self._categories().items():
                lists[name], arrays[name] = codes.export(getattr(self, name)[keep])
            for name in NUMBERS:
                arrays[name] = getattr(self, name)[keep].copy()
            tag_rows, tag_codes = live_tags(self._tags, self._size, keep)
            lists["tags"], arrays["tag_codes"] = self._tag_codes.export(tag_codes)
            arrays["tag_rows"] = tag_rows
            lists["terms"], postings = self._postings.export(keep)
            arrays.update(postings)
            if self.vectors is not None:
                arrays["vectors"] = self.vectors[keep].copy()
                arrays["has_vector"] = self.has_vector[keep].copy()
            return IndexState(lists, arrays, self.model if self.vectors is not None else None)

    @classmethod
    def from_state(cls, state: IndexState) -> EpisodeIndex:
        """The index :meth:`export_state` copied; it answers every query the same way."""
        index = cls()
        arrays = state.arrays
        index.row_of = RowIds.restore(arrays)
        index.ids = index.row_of.by_row
        n = len(index.row_of)
        capacity = 1024
        while capacity < n:
            capacity *= 2
        if capacity > index._cap:
            index._alloc(capacity)
        index._size = index._alive_count = n
        index.alive[:n] = True
        for name in (*CATEGORIES, *NUMBERS):
            getattr(index, name)[:n] = arrays[name]
        index._domain, index._language, index._framework, index._type = (
            Codes.restore(state.lists[name]) for name in CATEGORIES
        )
        index._tag_codes = Codes.restore(state.lists["tags"])
        index._tags = group_rows(arrays["tag_codes"], arrays["tag_rows"])
        index._total_len = float(arrays["doc_len"].astype(np.float64).sum())
        index._postings = Postings.restore(state.lists["terms"], arrays)
        if state.model is not None and "vectors" in arrays:
            index.vectors = RowVectors(capacity, arrays["vectors"].shape[1])
            index.vectors[:n] = arrays["vectors"]
            index.has_vector[:n] = arrays["has_vector"]
            index.model = state.model
        return index

    def missing_vectors(self) -> list[str]:
        with self.lock:
            rows = np.flatnonzero(self.alive[: self._size] & ~self.has_vector[: self._size])
            return [self.ids[r] for r in rows.tolist()]

    def terms_of(self, rows: Sequence[int]) -> list[I32]:
        """The distinct term ids of each row."""
        return self._postings.terms_of(rows)

    # -- signals ----------------------------------------------------------------------------

    def bm25(self, text: str) -> F32:
        """BM25 of every row for the query's terms (0 where nothing matches), read-only.
        Terms' contributions and the last query's scores are kept while the index does not
        change (:mod:`selfmem.retrieval.term_cache`)."""
        cache = self._term_cache
        cache.check((self._size, self._alive_count))  # every add or delete changes one
        found = cache.scores(text)
        if found is not None:
            return found
        scores = np.zeros(self._size, dtype=np.float32)
        for term in query_terms(text, _QUERY_TERMS):
            postings = self._postings.get(term)
            if postings is None:
                continue
            rows, tfs = postings
            impacts = cache.impacts(term)
            if impacts is None:
                impacts = self._term_impacts(rows, tfs)
                cache.keep_impacts(term, impacts)
            # a term's rows are distinct, so this touches df entries, not all n rows
            scores[rows] += impacts
        return cache.keep_scores(text, scores)

    def _term_impacts(self, rows: I32, counts: npt.NDArray[np.uint16]) -> F32:
        """A term's BM25 contribution to each of its rows (zeros if no live row has it)."""
        tfs = counts.astype(np.float32)
        alive = max(1, self._alive_count)
        avg_len = self._total_len / alive if self._total_len > 0 else 1.0
        # deleted rows stay in postings; with none deleted, every posting is alive
        deleted = self._alive_count < self._size
        df = int(np.count_nonzero(self.alive[rows])) if deleted else len(rows)
        if df == 0:
            return np.zeros(len(rows), dtype=np.float32)
        idf = math.log(1.0 + (alive - df + 0.5) / (df + 0.5))
        norm = tfs + _K1 * (1.0 - _B + _B * self.doc_len[rows] / avg_len)
        return (idf * tfs * (_K1 + 1.0) / norm).astype(np.float32)

    def _tag_rows(self, code: int | None) -> I32:
        """The rows having a tag (a copy: the array keeps growing)."""
        rows = self._tags.get(code) if code is not None else None
        return np.array(rows if rows is not None else (), dtype=np.int32)

    def filter_mask(self, filters: QueryFilters) -> npt.NDArray[np.bool_]:
        n = self._size
        mask: npt.NDArray[np.bool_] = self.alive[:n].copy()
        if filters.domain is not None:
            mask &= self.domain[:n] == (self._domain.lookup(filters.domain) or -1)
        if filters.task_type is not None:
            mask &= self.task_type[:n] == (self._type.lookup(filters.task_type) or -1)
        if filters.success_only:
            mask &= self.success[:n]
        if filters.ended_after is not None:
            mask &= self.end_time[:n] >= filters.ended_after
        if filters.ended_before is not None:
            mask &= self.end_time[:n] < filters.ended_before
        for tag in filters.tags:
            code = self._tag_codes.lookup(tag)
            has = np.zeros(n, dtype=bool)
            if code is not None:
                has[self._tag_rows(code)] = True
            mask &= has
        return mask

    def context_scores(
        self,
        rows: npt.NDArray[np.int64],
        domain: str | None,
        language: str | None,
        framework: str | None,
        task_type: str | None,
        tags: Sequence[str],
    ) -> F32 | None:
        """Context match of these rows in [0, 1]: domain 0.3, language 0.2, framework 0.1,
        task type 0.2, tag Jaccard 0.2, over the fields the query states (None if none).
        Only the rows asked for are read (a query asks for its candidates), so the cost does
        not grow with the index."""
        total = np.zeros(len(rows), dtype=np.float32)
        weight = 0.0
        columns = (
            (0.3, self.domain, self._domain, domain),
            (0.2, self.language, self._language, language.lower() if language else None),
            (0.1, self.framework, self._framework, framework.lower() if framework else None),
            (0.2, self.task_type, self._type, task_type),
        )
        for w, column, codes, value in columns:
            if value is None:
                continue
            weight += w
            code = codes.lookup(value)
            if code is not None:
                total += w * (column[rows] == code)
        if tags:
            weight += 0.2
            overlap = np.zeros(len(rows), dtype=np.float32)
            for tag in set(tags):
                code = self._tag_codes.lookup(tag)
                tagged = self._tags.get(code) if code is not None else None
                if tagged:
                    overlap += _members(tagged, rows)
            union = len(set(tags)) + self.tag_count[rows] - overlap
            total += 0.2 * overlap / np.maximum(union, 1.0)
        return total / weight if weight else None


def _members(tagged: array[int], rows: npt.NDArray[np.int64]) -> F32:
    """1.0 for each of ``rows`` found in ``tagged`` (a tag's rows, ascending: rows are
    numbered in the order they are added, and a restored index keeps that order)."""
    view = np.frombuffer(tagged, dtype=np.int32)  # no copy; released before returning
    at = np.searchsorted(view, rows)
    found = np.zeros(len(rows), dtype=np.float32)
    inside = at < len(view)
    found[inside] = view[at[inside]] == rows[inside]
    del view
    return found
