"""Episode ids of the index's rows, and the row of a live id, without a Python object each.

At a million episodes a list of id strings and a dict from id to row held about 150 MB and
took half a second to rebuild from a snapshot. Here the ids are one UTF-8 buffer with an end
offset per row, and an id is found by its CRC-32: the hashes of most rows are kept sorted
(binary search), those of rows added since the last sort sit in a small dict. Hashes collide
(a few dozen pairs among a million ids), so a candidate row is confirmed by comparing its
bytes. Rows are never reused: removing an id only marks its row dead.
"""

from __future__ import annotations

import zlib
from array import array
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, overload

import numpy as np
import numpy.typing as npt

__all__ = ["RowIds"]

#: The recent rows are sorted in with the others once they are this share of them.
_RESORT_SHARE = 0.25
_RESORT_MIN = 4_096


def _hashes(encoded: Sequence[bytes]) -> npt.NDArray[np.uint32]:
    return np.fromiter(map(zlib.crc32, encoded), dtype=np.uint32, count=len(encoded))


class RowIds(Mapping[str, int]):
    """The row of each live id (a read-only mapping), and every row's id (:attr:`by_row`).

    One writer at a time (the index holds its lock to add and remove); lookups may run
    beside it without a lock (``lacks`` asks whether an episode is indexed): whatever they
    read is replaced whole, never changed in place."""

    def __init__(self) -> None:
        self._text = bytearray()
        self._ends = array("q", [0])  # row r's id is _text[_ends[r]:_ends[r + 1]]
        self._hash = array("I")
        self._live = bytearray()
        self._count = 0
        # The hashes of rows 0..n-1 ascending, and those rows in that order: one tuple,
        # replaced whole, so a lookup that takes no lock never pairs two sorts' halves.
        self._searched: tuple[npt.NDArray[np.uint32], npt.NDArray[np.int32]] = (
            np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.int32))  # fmt: skip
        self._indexed = 0  # rows below this are in _searched
        self._recent: dict[str, int] = {}  # live ids of the rows added since
        self.by_row = _ById(self)

    # -- reading ----------------------------------------------------------------------------

    def id_at(self, row: int) -> str:
        """The id row ``row`` was added with (dead rows included)."""
        return self._bytes_at(row).decode()

    def _bytes_at(self, row: int) -> bytearray:
        return self._text[self._ends[row] : self._ends[row + 1]]

    def encoded(self, rows: Sequence[int]) -> list[bytes]:
        """The UTF-8 ids of ``rows`` (they sort like the ids: UTF-8 keeps code point order)."""
        return [bytes(self._bytes_at(r)) for r in rows]

    def _find(self, episode_id: str, crc: int) -> int | None:
        row = self._recent.get(episode_id)
        if row is not None:
            return row
        # a numpy scalar: a Python int would first convert the whole array to int64
        hashes, order = self._searched
        lo = int(hashes.searchsorted(np.uint32(crc), side="left"))
        encoded = episode_id.encode()
        while lo < len(hashes) and int(hashes[lo]) == crc:
            row = int(order[lo])
            if self._live[row] and self._bytes_at(row) == encoded:
                return row
            lo += 1
        return None

    def __getitem__(self, episode_id: str) -> int:
        row = self._find(episode_id, zlib.crc32(episode_id.encode()))
        if row is None:
            raise KeyError(episode_id)
        return row

    def __contains__(self, episode_id: object) -> bool:
        return isinstance(episode_id, str) and self.get(episode_id) is not None

    def __iter__(self) -> Iterator[str]:
        for row in np.flatnonzero(np.frombuffer(self._live, dtype=np.uint8)).tolist():
            yield self.id_at(row)

    def __len__(self) -> int:
        return self._count

    @property
    def size(self) -> int:
        """Rows, dead ones included."""
        return len(self._hash)

    def rows_of(self, episode_ids: Sequence[str]) -> npt.NDArray[np.int64]:
        """The row of each id, -1 where it is not live: hashed and searched at once; an id
        is looked at alone only when its hash collides with another id's."""
        encoded = [e.encode() for e in episode_ids]
        crcs = _hashes(encoded)
        found = np.full(len(episode_ids), -1, dtype=np.int64)
        hit = np.zeros(len(crcs), dtype=bool)
        first = np.zeros(len(crcs), dtype=np.int64)
        hashes, order = self._searched
        if len(hashes):
            at = np.minimum(hashes.searchsorted(crcs), len(hashes) - 1)
            hit = hashes[at] == crcs
            first = order[at].astype(np.int64)
        live, recent = self._live, self._recent
        hits, firsts = hit.tolist(), first.tolist()  # Python values: cheap to test one by one
        for i, episode_id in enumerate(episode_ids):
            known = recent.get(episode_id)
            if known is None:
                if not hits[i]:
                    continue
                row = firsts[i]
                if live[row] and self._bytes_at(row) == encoded[i]:
                    known = row
                else:  # another id with the same hash comes first: look at them all
                    known = self._find(episode_id, int(crcs[i]))
            if known is not None:
                found[i] = known
        return found

    # -- writing ----------------------------------------------------------------------------

    def append(self, episode_id: str) -> int:
        """Give ``episode_id`` the next row (the caller removed any live row it had)."""
        return int(self.extend([episode_id])[0])

    def extend(self, episode_ids: Sequence[str]) -> npt.NDArray[np.int64]:
        """Give each id the next row, in order; returns their rows."""
        encoded = [e.encode() for e in episode_ids]
        first = len(self._hash)
        self._text += b"".join(encoded)
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        self._ends.frombytes((np.cumsum(lengths) + self._ends[-1]).tobytes())
        self._hash.frombytes(_hashes(encoded).tobytes())
        self._live += b"\x01" * len(encoded)
        self._count += len(encoded)
        rows = np.arange(first, first + len(encoded), dtype=np.int64)
        self._recent.update(zip(episode_ids, rows.tolist(), strict=True))
        if len(self._recent) > max(_RESORT_MIN, _RESORT_SHARE * self._indexed):
            self._resort()
        return rows

    def remove(self, episode_id: str) -> int | None:
        """Mark the live row of ``episode_id`` dead; its row, or None if it had none."""
        row = self._find(episode_id, zlib.crc32(episode_id.encode()))
        if row is None:
            return None
        self._live[row] = 0
        self._recent.pop(episode_id, None)
        self._count -= 1
        return row

    def drop_repeated(self) -> list[int]:
        """Mark dead every live row whose id a later live row also has (ids appended without
        looking them up first); returns those rows. One pass over the hashes: only ids whose
        hashes repeat are compared."""
        hashes = np.frombuffer(self._hash, dtype=np.uint32)
        live = np.frombuffer(self._live, dtype=np.uint8).astype(bool)
        try:
            order = np.argsort(hashes, kind="stable")  # equal hashes: rows ascending
            ordered = hashes[order]
            same = np.flatnonzero(ordered[1:] == ordered[:-1])
            suspects = np.unique(np.concatenate([order[same], order[same + 1]]))
        finally:
            del hashes
        last: dict[bytes, int] = {}
        dropped: list[int] = []
        for row in suspects.tolist():  # ascending: a later row replaces an earlier one
            if not live[row]:
                continue
            key = bytes(self._bytes_at(row))
            earlier = last.get(key)
            if earlier is not None:
                self._live[earlier] = 0
                self._count -= 1
                dropped.append(earlier)
            last[key] = row
        if dropped:
            self._resort()
        return dropped

    def _resort(self) -> None:
        hashes = np.frombuffer(self._hash, dtype=np.uint32)
        order = np.argsort(hashes, kind="stable").astype(np.int32)
        self._searched = (hashes[order], order)  # a copy: the array keeps growing
        self._indexed = len(hashes)
        self._recent = {}
        del hashes

    # -- snapshots --------------------------------------------------------------------------

    def export(self, keep: npt.NDArray[np.int64]) -> dict[str, npt.NDArray[Any]]:
        """The ids of rows ``keep`` as arrays: their UTF-8 bytes concatenated, their lengths,
        their hashes and the rows in the order of their hashes."""
        ends = np.frombuffer(self._ends, dtype=np.int64)
        text = np.frombuffer(self._text, dtype=np.uint8)
        try:
            starts, lengths = ends[:-1][keep], np.diff(ends)[keep]
            first = np.cumsum(lengths) - lengths  # where each kept id starts in the export
            picked = np.repeat(starts - first, lengths) + np.arange(int(lengths.sum()))
            hashes = np.frombuffer(self._hash, dtype=np.uint32)[keep]
            return {
                "id_bytes": text[picked],
                "id_lengths": lengths.astype(np.int32),
                "id_hashes": hashes,
                "id_order": np.argsort(hashes, kind="stable").astype(np.int32),
            }
        finally:
            del ends, text  # release the buffer exports: both keep growing

    @classmethod
    def restore(cls, arrays: Mapping[str, npt.NDArray[Any]]) -> RowIds:
        """The ids :meth:`export` wrote, every one live, in rows ``0..n``."""
        ids = cls()
        lengths = arrays["id_lengths"]
        ids._text = bytearray(arrays["id_bytes"])
        ends = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=ends[1:])
        ids._ends = array("q", ends.tobytes())
        ids._hash = array("I", arrays["id_hashes"].astype(np.uint32).tobytes())
        ids._live = bytearray(b"\x01" * len(lengths))
        ids._count = len(lengths)
        order = arrays["id_order"].astype(np.int32)  # sorted when exported
        ids._searched = (arrays["id_hashes"].astype(np.uint32)[order], order)
        ids._indexed = len(lengths)
        return ids


class _ById(Sequence[str]):
    """Every row's id, by row: ``index.ids[row]``."""

    def __init__(self, ids: RowIds) -> None:
        self._ids = ids

    @overload
    def __getitem__(self, row: int) -> str: ...
    @overload
    def __getitem__(self, row: slice) -> list[str]: ...
    def __getitem__(self, row: int | slice) -> str | list[str]:
        if isinstance(row, slice):
            return [self._ids.id_at(r) for r in range(*row.indices(len(self)))]
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(row)
        return self._ids.id_at(row)

    def __len__(self) -> int:
        return self._ids.size
