"""A libSQL connection that retries: the plumbing under :class:`LibSQLStore`.

One transport per store (:mod:`selfmem.storage.transport`), used under a lock: the
``libsql`` driver holds the GIL while SQLite runs, so a second writer connection in the
same process would only contend for the file lock. Locally the database runs in WAL mode
with a busy timeout, so several *processes* can share one file; a server gets each write
transaction in one request.

Failures are retried (see :mod:`selfmem.storage.retry`): a busy or overloaded store with
backoff, a lost connection on a fresh one. A write transaction is retried as a whole
(:meth:`LibSQLConnection._write`), so every write built on it must be idempotent. Rows go in
multi-row statements (:func:`insert_rows`): one statement per 200 rows, not per row.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..config import is_remote
from ..errors import AuthenticationError, StorageError, StoreUnavailableError
from .hrana import HranaTransport
from .retry import Failure, RetryPolicy, classify
from .transport import GUARD_MESSAGE, DriverError, LocalTransport, Rows, Statement, Transport
from .wal_checkpoints import Checkpoint, WalCheckpointer

__all__ = ["PAGE_BYTES", "GuardFailed", "LibSQLConnection", "SizedRead", "insert_rows"]

logger = logging.getLogger(__name__)

_ROWS_PER_INSERT = 200
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")  # autocommit statements that add to the WAL
_T = TypeVar("_T")

#: The most one page of a :class:`SizedRead` asks the database to send. sqld refuses any
#: answer over its ``--max-response-size`` (10 MB by default in 0.24) with "Response is
#: too large"; a fifth of it leaves room for the JSON around the values (base64 for blobs)
#: and for many readers at once. A server set lower makes pages shrink (see
#: :meth:`LibSQLConnection._paged`).
PAGE_BYTES = 2_000_000
#: Rows one page may list at most (bounds the size sums each page computes).
PAGE_ROWS = 5_000
_SMALLEST_BUDGET = 16_384
# what SQLite says about a file that is damaged or not a database, and about a full disk
_DAMAGED = ("file is not a database", "disk image is malformed", "malformed database schema")
_FULL = (
    "database or disk is full",
    "no space left on device",
)  # below this, shrinking pages goes straight to one row a page


class _Retryable(StorageError):
    """A driver failure worth another try (busy, overloaded, or a lost connection)."""


class GuardFailed(StorageError):
    """A transaction's guard found its precondition broken; nothing was written."""


class ResponseTooLarge(StorageError):
    """The server refused to send an answer this large (sqld's ``--max-response-size``)."""


@dataclass(frozen=True, slots=True)
class SizedRead:
    """A read that comes back in pages of at most ``PAGE_BYTES`` (and ``PAGE_ROWS`` rows).

    ``table`` is read where ``where`` holds (with ``params``), in the order of ``key``:
    columns that identify a row (a unique key), so each page starts after the last key of
    the one before. ``size`` is SQL for the bytes a row carries; ``octet_length`` reads
    the length of a value without reading the value. Each row yields ``columns``. ``limit``
    and ``offset`` page the read as a whole, like ``LIMIT`` and ``OFFSET``.
    """

    table: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    size: str
    where: str
    params: tuple[Any, ...] = ()
    descending: bool = False
    limit: int | None = None
    offset: int = 0

    def sql(self, after: bool) -> str:
        """One page: the next keys with their running size, then the rows that fit."""
        keys = ", ".join(self.key)
        way = "DESC" if self.descending else "ASC"
        order = ", ".join(f"{k} {way}" for k in self.key)
        start = ""
        if after:
            marks = ", ".join("?" * len(self.key))
            start = f" AND ({keys}) {'<' if self.descending else '>'} ({marks})"
        return (
            f"WITH next AS (SELECT {keys}, {self.size} AS size FROM {self.table} "
            f"WHERE ({self.where}){start} ORDER BY {order} LIMIT ? OFFSET ?), "
            f"page AS (SELECT {keys}, size, count(*) OVER () AS listed, "
            f"sum(size) OVER (ORDER BY {order} ROWS UNBOUNDED PRECEDING) AS running "
            f"FROM next) "
            f"SELECT {', '.join(f'p.{k}' for k in self.key)}, "
            f"{', '.join(f't.{c}' for c in self.columns)}, p.listed "
            f"FROM page p JOIN {self.table} t ON "
            f"{' AND '.join(f't.{k} = p.{k}' for k in self.key)} "
            f"WHERE p.running - p.size < ? "
            f"ORDER BY {', '.join(f'p.{k} {way}' for k in self.key)}"
        )


