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
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from ..config import is_remote
from ..errors import AuthenticationError, StorageError, StoreUnavailableError
from .hrana import HranaTransport
from .retry import Failure, RetryPolicy, classify
from .transport import GUARD_MESSAGE, DriverError, LocalTransport, Rows, Statement, Transport

__all__ = ["GuardFailed", "LibSQLConnection", "insert_rows"]

logger = logging.getLogger(__name__)

_ROWS_PER_INSERT = 200
_T = TypeVar("_T")


class _Retryable(StorageError):
    """A driver failure worth another try (busy, overloaded, or a lost connection)."""


class GuardFailed(StorageError):
    """A transaction's guard found its precondition broken; nothing was written."""


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
    reached with ``SELECT 1`` within ``connect_timeout_s`` (retried under ``retry``), so a
    refused token raises :class:`~selfmem.errors.AuthenticationError` and an unreachable
    server :class:`~selfmem.errors.StoreUnavailableError` before any work; afterwards each
    request may take ``request_timeout_s``.
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
        self._timeout_s = connect_timeout_s  # for the first contact, then request_timeout_s
        self._transport = self._connect()
        if self.remote:
            self._probe()

    # -- plumbing ---------------------------------------------------------------------------

    def _connect(self) -> Transport:
        if self.remote:
            try:
                return HranaTransport(self.location, self._auth_token, self._timeout_s)
            except DriverError as exc:
                raise StorageError(str(exc)) from exc
        try:
            return LocalTransport(self.location, self._busy_timeout_ms)
        except DriverError as exc:
            raise StorageError(str(exc)) from exc

    def _probe(self) -> None:
        """Reach the server once, with a timeout, retrying while it is down or overloaded."""
        try:
            self._retrying(lambda: self._execute("SELECT 1", ()))
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
        if kind is Failure.AUTH:
            return AuthenticationError(
                f"the libSQL server at {self.location} refused the auth token: {message}"
            )
        if kind is Failure.FATAL:
            return StorageError(f"libSQL error: {message}")
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
            return self._retrying(lambda: self._execute(sql, params))

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
            return self._retrying(attempt)

    def _retrying(self, operation: Callable[[], _T]) -> _T:
        """Run ``operation`` under the retry policy, reconnecting after a lost connection."""
        with self._lock:
            sleeps = self.retry.sleeps()
            attempts = 0
            while True:
                attempts += 1
                try:
                    if self._broken:
                        self._reconnect()
                    return operation()
                except _Retryable as exc:
                    if next(sleeps, None) is None:
                        raise StoreUnavailableError(
                            f"{exc} (gave up on {self.location} after {attempts} attempts)",
                            attempts=attempts,
                        ) from exc
                    logger.info("%s; retrying (attempt %d)", exc, attempts + 1)

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("the store is closed")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._transport.close()
            except DriverError:
                logger.warning("closing %s failed", self.location, exc_info=True)
