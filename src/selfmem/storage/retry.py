"""Retrying libSQL operations: which driver errors are transient, and the backoff between tries.

The ``libsql`` driver raises a bare ``ValueError`` for everything, so errors are sorted by
their message:

* **auth**: the server answered 401 or 403. Never retried; raised as
  :class:`~selfmem.errors.AuthenticationError`.
* **reconnect**: the connection is gone or unusable (refused, reset, a server restart
  invalidated the stream's baton). Retried on a fresh connection.
* **transient**: the store is busy or overloaded (``database is locked``, HTTP 429, 502,
  503, 504). Retried on the same connection.
* **fatal**: anything else (a constraint, a syntax error). Raised at once as
  :class:`~selfmem.errors.StorageError`.

Backoff is exponential with full jitter, bounded per sleep and in total, so several
processes that fail together do not retry in lock step. The deadline is wall-clock time
from the start of the first try: the caller computes it once (:meth:`RetryPolicy.deadline`)
and bounds each try by what is left of it, and no retry starts once it has passed.
"""

from __future__ import annotations

import enum
import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import ConfigError

__all__ = ["Failure", "RetryPolicy", "classify"]

logger = logging.getLogger(__name__)


class Failure(enum.Enum):
    AUTH = "auth"
    RECONNECT = "reconnect"
    TRANSIENT = "transient"
    FATAL = "fatal"


_AUTH = ("status=401", "status=403", "unauthorized", "forbidden")
_RECONNECT = (
    "error trying to connect",
    "connection refused",
    "connection reset",
    "connection closed",
    "connection aborted",
    "broken pipe",
    "invalid baton",
    "stream expired",
    "stream not found",
    "stream closed",
    "incompletemessage",
    "unexpected eof",
    "timed out",
    "dns error",
)
_TRANSIENT = (
    "database is locked",
    "database table is locked",
    "sqlite_busy",
    "status=429",
    "status=502",
    "status=503",
    "status=504",
    "too many requests",
    "service unavailable",
)


def classify(message: str) -> Failure:
    """Sort a driver error message into one of the :class:`Failure` kinds."""
    text = message.lower()
    if any(marker in text for marker in _AUTH):
        return Failure.AUTH
    if any(marker in text for marker in _TRANSIENT):
        return Failure.TRANSIENT
    if any(marker in text for marker in _RECONNECT):
        return Failure.RECONNECT
    return Failure.FATAL


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry a failed store operation.

    ``attempts`` counts the first try; ``1`` disables retries. Sleeps start near
    ``initial_backoff_s``, double each time up to ``max_backoff_s`` and are jittered.
    No retry starts once ``deadline_s`` has passed since the first try began (``0``: a
    single try, bounded only by its own timeout).
    """

    attempts: int = 8
    initial_backoff_s: float = 0.05
    max_backoff_s: float = 2.0
    deadline_s: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigError("retry_attempts must be at least 1")
        if self.initial_backoff_s < 0 or self.max_backoff_s < self.initial_backoff_s:
            raise ConfigError("retry backoff must satisfy 0 <= initial <= max")
        if self.deadline_s < 0:
            raise ConfigError("retry_deadline_s must not be negative")

    def deadline(self, now: float, first_try_s: float) -> float:
        """When an operation that starts ``now`` (``time.monotonic()``) must be done:
        ``deadline_s`` later, or with no deadline after one try of ``first_try_s``."""
        return now + (self.deadline_s or first_try_s)

    def sleeps(self, deadline: float | None = None) -> Iterator[float]:
        """The pauses before each retry: at most ``attempts - 1`` of them, none past
        ``deadline`` (a ``time.monotonic()`` value; by default ``deadline_s`` from now).

        The generator sleeps itself (so callers just iterate) and yields the time slept;
        it stops when the deadline has passed, so no retry starts after it.
        """
        end = time.monotonic() + self.deadline_s if deadline is None else deadline
        return self._pauses(end)

    def _pauses(self, deadline: float) -> Iterator[float]:
        ceiling = self.initial_backoff_s
        for _ in range(self.attempts - 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            pause = min(random.uniform(ceiling / 2, ceiling), remaining)
            time.sleep(pause)
            if time.monotonic() >= deadline:
                return
            yield pause
            ceiling = min(ceiling * 2, self.max_backoff_s)


NO_RETRY = RetryPolicy(attempts=1)
