"""The LMDB hot cache: bounded per kind, least-recently-used eviction, never the only copy.

Values are opaque bytes under ``(kind, key)``. Reads are lock-free LMDB read transactions;
a read's "recently used" touch is remembered in memory and written with the next ``put``,
so the read path never takes the writer lock. Several processes may share one cache
directory: LMDB readers never block, writers serialize on LMDB's own lock.

If the cache files are unreadable (e.g. after a crash with ``sync=False``) the cache is
rebuilt empty: everything in it can be reloaded from the durable store.
"""

from __future__ import annotations

import logging
import os
import shutil
import struct
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import lmdb

from ..errors import StorageError

__all__ = ["LmdbCache"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_STAMP = struct.Struct(">Q")
_DEFAULT_MAX = 10_000


class _SharedEnv:
    """One LMDB environment per path per process (LMDB allows no more), shared by handles.

    ``write_lock`` serializes this process's write transactions and database opens, so no
    thread ever waits on LMDB's writer mutex while another thread of ours holds it.
    """

    def __init__(self, env: Any) -> None:
        self.env = env
        self.users = 1
        self.write_lock = threading.Lock()
        self.dbs: dict[str, Any] = {}


_ENVIRONMENTS: dict[str, _SharedEnv] = {}
_ENV_LOCK = threading.Lock()


def _open_lmdb(path: Path, map_size: int) -> Any:
    return lmdb.open(str(path), map_size=map_size, max_dbs=64, sync=False, metasync=False)


def _acquire_env(path: Path, map_size: int) -> _SharedEnv:
    key = os.path.realpath(path)
    with _ENV_LOCK:
        shared = _ENVIRONMENTS.get(key)
        if shared is not None:
            shared.users += 1
            return shared
        path.mkdir(parents=True, exist_ok=True)
        try:
            env = _open_lmdb(path, map_size)
        except lmdb.Error:
            logger.warning("LMDB cache at %s is unreadable; rebuilding it empty", path)
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True, exist_ok=True)
            env = _open_lmdb(path, map_size)
        shared = _ENVIRONMENTS[key] = _SharedEnv(env)
        return shared


def _release_env(path: Path) -> None:
    key = os.path.realpath(path)
    with _ENV_LOCK:
        shared = _ENVIRONMENTS[key]
        shared.users -= 1
        if shared.users == 0:
            del _ENVIRONMENTS[key]
            shared.env.sync(True)
            shared.env.close()


