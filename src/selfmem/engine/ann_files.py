"""The HNSW index of a namespace, saved beside the hot cache so a start need not rebuild it.

Building the graph over 100,000 vectors takes about half a minute; reading it back about a
second (mostly unsealing). When a background build ends, and at close if the graph changed
since it was built, read or saved, it is written to
``<cache directory>/hnsw/<digest of the namespace>.bin`` with the ids of the episodes it
holds and the store's change-log cursor it reflects. On the next start it is used only if
all of these hold, else it is ignored and the graph is rebuilt (exact search meanwhile, as
without a saved graph):

- every piece unseals under the current sealing key and belongs to one write (a file cut
  short, overwritten with garbage, or sealed under a key a delete has since destroyed, is
  not used);
- it was saved for the same namespace, embedding model, dimension and storage type;
- the change log since its cursor is complete and holds no deletion and no new vector of
  the namespace;
- the episodes it holds are exactly the indexed episodes that have a vector.

Deleted episodes never come back from it: it is sealed like every cache value
(:mod:`selfmem.storage.sealing`), and a delete rotates the key; a graph from which a row was
removed is not saved at all (the graph keeps a removed vector's bytes), and a save is
abandoned if the change log shows a deletion of an episode the graph still holds. The
sealing function is taken *before* that look at the log, as for index snapshots.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..retrieval.ann import AnnIndex
from ..retrieval.index import EpisodeIndex
from ..storage.changes import DELETED, EMBEDDING, Change, ChangeFeed
from . import sealed_files

__all__ = ["AnnFiles"]

logger = logging.getLogger(__name__)

_MAGIC = b"SMHNSW01"
_FORMAT = 1
_BAD = (ValueError, KeyError, TypeError, IndexError, struct.error, OSError, RuntimeError)


class AnnFiles:
    """Saves and reads namespace HNSW graphs in ``directory``, sealed, checked against ``feed``.

    ``sealer()`` returns a function sealing with the key current at that moment; ``unseal``
    opens a value (None if it no longer opens). ``saved`` / ``restored`` count graphs
    written and read back by this object.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        feed: ChangeFeed,
        *,
        sealer: Callable[[], Callable[[bytes], bytes]],
        unseal: Callable[[bytes], bytes | None],
    ) -> None:
        self.directory = Path(directory)
        self._feed = feed
        self._sealer = sealer
        self._unseal = unseal
        self._cursors: dict[str, int] = {}
        self.saved = 0
        self.restored = 0

    def path(self, namespace: str) -> Path:
        return sealed_files.path_for(self.directory, namespace)

    def begin(self, namespace: str) -> None:
        """Call before the namespace's index is loaded: deletions logged after this cursor
        are checked at save time (earlier ones are reflected by the index)."""
        self._cursors[namespace] = self._feed.change_counter()

    # -- reading ----------------------------------------------------------------------------

    def load(self, namespace: str, model: str, index: EpisodeIndex) -> AnnIndex | None:
        """The namespace's saved graph if it is current for ``index``, else None."""
        path = self.path(namespace)
        if not path.exists():
            return None
        try:
            with path.open("rb") as file:
                found = self._read(file, namespace, model, index)
        except _BAD:
            logger.warning("saved HNSW index of %r is unreadable; rebuilding it", namespace,
                           exc_info=True)  # fmt: skip
            return None
        if found is not None:
            self.restored += 1
            logger.info("HNSW index of %r read from %s", namespace, path)
        return found

    def _read(
        self, file: BinaryIO, namespace: str, model: str, index: EpisodeIndex
    ) -> AnnIndex | None:
        header = sealed_files.read_header(file, _MAGIC, self._unseal)
        if not self._current(header, namespace, model, index):
            return None
        rows = _rows_of(header["ids"], index)
        if rows is None:
            logger.info("saved HNSW index of %r is stale (other episodes); rebuilding", namespace)
            return None
        graph = sealed_files.read_body(file, header, self._unseal)
        slots = np.asarray(header["slots"], dtype=np.int64)
        row_of_slot = np.full(len(slots) and int(slots.max()) + 1, -1, dtype=np.int64)
        row_of_slot[slots] = rows
        return AnnIndex.restore(int(header["dim"]), str(header["dtype"]), graph, row_of_slot)

    def _current(
        self, header: dict[str, Any], namespace: str, model: str, index: EpisodeIndex
    ) -> bool:
        expected = (_FORMAT, namespace, model)
        if (header.get("format"), header.get("namespace"), header.get("embedder")) != expected:
            return False
        if index.vectors is None or int(header["dim"]) != index.vectors.shape[1]:
            return False
        _, changes = self._changes(namespace, int(header["cursor"]))
        if changes is None or any(c.kind in (DELETED, EMBEDDING) for c in changes):
            logger.info("saved HNSW index of %r is stale (the log shows newer vectors or "
                        "deletions); rebuilding", namespace)  # fmt: skip
            return False
        return True

    def _changes(self, namespace: str, cursor: int) -> tuple[int, list[Change] | None]:
        """The log's cursor and the namespace's changes after ``cursor`` (None: pruned)."""
        found: list[Change] = []
        while True:
            changes = self._feed.changes_since(cursor)
            if not changes.complete:
                return cursor, None
            found.extend(c for c in changes.changes if c.namespace == namespace)
            cursor = changes.cursor
            if not changes.more:
                return cursor, found

    # -- writing ----------------------------------------------------------------------------

    def save(self, namespace: str, model: str, index: EpisodeIndex) -> bool:
        """Write the namespace's graph if it may be saved; True if it was written."""
        ann = index.ann
        if ann is None or not ann.ready:
            return False
        if ann.removals:
            self.drop(namespace)  # the graph still holds removed vectors' bytes
            return False
        seal = self._sealer()  # before reading the log: see the module docstring
        begun = self._cursors.get(namespace)
        cursor, changes = self._changes(namespace, begun) if begun is not None else (0, None)
        graph, row_of_slot = ann.export()
        slots = np.flatnonzero(row_of_slot >= 0)
        with index.lock:
            ids = [index.ids[int(r)] for r in row_of_slot[slots].tolist()]
            gone = bool((index.row_of.rows_of(ids) < 0).any())
        deleted = {c.key for c in changes or () if c.kind == DELETED}
        if changes is None or gone or deleted.intersection(ids):
            self.drop(namespace)
            return False
        header = {"format": _FORMAT, "namespace": namespace, "embedder": model,
                  "dim": ann.dim, "dtype": ann.dtype, "cursor": cursor,
                  "gen": sealed_files.new_gen(), "bytes": len(graph),
                  "ids": ids, "slots": slots.tolist()}  # fmt: skip
        try:
            sealed_files.write(self.path(namespace), _MAGIC, header, graph, seal)
        except OSError:
            logger.warning("saving the HNSW index of %r failed", namespace, exc_info=True)
            return False
        self.saved += 1
        return True

    def drop(self, namespace: str) -> None:
        """Delete the namespace's saved graph."""
        self.path(namespace).unlink(missing_ok=True)


def _rows_of(ids: list[str], index: EpisodeIndex) -> np.ndarray | None:
    """The rows of ``ids`` in ``index``, if they are exactly its rows with a vector."""
    with index.lock:
        found = index.row_of.rows_of(ids)
        if (found < 0).any() or not bool(index.has_vector[found].all()):
            return None
        if int(index.has_vector[: index.size].sum()) != len(found):
            return None
    return found