def _values(rows: int, columns: int) -> str:
    one = "(" + ", ".join("?" * columns) + ")"
    return ", ".join([one] * rows)


_ID_CHUNK = 500  # ids per ``IN (...)`` list, well under SQLite's parameter limit


def id_chunks(ids: Sequence[str]) -> Iterator[tuple[list[str], str]]:
    """``ids`` in chunks for ``IN (...)`` lists: each chunk with its ``?,?,...`` marks."""
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = list(ids[start : start + _ID_CHUNK])
        yield chunk, ",".join("?" * len(chunk))


def insert_rows(
    head: str, columns: int, rows: Sequence[Sequence[Any]], tail: str = ""
) -> list[Statement]:
    """``head VALUES (...), (...) tail`` for every 200 rows."""
    statements = []
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        params = tuple(value for row in chunk for value in row)
        statements.append(Statement(f"{head} VALUES {_values(len(chunk), columns)}{tail}", params))
    return statements


class LibSQLConnection:
    """The transport, its lock, statement execution, transactions and retries.

    ``location`` is a file path or a ``libsql://`` / ``http(s)://`` URL. A server is first
    reached with ``SELECT 1``, retried under ``retry`` but within ``connect_timeout_s`` of
    wall-clock time in all, so a refused token raises
    :class:`~selfmem.errors.AuthenticationError` and an unreachable server
    :class:`~selfmem.errors.StoreUnavailableError` before any work. Afterwards each
    request may take ``request_timeout_s``, and an operation with its retries ends by the
    retry deadline (counted from the start of its first try).
    """

    def __init__(
        self,
        location: str,
        *,
        auth_token: str | None = None,
        busy_timeout_ms: int = 10_000,
        retry: RetryPolicy | None = None,
        connect_timeout_s: float = 10.0,
        request_timeout_s: float = 30.0,
    ) -> None:
        self.location = location
        self.remote = is_remote(location)
        self._lock = threading.RLock()
        self._closed = False
        self._auth_token = auth_token or ""
        self._busy_timeout_ms = busy_timeout_ms
        self._request_timeout_s = request_timeout_s
        self.retry = retry or RetryPolicy()
        self._broken = False  # the connection failed mid-flight: reconnect before reuse
        self._page_bytes = PAGE_BYTES  # shrinks if the server refuses pages this large
        self._timeout_s = connect_timeout_s  # for the first contact, then request_timeout_s
        self._transport = self._connect()
        #: Checkpoints of an embedded file's WAL, off the writers' path (see the module).
        self._checkpointer: WalCheckpointer | None = None
        if self.remote:
            self._probe()
        elif location != ":memory:":
            self._checkpointer = WalCheckpointer(self._checkpoint_passive)

    # -- plumbing ---------------------------------------------------------------------------

    def _connect(self) -> Transport:
        if self.remote:
            try:
                return HranaTransport(self.location, self._auth_token, self._timeout_s)
            except DriverError as exc:
                raise StorageError(str(exc)) from exc
        try:
            transport = LocalTransport(self.location, self._busy_timeout_ms)
            # the commit that fills the WAL no longer copies it: WalCheckpointer does
            transport.execute("PRAGMA wal_autocheckpoint = 0")
            return transport
        except DriverError as exc:
            raise (self._file_failure(str(exc)) or StorageError(str(exc))) from exc

    def _file_failure(self, message: str) -> StorageError | None:
        """A clear error for a damaged database file or a full disk (embedded only)."""
        text = message.lower()
        if self.remote:
            return None
        if any(marker in text for marker in _DAMAGED):
            directory = Path(self.location).parent
            return StorageError(
                f"the database file {self.location} is damaged or is not a selfmem database "
                f"({message}). Restore it from a backup with `selfmem --path {directory} "
                "restore BACKUP.db`, or move it aside to start an empty store"
            )
        if any(marker in text for marker in _FULL):
            return StorageError(
                f"the disk holding {self.location} is full ({message}); nothing of this "
                "write was stored. Free some space and try again"
            )
        return None

    def _probe(self) -> None:
        """Reach the server once, with a timeout, retrying while it is down or overloaded."""
        within = min(self._timeout_s, self.retry.deadline_s or self._timeout_s)
        try:
            self._retrying(lambda: self._execute("SELECT 1", ()), within)
        except StoreUnavailableError as exc:
            raise StoreUnavailableError(
                f"cannot reach the libSQL server at {self.location}: {exc}",
                attempts=exc.attempts,
            ) from exc
        except AuthenticationError as exc:
            raise AuthenticationError(
                f"{exc}; pass auth_token= or set SELFMEM_AUTH_TOKEN / TURSO_AUTH_TOKEN"
            ) from exc
        finally:
            self._timeout_s = self._request_timeout_s
            self._broken = True  # the next request connects with the request timeout

    def _reconnect(self) -> None:
        logger.info("reconnecting to %s", self.location)
        try:
            self._transport.close()
        except DriverError:
            logger.debug("closing the failed connection to %s", self.location, exc_info=True)
        self._transport = self._connect()
        self._broken = False

    def _failure(self, exc: DriverError) -> StorageError:
        """Our exception for a driver error; a lost connection is marked for reconnecting."""
        message = str(exc)
        if GUARD_MESSAGE in message:
            return GuardFailed(message)
        kind = classify(message)
        if "response is too large" in message.lower():
            return ResponseTooLarge(
                f"the libSQL server at {self.location} refused to send an answer this "
                f"large (its --max-response-size): {message}"
            )
        if kind is Failure.AUTH:
            return AuthenticationError(
                f"the libSQL server at {self.location} refused the auth token: {message}"
            )
        if kind is Failure.FATAL:
            return self._file_failure(message) or StorageError(f"libSQL error: {message}")
        if kind is Failure.RECONNECT:
            self._broken = True
        return _Retryable(f"libSQL error: {message}")

    def _execute(self, sql: str, params: Sequence[Any]) -> Rows:
        try:
            return self._transport.execute(sql, params)
        except DriverError as exc:
            raise self._failure(exc) from exc

    def _run(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        """Execute one statement in autocommit (retried) and fetch every row."""
        with self._lock:
            self._check_open()
            rows = self._retrying(lambda: self._execute(sql, params))
            if self._checkpointer is not None and sql.startswith(_WRITES):
                self._checkpointer.wrote()
            return rows

    def _checkpoint_passive(self) -> Checkpoint | None:
        """One ``PASSIVE`` checkpoint (:class:`WalCheckpointer` calls it); None without a WAL."""
        rows = self._run("PRAGMA wal_checkpoint(PASSIVE)")
        if not rows or rows[0][1] is None or int(rows[0][1]) < 0:
            return None
        busy, pages, copied = rows[0]
        return int(busy), int(pages), int(copied)

    def _paged(self, read: SizedRead) -> Iterator[tuple[Any, ...]]:
        """The rows of ``read``, fetched a page at a time (one request each), so no answer
        is larger than ``PAGE_BYTES``; a row larger than that comes alone. A server that
        still refuses a page as too large gets smaller pages from then on."""
        width = len(read.key)
        after: tuple[Any, ...] | None = None
        left, offset = read.limit, read.offset
        while left is None or left > 0:
            cap = PAGE_ROWS if left is None else min(PAGE_ROWS, left)
            rows = self._page(read, after, cap, offset)
            if not rows:
                return
            for row in rows:
                yield tuple(row[width:-1])
            listed = int(rows[-1][-1])
            if len(rows) == listed and listed < cap:
                return  # the page held every row that was left
            after, offset = tuple(rows[-1][:width]), 0
            if left is not None:
                left -= len(rows)

    def _page(self, read: SizedRead, after: tuple[Any, ...] | None, cap: int, offset: int) -> Rows:
        sql = read.sql(after is not None)
        while True:
            params = (*read.params, *(after or ()), cap, offset, self._page_bytes)
            try:
                return self._run(sql, params)
            except ResponseTooLarge:
                if self._page_bytes <= 1:
                    raise  # one row is larger than the server sends
                smaller = self._page_bytes // 2
                self._page_bytes = smaller if smaller >= _SMALLEST_BUDGET else 1
                logger.warning(
                    "%s refused a page as too large; reading pages of %d bytes from now on",
                    self.location, self._page_bytes,
                )  # fmt: skip

    def checkpoint(self) -> None:
        """Copy the WAL into the database file and truncate it (embedded only), so what a
        delete removed is not left in ``-wal`` (freed pages are zeroed by ``secure_delete``)."""
        if self.remote:
            return
        deadline = time.monotonic() + self._busy_timeout_ms / 1000
        rows = self._run("PRAGMA wal_checkpoint(TRUNCATE)")
        while rows and rows[0][0] and time.monotonic() < deadline:
            time.sleep(0.01)  # a reader is still on the old WAL: wait for it, GIL released
            rows = self._run("PRAGMA wal_checkpoint(TRUNCATE)")
        if rows and rows[0][0]:
            logger.warning(
                "the WAL of %s could not be checkpointed completely: another process is "
                "reading; deleted text stays in it until the next checkpoint",
                self.location,
            )  # fmt: skip

    def _write(self, statements: Sequence[Statement]) -> list[Rows]:
        """Run ``statements`` as one write transaction, retried whole on failure; the rows
        each returned. They must be idempotent: a commit whose answer was lost runs again."""

        def attempt() -> list[Rows]:
            try:
                return self._transport.transaction(statements)
            except DriverError as exc:
                raise self._failure(exc) from exc

        with self._lock:
            self._check_open()
            if not statements:
                return []
            results = self._retrying(attempt)
            if self._checkpointer is not None:
                self._checkpointer.wrote()
            return results

    def _retrying(self, operation: Callable[[], _T], within_s: float | None = None) -> _T:
        """Run ``operation`` under the retry policy, reconnecting after a lost connection.

        The deadline (``within_s``, by default the policy's) is fixed before the first try:
        a server's requests never run past it, and no retry starts after it."""
        with self._lock:
            started = time.monotonic()
            if within_s is None:
                deadline = self.retry.deadline(started, self._timeout_s)
            else:
                deadline = started + within_s
            sleeps = self.retry.sleeps(deadline)
            attempts = 0
            while True:
                attempts += 1
                try:
                    if self._broken:
                        self._reconnect()
                    if isinstance(self._transport, HranaTransport):
                        self._transport.deadline = deadline
                    return operation()
                except _Retryable as exc:
                    if next(sleeps, None) is None:
                        spent = time.monotonic() - started
                        raise StoreUnavailableError(
                            f"{exc} (gave up on {self.location} after {attempts} attempts "
                            f"in {spent:.1f} s)",
                            attempts=attempts,
                        ) from exc
                    logger.info("%s; retrying (attempt %d)", exc, attempts + 1)

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("the store is closed")

    def close(self) -> None:
        if self._checkpointer is not None:  # outside the lock: its checkpoint takes it
            self._checkpointer.close()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._transport.close()
            except DriverError:
                logger.warning("closing %s failed", self.location, exc_info=True)
