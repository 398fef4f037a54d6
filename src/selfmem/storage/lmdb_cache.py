"""The LMDB hot cache: bounded per kind, least-recently-used eviction, never the only copy.

Values are opaque bytes under ``(kind, key)``. Reads are lock-free LMDB read transactions;
a read's "recently used" touch is remembered in memory and written with the next ``put``,
so the read path never takes the writer lock. Several processes may share one cache
directory: LMDB readers never block, writers serialize on LMDB's own lock.

Every failure surfaces as :class:`~selfmem.errors.StorageError`, never as an ``lmdb`` error.
A cache whose files are unreadable, when opened or later, is moved aside and rebuilt empty
(:mod:`.lmdb_env`): everything in it can be reloaded from the durable store. A full map
doubles, up to ``max_map_size``; past that, writes fail (as on a full disk) and the callers
carry on without the cache.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import lmdb

from ..errors import StorageError
from . import lmdb_env

__all__ = ["LmdbCache"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_STAMP = struct.Struct(">Q")
_DEFAULT_MAX = 10_000
_ATTEMPTS = 8


class LmdbCache:
    """A :class:`~selfmem.storage.base.HotCache` on LMDB.

    ``max_entries`` bounds each kind (``{"episode": 1000}``); kinds not named keep up to
    10,000 entries. The map starts at ``map_size`` and doubles when full, up to
    ``max_map_size`` bytes (unbounded if None).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_entries: Mapping[str, int] | None = None,
        map_size: int = 64 * 1024 * 1024,
        max_map_size: int | None = None,
    ) -> None:
        self.path = Path(path)
        self._max = dict(max_entries or {})
        self._max_map = max_map_size
        try:
            self._shared = lmdb_env.acquire(self.path, map_size)
        except (lmdb.Error, OSError) as exc:
            raise StorageError(f"cannot open LMDB cache at {self.path}: {exc}") from exc
        self._touched: dict[tuple[str, str], None] = {}
        self._lock = threading.Lock()
        self._closed = False

    # -- running transactions ---------------------------------------------------------------

    def _db(self, name: str) -> Any:
        """An open named database (opened by :meth:`_run` before its transaction began)."""
        return self._shared.dbs[name]

    def _open_dbs(self, env: Any, names: Iterable[str]) -> None:
        """Open named databases (LMDB forbids this inside a transaction)."""
        dbs = self._shared.dbs
        missing = [name for name in names if name not in dbs]
        if missing:
            with self._shared.write_lock:
                for name in missing:
                    if name not in dbs:
                        dbs[name] = env.open_db(name.encode())

    def _run(self, work: Callable[[Any], _T], *, write: bool, dbs: Iterable[str] = ()) -> _T:
        """``work(txn)`` in one transaction, after opening ``dbs``. A full map grows, a map
        another process grew is adopted, a damaged cache is rebuilt empty (once), and
        ``work`` runs again. Every lmdb error is raised as :class:`StorageError`."""
        self._check_open()
        shared = self._shared
        names = tuple(dbs)
        rebuilt = False
        for _ in range(_ATTEMPTS):
            generation = shared.generation
            try:
                return self._attempt(work, write, names)
            except lmdb.Error as exc:  # _attempt has left the environment: recovery may
                try:  # need it alone
                    rebuilt = self._recover(exc, generation, rebuilt=rebuilt)
                except (lmdb.Error, OSError) as failure:
                    raise StorageError(f"LMDB cache at {self.path} failed: {failure}") from exc
        raise StorageError(f"LMDB cache at {self.path} failed: its map kept changing")

    def _attempt(self, work: Callable[[Any], _T], write: bool, names: tuple[str, ...]) -> _T:
        shared = self._shared
        env = shared.enter()
        try:
            self._open_dbs(env, names)
            if not write:
                with env.begin() as txn:
                    return work(txn)
            with shared.write_lock, env.begin(write=True) as txn:
                return work(txn)
        finally:
            shared.leave()

    def _recover(self, exc: lmdb.Error, generation: int, *, rebuilt: bool) -> bool:
        """Make another attempt worth it (grow the map, adopt another process's map size,
        rebuild a damaged cache once), or raise :class:`StorageError`. Returns whether the
        cache has been rebuilt."""
        if isinstance(exc, lmdb.MapFullError):
            self._grow()
        elif isinstance(exc, lmdb.MapResizedError):  # another process grew the file
            self._shared.resize(0)
        elif isinstance(exc, lmdb_env.CORRUPTION) and not rebuilt:
            self._shared.rebuild(generation, exc)
            return True
        else:
            raise StorageError(f"LMDB cache at {self.path} failed: {exc}") from exc
        return rebuilt

    def _grow(self) -> None:
        with self._shared.using() as env:
            current = int(env.info()["map_size"])
        target = current * 2 if self._max_map is None else min(current * 2, self._max_map)
        if target <= current:
            raise StorageError(f"LMDB cache at {self.path} is full ({current} bytes, the "
                               "most it may use)")  # fmt: skip
        logger.info("LMDB cache %s full; growing map to %d bytes", self.path, target)
        self._shared.resize(target, grow_from=current)

    # -- recency ----------------------------------------------------------------------------

    @staticmethod
    def _names(kind: str) -> tuple[str, ...]:
        return ("meta", kind, f"{kind}.stamp", f"{kind}.lru")

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

    def _apply_touches(self, txn: Any, kind: str) -> None:
        """Write the remembered touches of ``kind`` (the databases this write opened)."""
        with self._lock:
            touched = [key for k, key in self._touched if k == kind]
            for key in touched:
                del self._touched[(kind, key)]
        for key in touched:
            if txn.get(key.encode(), db=self._db(kind)) is not None:
                self._touch(txn, kind, key.encode())

    # -- HotCache ---------------------------------------------------------------------------

    def get(self, kind: str, key: str) -> bytes | None:
        raw = key.encode()

        def work(txn: Any) -> bytes | None:
            value = txn.get(raw, db=self._db(kind))
            return None if value is None else bytes(value)

        value = self._run(work, write=False, dbs=self._names(kind))
        if value is not None:
            with self._lock:
                self._touched[(kind, key)] = None
        return value

    def put(self, kind: str, key: str, value: bytes) -> None:
        def work(txn: Any) -> None:
            self._apply_touches(txn, kind)
            txn.put(key.encode(), value, db=self._db(kind))
            self._touch(txn, kind, key.encode())
            self._evict(txn, kind)

        self._run(work, write=True, dbs=self._names(kind))

    def delete(self, kind: str, key: str) -> None:
        raw = key.encode()

        def work(txn: Any) -> None:
            stamp = txn.get(raw, db=self._db(f"{kind}.stamp"))
            if stamp is not None:
                txn.delete(stamp, db=self._db(f"{kind}.lru"))
            txn.delete(raw, db=self._db(f"{kind}.stamp"))
            txn.delete(raw, db=self._db(kind))

        with self._lock:
            self._touched.pop((kind, key), None)
        self._run(work, write=True, dbs=self._names(kind))

    def keys(self, kind: str) -> list[str]:
        def work(txn: Any) -> list[str]:
            cursor = txn.cursor(db=self._db(kind))
            return [bytes(k).decode() for k in cursor.iternext(keys=True, values=False)]

        return self._run(work, write=False, dbs=self._names(kind))

    def clear(self) -> None:
        def names(txn: Any) -> list[str]:
            return [bytes(k).decode() for k in txn.cursor().iternext(keys=True, values=False)]

        found = self._run(names, write=False)

        def work(txn: Any) -> None:
            for name in found:
                txn.drop(self._db(name), delete=False)

        with self._lock:
            self._touched.clear()
        self._run(work, write=True, dbs=found)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                lmdb_env.release(self.path)
            except lmdb.Error as exc:
                raise StorageError(f"closing LMDB cache at {self.path} failed: {exc}") from exc

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("the cache is closed")
