"""An index's live rows as plain arrays (a snapshot's content), and an index rebuilt from them.

Exporting copies only the live rows, renumbered from 0, with nothing left of removed ones;
restoring fills a new index's columns by slices and its postings without sorting anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .codes import Codes, group_rows
from .postings import Postings
from .row_ids import RowIds
from .vectors import RowVectors

if TYPE_CHECKING:
    from .index import EpisodeIndex

__all__ = ["CATEGORIES", "NUMBERS", "IndexState", "export", "fill"]

I32 = npt.NDArray[np.int32]
CATEGORIES = ("domain", "language", "framework", "task_type")
NUMBERS = ("success", "failure", "reward", "end_time", "doc_len", "tag_count")


@dataclass(frozen=True, slots=True)
class IndexState:
    """The live rows of an index, renumbered from 0, with nothing left of removed rows:
    ``lists`` holds strings (ids, vocabularies), ``arrays`` the columns (see
    :meth:`EpisodeIndex.export_state`)."""

    lists: dict[str, list[str]]
    arrays: dict[str, npt.NDArray[Any]]
    model: str | None


def export(index: EpisodeIndex) -> IndexState:
    """A copy of the live rows of ``index`` (the caller holds its lock)."""
    keep = np.flatnonzero(index.alive[: index.size]).astype(np.int64)
    lists: dict[str, list[str]] = {}
    arrays: dict[str, npt.NDArray[Any]] = index.row_of.export(keep)
    for name, codes in index._categories().items():
        lists[name], arrays[name] = codes.export(getattr(index, name)[keep])
    for name in NUMBERS:
        arrays[name] = getattr(index, name)[keep].copy()
    tag_rows, tag_codes = _live_tags(index, keep)
    lists["tags"], arrays["tag_codes"] = index._tag_codes.export(tag_codes)
    arrays["tag_rows"] = tag_rows
    lists["terms"], postings = index._postings.export(keep)
    arrays.update(postings)
    if index.vectors is not None:
        arrays["vectors"] = index.vectors[keep].copy()
        arrays["has_vector"] = index.has_vector[keep].copy()
    return IndexState(lists, arrays, index.model if index.vectors is not None else None)


def _live_tags(index: EpisodeIndex, keep: npt.NDArray[np.int64]) -> tuple[I32, I32]:
    """(row, tag code) of the rows ``keep``, renumbered ``0..len(keep)``, sorted by row
    then code: two arrays, with no Python object per pair."""
    tags = index._tags
    renumber = np.full(index.size, -1, dtype=np.int64)
    renumber[keep] = np.arange(len(keep))
    codes = np.fromiter(tags, dtype=np.int64, count=len(tags))
    lengths = np.fromiter(map(len, tags.values()), dtype=np.int64, count=len(codes))
    rows = np.frombuffer(b"".join(r.tobytes() for r in tags.values()), dtype=np.int32)
    new_rows = renumber[rows]
    live = new_rows >= 0
    new_rows, live_codes = new_rows[live], np.repeat(codes, lengths)[live]
    order = np.lexsort((live_codes, new_rows))
    return new_rows[order].astype(np.int32), live_codes[order].astype(np.int32)


def fill(index: EpisodeIndex, state: IndexState) -> EpisodeIndex:
    """``index`` (new and empty) holding the rows ``state`` copied."""
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
