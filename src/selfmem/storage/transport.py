"""How statements reach a libSQL database: the two-method transport under the store.

A transport runs one statement (:meth:`Transport.execute`) or a whole write transaction
(:meth:`Transport.transaction`): a list of statements applied all or nothing. Nothing
else crosses it, so a transaction never holds the database's write lock while the client
thinks or waits on the network:

* :class:`LocalTransport` runs an embedded file through the ``libsql`` driver
  (``BEGIN IMMEDIATE`` ... ``COMMIT``, in WAL mode). When another connection holds the
  lock it waits in Python, not in the driver: the driver's busy handler sleeps holding the
  GIL, which would freeze every other thread of the process, including one that holds the
  lock in another connection and only needs the GIL to commit.
* :class:`~selfmem.storage.hrana.HranaTransport` sends a transaction to a libSQL server as
  one HTTP request (a Hrana batch), so the server holds the lock for microseconds.

Both raise :class:`DriverError` with the driver's or server's message; the connection sorts
it into retryable or not (:mod:`selfmem.storage.retry`). A statement that hits a *guard*
(an ``INSERT INTO selfmem_guard ...`` whose ``WHERE`` found the precondition broken)
fails with :data:`GUARD_MESSAGE`, and the transaction is rolled back.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import libsql

__all__ = [
    "GUARD_MESSAGE",
    "DriverError",
    "LocalTransport",
    "Rows",
    "Statement",
    "Transport",
    "guard",
]

logger = logging.getLogger(__name__)

Rows = list[tuple[Any, ...]]

#: What the ``selfmem_guard`` trigger raises (see :mod:`selfmem.storage.schema`).
GUARD_MESSAGE = "selfmem: precondition failed"


@dataclass(frozen=True, slots=True)
class Statement:
    """One SQL statement with ``?`` parameters."""

    sql: str
    params: tuple[Any, ...] = ()


def guard(reason: str, condition: str, params: Sequence[Any] = ()) -> Statement:
    """A statement that fails the transaction when ``condition`` (SQL) holds.

    ``changes()`` in ``condition`` counts the rows the previous statement changed."""
    return Statement(
        f"INSERT INTO selfmem_guard (reason) SELECT ? WHERE {condition}", (reason, *params)
    )


class DriverError(Exception):
    """A failure reported by the driver or the server, with its message."""


class Transport(Protocol):
    """Runs statements on one database; not thread-safe (the connection holds a lock)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        """Run one statement in autocommit and return every row."""

    def transaction(self, statements: Sequence[Statement]) -> list[Rows]:
        """Run ``statements`` as one write transaction; the rows of each, or nothing."""

    def close(self) -> None: ...


#: Messages of a statement refused because another connection holds a lock it needs.
_BUSY = ("database is locked", "database is busy", "sqlite_busy")
#: Waits between tries while the database is busy: doubling from the first to the last.
_FIRST_WAIT_S = 0.0005
_LAST_WAIT_S = 0.01


def _busy(message: str) -> bool:
    text = message.lower()
    return any(marker in text for marker in _BUSY)


class LocalTransport:
    """An embedded libSQL file through the ``libsql`` driver.

    A statement refused as busy is tried again, with short sleeps that release the GIL,
    for up to ``busy_timeout_ms``; then the busy error is raised."""

    def __init__(self, path: str, busy_timeout_ms: int) -> None:
        self._busy_timeout_s = busy_timeout_ms / 1000
        try:
            self._conn = libsql.connect(path, timeout=0, isolation_level=None)
        except ValueError as exc:
            raise DriverError(f"cannot open libSQL database at {path!r}: {exc}") from exc
        self.execute("PRAGMA busy_timeout = 0")  # waiting is done here, see the class
        self.execute("PRAGMA journal_mode = WAL")
        # WAL + NORMAL: a commit survives a crash of the process; only a power loss can undo
        # the last commits (the database itself stays consistent). FULL fsyncs every commit.
        self.execute("PRAGMA synchronous = NORMAL")
        self.execute("PRAGMA secure_delete = ON")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        deadline = time.monotonic() + self._busy_timeout_s
        wait = _FIRST_WAIT_S
        while True:
            try:
                # fetch everything: an open cursor would keep a read lock
                rows = self._conn.execute(sql, tuple(params)).fetchall()
            except ValueError as exc:
                if not _busy(str(exc)) or time.monotonic() + wait > deadline:
                    raise DriverError(str(exc)) from exc
                time.sleep(wait * random.uniform(0.5, 1.0))
                wait = min(wait * 2, _LAST_WAIT_S)
                continue
            return list(rows) if rows else []

    def transaction(self, statements: Sequence[Statement]) -> list[Rows]:
        # IMMEDIATE: writers queue up front and never deadlock on a lock upgrade
        self.execute("BEGIN IMMEDIATE")
        try:
            results = [self.execute(s.sql, s.params) for s in statements]
            self.execute("COMMIT")
        except DriverError:
            self._rollback()
            raise
        return results

    def _rollback(self) -> None:
        try:
            self._conn.execute("ROLLBACK", ())
        except ValueError:
            logger.debug("rollback after a failed transaction", exc_info=True)

    def close(self) -> None:
        try:
            self._conn.close()
        except ValueError as exc:
            raise DriverError(str(exc)) from exc
