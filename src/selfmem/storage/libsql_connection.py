"""A libSQL connection that retries: the plumbing under :class:`LibSQLStore`.

One connection per store, used under a lock: the ``libsql`` driver holds the GIL while
SQLite runs, so a second writer connection in the same process would only contend for the
file lock. Locally the database runs in WAL mode with a busy timeout, so several *processes*
can share one file.

Failures are retried (see :mod:`selfmem.storage.retry`): a busy or overloaded store with
backoff, a lost connection on a fresh one. A write is retried as a whole transaction
(:meth:`LibSQLConnection._write`), so every write built on it must be idempotent. Rows go in
multi-row statements (:meth:`LibSQLConnection._insert_rows`): one round trip per chunk.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import libsql

from ..config import is_remote
from ..errors import AuthenticationError, StorageError, StoreUnavailableError
from .remote_probe import ProbeResult, probe
from .retry import Failure, RetryPolicy, classify

__all__ = ["LibSQLConnection"]

logger = logging.getLogger(__name__)

_ROWS_PER_INSERT = 200
_T = TypeVar("_T")


class _Retryable(StorageError):
    """A driver failure worth another try (busy, overloaded, or a lost connection)."""


def _values(rows: int, columns: int) -> str:
    one = "(" + ", ".join("?" * columns) + ")"
    return ", ".join([one] * rows)


class LibSQLConnection:
    """The connection, its lock, statement execution, transactions and retries.

    ``location`` is a file path or a ``libsql://`` / ``http(s)://`` URL. A server is first
    reached with ``SELECT 1`` within ``connect_timeout_s`` (retried under ``retry``), so a
    refused token raises :class:`~selfmem.errors.AuthenticationError` and an unreachable
    server :class:`~selfmem.errors.StoreUnavailableError` before any work.
    """

    def __init__(
        self,
        location: str,
        *,
        auth_token: str | None = None,
        busy_timeout_ms: int = 10_000,
        retry: RetryPolicy | None = None,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.location = location
        self.remote = is_remote(location)
        self._lock = threading.RLock()
        self._closed = False
        self._auth_token = auth_token or ""
        self._busy_timeout_ms = busy_timeout_ms
        self.retry = retry or RetryPolicy()
        self._depth = 0  # open transactions (0 or 1)
        self._retrying_now = 0  # inside a retry loop: inner statements do not retry again
        self._broken = False  # the connection failed mid-flight: reconnect before reuse
        if self.remote:
            self._probe(connect_timeout_s)
        self._conn = self._connect()

    # -- plumbing ---------------------------------------------------------------------------

    def _probe(self, timeout_s: float) -> None:
        """Reach the server once, with a timeout, retrying while it is down or overloaded."""
        sleeps = self.retry.sleeps()
        attempts = 0
        while True:
            attempts += 1
            result, reason = probe(self.location, self._auth_token, timeout_s)
            if result is ProbeResult.OK:
                return
            if result is ProbeResult.AUTH:
                raise AuthenticationError(
                    f"the libSQL server at {self.location} refused the auth token ({reason}); "
                    "pass auth_token= or set SELFMEM_AUTH_TOKEN / TURSO_AUTH_TOKEN"
                )
            if next(sleeps, None) is None:
                raise StoreUnavailableError(
                    f"cannot reach the libSQL server at {self.location}: {reason} "
                    f"(tried {attempts} times)",
                    attempts=attempts,
                )
            logger.info("libSQL server %s: %s; retrying", self.location, reason)

    def _connect(self) -> Any:
        try:
            conn = libsql.connect(
                self.location,
                timeout=self._busy_timeout_ms / 1000,
                isolation_level=None,
                auth_token=self._auth_token,
            )
        except ValueError as exc:
            raise StorageError(f"cannot open libSQL database at {self.location!r}: {exc}") from exc
        self._conn = conn
        self._broken = False
        if not self.remote:
            self._pragmas(self._busy_timeout_ms)
        return conn

    def _reconnect(self) -> None:
        logger.info("reconnecting to %s", self.location)
        try:
            self._conn.close()
        except ValueError:
            logger.debug("closing the failed connection to %s", self.location, exc_info=True)
        self._connect()

    def _failure(self, exc: ValueError) -> StorageError:
        """Our exception for a driver error; a lost connection is marked for reconnecting."""
        message = str(exc)
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

    def _execute(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            rows = self._conn.execute(sql, tuple(params)).fetchall()
        except ValueError as exc:
            raise self._failure(exc) from exc
        return list(rows) if rows else []

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Execute one statement and fetch every row (an open cursor would hold a read lock).

        Outside a transaction the statement is retried on its own; inside one, a failure
        propagates so the whole transaction is retried (see :meth:`_write`)."""
        if self._depth or self._retrying_now:
            return self._execute(sql, params)
        with self._lock:
            return self._retrying(lambda: self._execute(sql, params))

    def _run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            try:
                self._conn.executemany(sql, [tuple(row) for row in rows])
            except ValueError as exc:
                raise self._failure(exc) from exc

    def _insert_rows(
        self, head: str, columns: int, rows: Sequence[Sequence[Any]], tail: str = ""
    ) -> None:
        """``head VALUES (...), (...) tail`` in chunks: one round trip per chunk, not per row."""
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start : start + _ROWS_PER_INSERT]
            params = [value for row in chunk for value in row]
            self._run(f"{head} VALUES {_values(len(chunk), columns)}{tail}", params)

    def _retrying(self, operation: Callable[[], _T]) -> _T:
        """Run ``operation`` under the retry policy, reconnecting after a lost connection."""
        with self._lock:
            sleeps = self.retry.sleeps()
            attempts = 0
            self._retrying_now += 1
            try:
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
            finally:
                self._retrying_now -= 1

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction (``BEGIN IMMEDIATE``: writers queue up front, never deadlock
        on a lock upgrade). Starting it is retried; use :meth:`_write` to retry it whole."""
        with self._lock:
            self._check_open()
            self._run("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
                self._execute("COMMIT", ())
            except BaseException:
                self._rollback()
                raise
            finally:
                self._depth -= 1

    def _rollback(self) -> None:
        if self._broken:
            return  # the server drops the transaction with the connection
        try:
            self._execute("ROLLBACK", ())
        except StorageError:
            logger.warning("rollback failed on %s; reconnecting", self.location, exc_info=True)
            self._broken = True

    def _write(self, work: Callable[[], _T]) -> _T:
        """Run ``work`` in a write transaction, retrying the whole transaction on failure.

        ``work`` must be idempotent: a commit whose answer was lost is run again."""

        def attempt() -> _T:
            with self._transaction():
                return work()

        with self._lock:
            self._check_open()
            return self._retrying(attempt)

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("the store is closed")

    def _pragmas(self, busy_timeout_ms: int) -> None:
        self._run(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        self._run("PRAGMA journal_mode = WAL")
        # WAL + NORMAL: a commit survives a crash of the process; only a power loss can undo
        # the last commits (the database itself stays consistent). FULL fsyncs every commit.
        self._run("PRAGMA synchronous = NORMAL")
        self._run("PRAGMA secure_delete = ON")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._conn.close()
            except ValueError:
                logger.warning("closing %s failed", self.location, exc_info=True)
