"""The background writer: memory calls made for the callback handlers, off the agent's path.

One daemon thread per process, started on first use, runs submitted jobs in order (so an
episode is always started before its steps are logged and completed). :func:`flush` waits
until everything submitted before it has run; pending jobs are also run at interpreter
exit. A job that raises is logged and skipped: the agent never sees it.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from collections.abc import Callable

__all__ = ["Writer", "shared_writer"]

logger = logging.getLogger("langchain_selfmem.callbacks")

Job = Callable[[], None]


class Writer:
    """A FIFO of jobs run by one daemon thread."""

    def __init__(self, name: str = "selfmem-langchain-writer") -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, job: Job) -> None:
        """Queue ``job``; it runs after every job submitted before it."""
        if self._thread is None:
            self._start()
        self._jobs.put(job)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                job()
            except Exception:  # a recording failure must never reach the agent
                logger.warning("selfmem could not record a run event", exc_info=True)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every job submitted so far has run; False on timeout."""
        if self._thread is None or threading.current_thread() is self._thread:
            return True
        done = threading.Event()
        self.submit(done.set)
        return done.wait(timeout)

    def stop(self, timeout: float | None = 10.0) -> None:
        """Run what is queued, then end the thread."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        self._jobs.put(None)
        thread.join(timeout)
        self._thread = None


_SHARED = Writer()


def shared_writer() -> Writer:
    """The process-wide writer."""
    return _SHARED


@atexit.register
def _drain_at_exit() -> None:  # pragma: no cover - runs at interpreter exit
    _SHARED.stop()
