"""One LMDB environment per cache directory per process: checked before it is mapped, and
rebuilt empty when it turns out unreadable.

LMDB maps ``data.mdb`` and trusts it. A file shorter than its meta pages say (a crash with
``sync=False``, a full disk, a copy cut short) makes the first read past its end kill the
process with ``SIGBUS``; garbled pages raise ``lmdb.CorruptedError`` on every use. So the two
meta pages are read with plain file I/O before the file is mapped: both must carry LMDB's
magic and data version, and the file must hold every page up to the last one the newer meta
records. A file that fails the check, or an environment that reports corruption later, is
moved aside (``data.mdb.unreadable``, replacing an earlier one; ``lock.mdb`` is removed) and a
fresh, empty one is opened. Everything in it can be reloaded from the durable store.

Every use of the environment runs inside :meth:`SharedEnv.using`; replacing the environment
or growing its map waits until no use is in flight, since LMDB allows neither while a
transaction of this process is open.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lmdb

__all__ = ["CORRUPTION", "SharedEnv", "acquire", "check_data_file", "release"]

logger = logging.getLogger(__name__)

DATA_FILE = "data.mdb"
LOCK_FILE = "lock.mdb"
ASIDE_SUFFIX = ".unreadable"

#: The lmdb errors that mean the files are damaged, not that an operation failed.
CORRUPTION: tuple[type[lmdb.Error], ...] = (
    lmdb.CorruptedError,
    lmdb.PageNotFoundError,
    lmdb.InvalidError,
    lmdb.VersionMismatchError,
    lmdb.PanicError,
    lmdb.IncompatibleError,
    lmdb.BadChecksumError,
)

# The meta record at offset 16 of pages 0 and 1 (native byte order, 64-bit build):
# magic, version, fixed address, map size; then two MDB_db records of 48 bytes (the first
# one's leading u32 is the page size, the second one's root page at its offset 40); then the
# last used page and the transaction id.
_PAGE_HEADER = 16
_HEAD = struct.Struct("=IIQQ")
_U32 = struct.Struct("=I")
_U64 = struct.Struct("=Q")
_PSIZE_AT = _PAGE_HEADER + 24
_ROOT_AT = _PAGE_HEADER + 24 + 48 + 40
_LAST_AT = _PAGE_HEADER + 120
_TXNID_AT = _PAGE_HEADER + 128
_META_END = _TXNID_AT + 8
_MAGIC = 0xBEEFC0DE
_DATA_VERSION = 1
_NO_PAGE = 2**64 - 1


def _meta(page: bytes) -> tuple[int, int, int, int, int] | None:
    """(page size, map size, last page, txn id, main root) of a meta page, or None."""
    if len(page) < _META_END:
        return None
    magic, version, _, map_size = _HEAD.unpack_from(page, _PAGE_HEADER)
    if magic != _MAGIC or version != _DATA_VERSION:
        return None
    (psize,) = _U32.unpack_from(page, _PSIZE_AT)
    (root,) = _U64.unpack_from(page, _ROOT_AT)
    (last,) = _U64.unpack_from(page, _LAST_AT)
    (txnid,) = _U64.unpack_from(page, _TXNID_AT)
    return psize, map_size, last, txnid, root


def check_data_file(directory: Path) -> str | None:
    """Why ``directory``'s ``data.mdb`` must not be mapped, or None if it may be (sound, or
    absent or empty: LMDB initialises those)."""
    path = directory / DATA_FILE
    try:
        with path.open("rb") as file:
            first = file.read(_META_END)
            if not first:
                return None
            meta0 = _meta(first)
            if meta0 is None:
                return "its first meta page is not LMDB's"
            psize = meta0[0]
            if psize < 512 or psize > 65536 or psize & (psize - 1):
                return f"its page size {psize} is impossible"
            file.seek(psize)
            meta1 = _meta(file.read(_META_END))
            if meta1 is None or meta1[0] != psize:
                return "its second meta page is not LMDB's"
            size = os.fstat(file.fileno()).st_size  # after the metas: the file only grows
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"it cannot be read ({exc})"
    _, map_size, last, _, root = max(meta0, meta1, key=lambda m: m[3])
    needed = (last + 1) * psize
    if size < needed:
        return f"it is {size} bytes but its last page ends at byte {needed}"
    if map_size and map_size < needed:
        return f"its map size {map_size} is below its last page ({needed} bytes)"
    if root != _NO_PAGE and root > last:
        return f"its root page {root} is past its last page {last}"
    return None


def _move_aside(directory: Path) -> None:
    data = directory / DATA_FILE
    with contextlib.suppress(FileNotFoundError):
        os.replace(data, data.with_name(DATA_FILE + ASIDE_SUFFIX))
    with contextlib.suppress(FileNotFoundError):
        (directory / LOCK_FILE).unlink()


def _inode(directory: Path) -> int | None:
    try:
        return (directory / DATA_FILE).stat().st_ino
    except OSError:
        return None


def _open(directory: Path, map_size: int) -> Any:
    """An environment on a file that passed the check; rebuilt empty if it did not."""
    directory.mkdir(parents=True, exist_ok=True)
    problem = check_data_file(directory)
    if problem is None:
        try:
            return lmdb.open(str(directory), map_size=map_size, max_dbs=64, sync=False,
                             metasync=False)  # fmt: skip
        except lmdb.Error as exc:  # e.g. a damaged lock file
            problem = str(exc)
    logger.warning("LMDB cache at %s is unreadable (%s); moving it aside and rebuilding it "
                   "empty", directory, problem)  # fmt: skip
    _move_aside(directory)
    return lmdb.open(str(directory), map_size=map_size, max_dbs=64, sync=False, metasync=False)


class _Gate:
    """Many users at once, or one exclusive holder (who waits for the users to leave).
    Re-entrant for users: a thread already inside may enter again. Entering and leaving
    take one uncontended lock each: this is on every cache read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._users = 0
        self._exclusive = False
        self._depth = threading.local()

    def enter(self) -> None:
        depth = getattr(self._depth, "n", 0)
        if depth == 0:
            with self._lock:
                while self._exclusive:
                    self._changed.wait()
                self._users += 1
        self._depth.n = depth + 1

    def leave(self) -> None:
        depth = self._depth.n - 1
        self._depth.n = depth
        if depth == 0:
            with self._lock:
                self._users -= 1
                if self._exclusive and self._users == 0:
                    self._changed.notify_all()

    def inside(self) -> bool:
        return getattr(self._depth, "n", 0) > 0

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._lock:
            while self._exclusive:
                self._changed.wait()
            self._exclusive = True
            while self._users:
                self._changed.wait()
        try:
            yield
        finally:
            with self._lock:
                self._exclusive = False
                self._changed.notify_all()


