"""Checkpoints of an embedded file's WAL, run by a background thread instead of by a commit.

Left to itself SQLite checkpoints at the commit that takes the WAL past 1,000 pages: that
commit copies the pages into the database file and syncs both files, 1-10 ms instead of
0.3 ms, and with 20-step episodes one ``complete_episode`` in seven paid it (most of the
call's p95). The writer connection (:mod:`selfmem.storage.libsql_connection`) therefore
turns automatic checkpoints off (``PRAGMA wal_autocheckpoint = 0``) and
:class:`WalCheckpointer` runs the same ``PASSIVE`` checkpoint from its own thread,
about every 1,000 pages as well, as soon as the write that made it due is committed: the
thread then waits for the GIL, which the writer holds until it returns (or for at most the
interpreter's switch interval, 5 ms), so the checkpoint runs right after the call, in the
time an agent spends elsewhere (waiting for its model or tools).

Durability is unchanged: a transaction is in the WAL when its commit returns and survives
the process being killed; a checkpoint only copies committed pages into the database file.
The driver holds the GIL while SQLite runs, so a checkpoint still takes the process's CPU,
but between calls instead of inside one.

How many writes make 1,000 pages is learnt from each checkpoint's answer (pages in the
WAL) over the writes counted since the WAL last started over. A process that stops writing
checkpoints once it has been quiet for ``idle_s``.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable

from ..errors import StorageError

__all__ = ["Checkpoint", "WalCheckpointer"]

logger = logging.getLogger(__name__)

#: ``PRAGMA wal_checkpoint`` answers: (busy, pages in the WAL, pages copied).
Checkpoint = tuple[int, int, int]

#: Pages per checkpoint: SQLite's own default for ``wal_autocheckpoint``.
TARGET_PAGES = 1_000
_FIRST_EVERY = 8  # writes before the first checkpoint, until the pages per write are known
_MOST_EVERY = 1_000


class WalCheckpointer:
    """Calls ``checkpoint()`` in a daemon thread once enough writes were noted (:meth:`wrote`).

    ``checkpoint`` is a bound method that runs ``PRAGMA wal_checkpoint(PASSIVE)`` and
    returns its row, or None when the database has no WAL (then the thread stops). It is
    held weakly: a connection dropped without being closed is not kept alive by the thread,
    which is started by the first write and stops once the connection is gone.

    ``idle_s``: how long without writes before what was written is checkpointed anyway.
    """

    def __init__(
        self,
        checkpoint: Callable[[], Checkpoint | None],  # a bound method (held weakly)
        *,
        target_pages: int = TARGET_PAGES,
        idle_s: float = 2.0,
    ) -> None:
        self._checkpoint = weakref.WeakMethod(checkpoint)
        self._target = target_pages
        self._idle_s = idle_s
        self._lock = threading.Lock()
        self._due = threading.Event()
        self._stopped = False
        self._every = _FIRST_EVERY
        self._writes = 0  # since the last checkpoint
        self._since_restart = 0  # since the last complete one (the WAL then starts over)
        self._last_write = time.monotonic()
        #: Checkpoints run so far (for tests and diagnostics).
        self.runs = 0
        self._thread: threading.Thread | None = None

    def wrote(self) -> None:
        """Note one write transaction (cheap: a counter, and an event when one is due)."""
        with self._lock:
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(
                    target=self._run, name="selfmem-checkpoint", daemon=True
                )
                self._thread.start()
            self._writes += 1
            self._since_restart += 1
            self._last_write = time.monotonic()
            due = self._writes >= self._every
        if due:
            self._due.set()

    def _run(self) -> None:
        while True:
            due = self._due.wait(self._idle_s)
            if self._stopped:
                return
            if due:
                self._due.clear()
            elif not self._quiet():
                continue
            if not self._once():
                return

    def _quiet(self) -> bool:
        """Writes are waiting and none came for ``idle_s``."""
        with self._lock:
            return self._writes > 0 and time.monotonic() - self._last_write >= self._idle_s

    def _once(self) -> bool:
        """One checkpoint; False when there is no WAL to checkpoint (stop)."""
        checkpoint = self._checkpoint()
        if checkpoint is None:  # the connection was dropped without being closed
            return False
        try:
            result = checkpoint()
        except StorageError:  # closed, or busy for longer than the busy timeout
            if self._stopped:
                return False
            logger.warning("background WAL checkpoint failed; retrying later", exc_info=True)
            return True
        if result is None:
            return False
        self.runs += 1
        busy, pages, copied = result
        with self._lock:
            if pages > 0 and self._since_restart > 0:
                per_write = pages / self._since_restart
                self._every = max(1, min(_MOST_EVERY, round(self._target / per_write)))
            self._writes = 0
            if not busy and pages == copied:
                self._since_restart = 0
        return True

    def close(self) -> None:
        """Stop the thread (a checkpoint under way finishes first)."""
        with self._lock:
            self._stopped = True
            thread = self._thread
        self._due.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
