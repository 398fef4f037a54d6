"""Warm starts: a sealed copy of a namespace's retrieval index beside the hot cache.

Building an index reads every index row and vector of the namespace from the store, a full
download at each start when the store is a server. So after a full load, every
``save_every`` changes and at close, the index (live rows only, vectors included) is written
to ``<cache directory>/index/<digest of the namespace>.bin`` with the store's change-log
cursor it reflects. The next start reads it back and applies only the changes logged since:
deleted episodes are removed, completed ones fetched, new vectors loaded. A snapshot that
does not unseal (the sealing key was rotated by a delete), is of another format or embedding
model, is incomplete, or whose changes were pruned from the log, is ignored: the index is
loaded from the store as before.

The file is sealed like every cache value (:mod:`selfmem.engine.sealed_files`); it is a file
rather than cache values so that a start reads it in one pass into memory of its own (a
million episodes make a snapshot of about 300 MB). Before writing, deletions logged since the
cursor are applied, and the sealing function is taken *before* that look at the log: a
snapshot sealed with the current key therefore never holds an episode deleted before it was
written (a delete rotates the key after it commits).
"""

from __future__ import annotations

import json
import logging
import os
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import StorageError
from ..records.index_rows import index_row
from ..retrieval.index import EpisodeIndex, IndexState
from ..storage.base import EpisodeStore, HotCache
from ..storage.changes import DELETED, EMBEDDING, EPISODE, Change, ChangeFeed
from . import sealed_files
from .ann_files import AnnFiles

__all__ = ["EmbeddingLookup", "IndexSnapshots"]

logger = logging.getLogger(__name__)

#: The cache kind that held snapshots before they became files (removed when one is saved).
_LEGACY_KIND = "index_snapshot"
#: 3: postings in both layouts, 16-bit frequencies, ids as bytes; 4: terms in any script (a
#: snapshot of format 3 holds ASCII-only terms of non-ASCII texts: the store is read again)
_FORMAT = 4
_MAGIC = b"SMIX"
_FILE_MAGIC = b"SMINDEX1"
_LENGTH = struct.Struct(">I")
_DTYPES = frozenset({"|b1", "|u1", "<u2", "<u4", "<i4", "<i8", "<f4", "<f8"})
_BAD = (ValueError, KeyError, TypeError, IndexError, struct.error, OSError)


@runtime_checkable
class EmbeddingLookup(Protocol):
    """A store that can return the vectors of a few episodes (used when it has it)."""

    def load_embeddings_for(
        self, namespace: str, model: str, episode_ids: Sequence[str]
    ) -> list[tuple[str, bytes]]: ...


@dataclass(frozen=True, slots=True)
class _Log:
    """The changes of one namespace after a cursor; ``removed`` are finally deleted."""

    cursor: int
    changes: tuple[Change, ...]

    def removed(self) -> set[str]:
        return {c.key for c in self.changes if c.kind == DELETED}

    def live(self) -> list[Change]:
        """Completions and vectors not undone by a later deletion of the episode."""
        last_delete = {c.key: i for i, c in enumerate(self.changes) if c.kind == DELETED}
        return [c for i, c in enumerate(self.changes)
                if c.kind != DELETED and last_delete.get(c.key, -1) < i]  # fmt: skip


def encode_state(state: IndexState) -> bytes:
    """``SMIX``, the header's length, the header (JSON), then every array's bytes."""
    arrays = [(name, np.ascontiguousarray(a)) for name, a in state.arrays.items()]
    header = json.dumps(
        {"lists": state.lists, "model": state.model,
         "arrays": [[name, a.dtype.str, list(a.shape)] for name, a in arrays]},
        separators=(",", ":"),
    ).encode()  # fmt: skip
    return b"".join([_MAGIC, _LENGTH.pack(len(header)), header, *(a.tobytes() for _, a in arrays)])


def decode_state(blob: bytes | bytearray) -> IndexState:
    if blob[:4] != _MAGIC:
        raise ValueError("not an index snapshot")
    (length,) = _LENGTH.unpack_from(blob, 4)
    header = json.loads(blob[8 : 8 + length])
    offset = 8 + length
    arrays: dict[str, Any] = {}
    for name, dtype, shape in header["arrays"]:
        if dtype not in _DTYPES:
            raise ValueError(f"unexpected dtype {dtype!r}")
        count = int(np.prod(shape, dtype=np.int64))
        arrays[name] = np.frombuffer(blob, dtype=np.dtype(dtype), count=count, offset=offset)
        arrays[name] = arrays[name].reshape(shape)
        offset += arrays[name].nbytes
    if offset != len(blob):
        raise ValueError("index snapshot has trailing bytes")
    return IndexState(header["lists"], arrays, header["model"])