class LmdbCache:
    """A :class:`~selfmem.storage.base.HotCache` on LMDB.

    ``max_entries`` bounds each kind (``{"episode": 1000}``); kinds not named keep up to
    10,000 entries. The map grows by doubling when full.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_entries: Mapping[str, int] | None = None,
        map_size: int = 64 * 1024 * 1024,
    ) -> None:
        self.path = Path(path)
        self._max = dict(max_entries or {})
        try:
            self._shared = _acquire_env(self.path, map_size)
        except lmdb.Error as exc:
            raise StorageError(f"cannot open LMDB cache at {self.path}: {exc}") from exc
        self._env = self._shared.env
        self._dbs = self._shared.dbs
        self._touched: dict[tuple[str, str], None] = {}
        self._lock = threading.Lock()
        self._closed = False

    def _db(self, name: str) -> Any:
        """An open named database. Must be opened outside any transaction (see ``_ensure``)."""
        return self._dbs[name]

    def _ensure(self, kind: str) -> None:
        """Open the databases of ``kind`` (LMDB forbids this inside a write transaction)."""
        if f"{kind}.lru" in self._dbs:
            return
        with self._shared.write_lock:
            for name in ("meta", kind, f"{kind}.stamp", f"{kind}.lru"):
                if name not in self._dbs:
                    self._dbs[name] = self._env.open_db(name.encode())

    def _write(self, work: Callable[[Any], _T]) -> _T:
        """Run ``work(txn)`` in a write transaction, growing the map once if it is full."""
        for attempt in range(8):
            try:
                with self._shared.write_lock, self._env.begin(write=True) as txn:
                    return work(txn)
            except lmdb.MapFullError:
                new_size = self._env.info()["map_size"] * 2
                logger.info("LMDB cache %s full; growing map to %d bytes", self.path, new_size)
                with self._shared.write_lock:
                    self._env.set_mapsize(new_size)
                if attempt == 7:
                    raise
            except lmdb.Error as exc:
                raise StorageError(f"LMDB cache write failed: {exc}") from exc
        raise StorageError("LMDB cache write failed: map could not grow")  # pragma: no cover

    def _next_stamp(self, txn: Any) -> bytes:
        meta = self._db("meta")
        raw = txn.get(b"clock", db=meta)
        value = (_STAMP.unpack(raw)[0] if raw else 0) + 1
        txn.put(b"clock", _STAMP.pack(value), db=meta)
        return _STAMP.pack(value)

    def _touch(self, txn: Any, kind: str, key: bytes) -> None:
        stamps, order = self._db(f"{kind}.stamp"), self._db(f"{kind}.lru")
        old = txn.get(key, db=stamps)
        if old is not None:
            txn.delete(old, db=order)
        stamp = self._next_stamp(txn)
        txn.put(key, stamp, db=stamps)
        txn.put(stamp, key, db=order)

    def _evict(self, txn: Any, kind: str) -> None:
        limit = self._max.get(kind, _DEFAULT_MAX)
        data, stamps, order = self._db(kind), self._db(f"{kind}.stamp"), self._db(f"{kind}.lru")
        excess = txn.stat(data)["entries"] - limit
        if excess <= 0:
            return
        cursor = txn.cursor(db=order)
        cursor.first()
        for _ in range(excess):
            _, key = cursor.item()
            txn.delete(key, db=data)
            txn.delete(key, db=stamps)
            if not cursor.delete():
                break

    def _apply_touches(self, txn: Any) -> None:
        with self._lock:
            touched, self._touched = self._touched, {}
        for kind, key in touched:
            if kind not in self._dbs:
                continue
            if txn.get(key.encode(), db=self._db(kind)) is not None:
                self._touch(txn, kind, key.encode())

    # -- HotCache ---------------------------------------------------------------------------

    def get(self, kind: str, key: str) -> bytes | None:
        self._check_open()
        self._ensure(kind)
        db = self._db(kind)
        try:
            with self._env.begin(db=db) as txn:
                value = txn.get(key.encode())
        except lmdb.Error as exc:
            raise StorageError(f"LMDB cache read failed: {exc}") from exc
        if value is not None:
            with self._lock:
                self._touched[(kind, key)] = None
            return bytes(value)
        return None

    def put(self, kind: str, key: str, value: bytes) -> None:
        self._check_open()
        self._ensure(kind)

        def work(txn: Any) -> None:
            self._apply_touches(txn)
            txn.put(key.encode(), value, db=self._db(kind))
            self._touch(txn, kind, key.encode())
            self._evict(txn, kind)

        self._write(work)

    def delete(self, kind: str, key: str) -> None:
        self._check_open()
        self._ensure(kind)

        def work(txn: Any) -> None:
            raw = key.encode()
            stamp = txn.get(raw, db=self._db(f"{kind}.stamp"))
            if stamp is not None:
                txn.delete(stamp, db=self._db(f"{kind}.lru"))
            txn.delete(raw, db=self._db(f"{kind}.stamp"))
            txn.delete(raw, db=self._db(kind))

        self._write(work)
        with self._lock:
            self._touched.pop((kind, key), None)

    def keys(self, kind: str) -> list[str]:
        self._check_open()
        self._ensure(kind)
        with self._env.begin(db=self._db(kind)) as txn:
            return [bytes(k).decode() for k in txn.cursor().iternext(keys=True, values=False)]

    def clear(self) -> None:
        self._check_open()

        with self._env.begin() as txn:
            names = [bytes(k).decode() for k in txn.cursor().iternext(keys=True, values=False)]
        with self._shared.write_lock:
            for name in names:
                if name not in self._dbs:
                    self._dbs[name] = self._env.open_db(name.encode())

        def work(txn: Any) -> None:
            for name in names:
                txn.drop(self._db(name), delete=False)

        self._write(work)
        with self._lock:
            self._touched.clear()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _release_env(self.path)

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("the cache is closed")
