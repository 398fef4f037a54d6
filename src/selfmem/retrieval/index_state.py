"""An index's live rows as plain arrays: what a snapshot holds (see
:meth:`selfmem.retrieval.index.EpisodeIndex.export_state` and ``from_state``).

Only the live rows are kept, renumbered from 0, with nothing left of removed ones.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["CATEGORIES", "NUMBERS", "IndexState", "live_tags"]

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


def live_tags(
    tags: dict[int, array[int]], size: int, keep: npt.NDArray[np.int64]
) -> tuple[I32, I32]:
    """(row, tag code) of the rows ``keep`` (of ``size``), renumbered ``0..len(keep)``,
    sorted by row then code: two arrays, with no Python object per pair. ``tags``: each
    tag code's rows."""
    renumber = np.full(size, -1, dtype=np.int64)
    renumber[keep] = np.arange(len(keep))
    codes = np.fromiter(tags, dtype=np.int64, count=len(tags))
    lengths = np.fromiter(map(len, tags.values()), dtype=np.int64, count=len(codes))
    rows = np.frombuffer(b"".join(r.tobytes() for r in tags.values()), dtype=np.int32)
    new_rows = renumber[rows]
    live = new_rows >= 0
    new_rows, live_codes = new_rows[live], np.repeat(codes, lengths)[live]
    order = np.lexsort((live_codes, new_rows))
    return new_rows[order].astype(np.int32), live_codes[order].astype(np.int32)