class SharedEnv:
    """The environment of one directory, shared by this process's caches on it.

    ``write_lock`` serializes this process's write transactions and database opens, so no
    thread ever waits on LMDB's writer mutex while another thread of ours holds it.
    ``generation`` counts rebuilds; ``dbs`` (the open named databases) is emptied by one.
    """

    def __init__(self, directory: Path, map_size: int) -> None:
        self.directory = directory
        self.map_size = map_size
        self.env = _open(directory, map_size)
        self.inode = _inode(directory)
        self.users = 1
        self.generation = 0
        self.write_lock = threading.Lock()
        self.dbs: dict[str, Any] = {}
        self._gate = _Gate()

    def enter(self) -> Any:
        """The environment, which stays open and unresized until :meth:`leave`."""
        self._gate.enter()
        return self.env

    def leave(self) -> None:
        self._gate.leave()

    @contextlib.contextmanager
    def using(self) -> Iterator[Any]:
        """:meth:`enter` and :meth:`leave` around a block."""
        env = self.enter()
        try:
            yield env
        finally:
            self.leave()

    def rebuild(self, generation: int, reason: BaseException) -> None:
        """Replace a damaged environment with an empty one (once per ``generation``; a
        call from inside :meth:`using` is ignored, the next failure outside rebuilds)."""
        if self._gate.inside():
            return
        with self._gate.exclusive():
            if generation != self.generation:
                return  # another thread rebuilt it already
            logger.warning("LMDB cache at %s is damaged (%s); moving it aside and rebuilding "
                           "it empty", self.directory, reason)  # fmt: skip
            with contextlib.suppress(lmdb.Error):
                self.map_size = self.env.info()["map_size"]
            with contextlib.suppress(lmdb.Error):
                self.env.close()
            if _inode(self.directory) == self.inode:  # else another process rebuilt it
                _move_aside(self.directory)
            self.dbs.clear()
            self.env = _open(self.directory, self.map_size)
            self.inode = _inode(self.directory)
            self.generation += 1

    def resize(self, map_size: int, *, grow_from: int | None = None) -> None:
        """Set the map size (0: adopt the size another process grew the file to). With
        ``grow_from``, only if the map is still that size (another thread may have grown it)."""
        with self._gate.exclusive():
            if grow_from is not None and self.env.info()["map_size"] != grow_from:
                return
            self.env.set_mapsize(map_size)
            self.map_size = self.env.info()["map_size"]

    def close(self) -> None:
        with self._gate.exclusive():
            try:
                self.env.sync(True)
            except lmdb.Error:
                logger.warning("syncing the LMDB cache at %s failed", self.directory,
                               exc_info=True)  # fmt: skip
            self.env.close()


_ENVIRONMENTS: dict[str, SharedEnv] = {}
_ENV_LOCK = threading.Lock()


def acquire(directory: Path, map_size: int) -> SharedEnv:
    key = os.path.realpath(directory)
    with _ENV_LOCK:
        shared = _ENVIRONMENTS.get(key)
        if shared is not None:
            shared.users += 1
            return shared
        shared = _ENVIRONMENTS[key] = SharedEnv(directory, map_size)
        return shared


def release(directory: Path) -> None:
    key = os.path.realpath(directory)
    with _ENV_LOCK:
        shared = _ENVIRONMENTS[key]
        shared.users -= 1
        if shared.users == 0:
            del _ENVIRONMENTS[key]
            shared.close()