class IndexSnapshots:
    """Saves and restores namespace indexes in files beside ``cache``, kept current by
    ``feed``.

    ``sealer()`` returns a function that seals with the key current at that moment;
    ``unseal`` opens a value (None if it no longer opens). ``max_fetch`` bounds how many
    completed episodes a restore fetches one by one before a full load is cheaper;
    ``max_bytes`` bounds a snapshot (larger indexes are not snapshotted).
    """

    def __init__(
        self,
        store: EpisodeStore,
        feed: ChangeFeed,
        cache: HotCache,
        *,
        sealer: Callable[[], Callable[[bytes], bytes]],
        unseal: Callable[[bytes], bytes | None],
        save_every: int = 1_000,
        max_fetch: int = 500,
        max_bytes: int = 1 << 30,
    ) -> None:
        folder = getattr(cache, "path", None)
        if not isinstance(folder, os.PathLike | str):
            raise TypeError("index snapshots need a cache kept in a folder")
        self.directory = Path(folder)
        self._store = store
        self._feed = feed
        self._cache = cache
        self._sealer = sealer
        self._unseal = unseal
        self.save_every = save_every
        self.max_fetch = max_fetch
        self.max_bytes = max_bytes
        self._cursors: dict[str, int] = {}
        self._dirty: dict[str, int] = {}
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._legacy_dropped = False

    def path(self, namespace: str) -> Path:
        """The namespace's snapshot file."""
        return sealed_files.path_for(self.directory / "index", namespace)

    # -- bookkeeping ------------------------------------------------------------------------

    def begin_load(self, namespace: str) -> None:
        """Call before a full load: the cursor the loaded index will reflect at least."""
        cursor = self._feed.change_counter()
        with self._lock:
            self._cursors[namespace] = cursor
            self._dirty[namespace] = 0

    def note(self, namespace: str) -> bool:
        """Count a change of the namespace's index; True when a save is due."""
        with self._lock:
            if namespace not in self._cursors:
                return False
            self._dirty[namespace] = self._dirty.get(namespace, 0) + 1
            return self._dirty[namespace] >= self.save_every

    def is_dirty(self, namespace: str) -> bool:
        with self._lock:
            return self._dirty.get(namespace, 0) > 0

    # -- reading ----------------------------------------------------------------------------

    def _log(self, namespace: str, cursor: int) -> _Log | None:
        """The namespace's changes after ``cursor``; None if the log was pruned past it."""
        found: list[Change] = []
        while True:
            changes = self._feed.changes_since(cursor)
            if not changes.complete:
                return None
            found.extend(c for c in changes.changes if c.namespace == namespace)
            cursor = changes.cursor
            if not changes.more:
                return _Log(cursor, tuple(found))

    def _read(self, namespace: str, model: str | None) -> tuple[IndexState, _Log] | None:
        path = self.path(namespace)
        if not path.exists():
            return None
        with path.open("rb") as file:
            header = sealed_files.read_header(file, _FILE_MAGIC, self._unseal)
            if header.get("namespace") != namespace:  # the name is a digest of the namespace
                logger.warning("index snapshot at %s belongs to another namespace; ignored",
                               path)  # fmt: skip
                return None
            if (header.get("format"), header.get("embedder")) != (_FORMAT, model):
                return None
            log = self._log(namespace, int(header["cursor"]))
            if log is None:
                return None
            return decode_state(sealed_files.read_body(file, header, self._unseal)), log

    def restore(self, namespace: str, model: str | None) -> EpisodeIndex | None:
        """The namespace's index from its snapshot plus the logged changes since, or None
        (no usable snapshot: load from the store)."""
        try:
            found = self._read(namespace, model)
        except _BAD:
            logger.warning("index snapshot of %r is unreadable; loading it from the store",
                           namespace, exc_info=True)  # fmt: skip
            return None
        if found is None:
            return None
        state, log = found
        index = EpisodeIndex.from_state(state)
        del state, found  # the snapshot's bytes are freed before the catch-up reads
        if not self._catch_up(namespace, index, log, model):
            return None
        with self._lock:
            self._cursors[namespace] = log.cursor
            self._dirty[namespace] = len(log.changes)
        logger.info("index of %r restored from its snapshot plus %d changes",
                    namespace, len(log.changes))  # fmt: skip
        return index

    def _catch_up(self, namespace: str, index: EpisodeIndex, log: _Log, model: str | None) -> bool:
        for key in log.removed():
            index.remove(key)
        live = log.live()
        fetch = list(dict.fromkeys(c.key for c in live
                                   if c.kind == EPISODE and c.key not in index.row_of))  # fmt: skip
        if len(fetch) > self.max_fetch:
            return False
        for key in fetch:
            episode = self._store.get_episode(namespace, key)
            if episode is not None and episode.is_complete:
                index.add(index_row(episode))
        if model is not None:
            wanted = list(dict.fromkeys(c.key for c in live if c.kind == EMBEDDING
                                        and not _has_vector(index, c.key)))  # fmt: skip
            if wanted:
                self._attach(namespace, index, model, wanted)
        return True

    def _attach(self, namespace: str, index: EpisodeIndex, model: str, ids: list[str]) -> None:
        if isinstance(self._store, EmbeddingLookup):
            found = self._store.load_embeddings_for(namespace, model, ids)
        else:  # one query for every vector of the namespace, still no index rows
            wanted = set(ids)
            found = [p for p in self._store.load_embeddings(namespace, model) if p[0] in wanted]
        index.set_vectors(model, [(eid, np.frombuffer(b, dtype=np.float32)) for eid, b in found])

    # -- writing ----------------------------------------------------------------------------

    def save(self, namespace: str, index: EpisodeIndex, model: str | None) -> bool:
        """Write the namespace's snapshot; False if it was not written (logged)."""
        with self._save_lock:
            try:
                return self._save(namespace, index, model)
            except (StorageError, OSError):
                logger.warning("saving the index snapshot of %r failed", namespace,
                               exc_info=True)  # fmt: skip
                return False

    def _save(self, namespace: str, index: EpisodeIndex, model: str | None) -> bool:
        seal = self._sealer()  # before reading the log: see the module docstring
        with self._lock:
            cursor = self._cursors.get(namespace)
            seen = self._dirty.get(namespace, 0)
        log = self._log(namespace, cursor) if cursor is not None else None
        if log is None:
            self.drop(namespace)
            return False
        with index.lock:
            for key in log.removed():
                index.remove(key)
            cursor = _reflected(index, log, model)
            state = index.export_state()  # copies: queries go on while it is encoded
        blob = encode_state(state)
        del state
        if len(blob) > self.max_bytes:
            logger.info("index of %r is too large to snapshot (%d bytes)", namespace, len(blob))
            self.drop(namespace)
            return False
        header = {"format": _FORMAT, "namespace": namespace, "embedder": model,
                  "cursor": cursor, "gen": sealed_files.new_gen(), "bytes": len(blob)}  # fmt: skip
        sealed_files.write(self.path(namespace), _FILE_MAGIC, header, blob, seal)
        self._drop_legacy()
        with self._lock:
            self._cursors[namespace] = cursor
            self._dirty[namespace] = max(0, self._dirty.get(namespace, 0) - seen)
        return True

    def _drop_legacy(self) -> None:
        """Remove snapshots an earlier version kept as cache values (once a process)."""
        if self._legacy_dropped:
            return
        for key in self._cache.keys(_LEGACY_KIND):
            self._cache.delete(_LEGACY_KIND, key)
        self._legacy_dropped = True

    def drop(self, namespace: str) -> None:
        """Delete the namespace's snapshot."""
        self.path(namespace).unlink(missing_ok=True)

    def ann_files(self) -> AnnFiles:
        """Saved HNSW graphs beside the cache, sealed like it."""
        return AnnFiles(self.directory / "hnsw", self._feed, sealer=self._sealer,
                        unseal=self._unseal)  # fmt: skip


def _has_vector(index: EpisodeIndex, episode_id: str) -> bool:
    row = index.row_of.get(episode_id)
    return row is None or bool(index.has_vector[row])  # an unindexed episode needs none


def _reflected(index: EpisodeIndex, log: _Log, model: str | None) -> int:
    """The latest cursor ``index`` reflects: before the first logged completion it lacks, or
    (with an embedder) the first logged vector it lacks."""
    for change in log.live():
        missing = change.key not in index.row_of
        if change.kind == EPISODE and missing:
            return change.seq - 1
        if (
            change.kind == EMBEDDING
            and model is not None
            and (missing or not index.has_vector[index.row_of[change.key]])
        ):
            return change.seq - 1
    return log.cursor
