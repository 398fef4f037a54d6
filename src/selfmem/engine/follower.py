"""Work that need not hold up the caller: the change log followed in the background, and
what a completion still has to do once its episode is durable.

:class:`ChangeFollower` reads a server's change log every ``interval_s`` in its own thread
and applies it (drops changed cache entries, indexes episodes other processes completed,
reloads learning), so a query never waits on the network for it. A reader therefore sees
another handle's committed change within about one interval plus one request.

:class:`AfterCompletion` runs, in one worker thread and in order, what ``complete_episode``
does after the episode is committed: caching it and adding it to the retrieval index.
:meth:`AfterCompletion.settle` waits for every job submitted so far; the query paths call it
first, so a handle always sees its own completions.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from ..errors import StorageError

__all__ = ["AfterCompletion", "ChangeFollower"]

logger = logging.getLogger(__name__)

_STOP = None


class ChangeFollower:
    """Calls ``follow()`` every ``interval_s`` seconds in a daemon thread until closed."""

    def __init__(self, follow: Callable[[], object], interval_s: float) -> None:
        self._follow = follow
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="selfmem-follower", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self._follow()
            except (StorageError, ValueError):  # the next round tries again from the cursor
                logger.warning("following the change log failed; retrying", exc_info=True)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class AfterCompletion:
    """One worker thread running submitted jobs in order; :meth:`settle` waits for them."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._done = threading.Condition()
        self._submitted = 0
        self._finished = 0

    def submit(self, job: Callable[[], None]) -> None:
        with self._done:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="selfmem-after-completion", daemon=True
                )
                self._thread.start()
            self._submitted += 1
        self._jobs.put(job)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not _STOP:
            try:
                job()
            except (StorageError, ValueError, RuntimeError):  # the episode is durable already
                logger.warning("caching or indexing a completed episode failed; the store "
                               "has it", exc_info=True)  # fmt: skip
            finally:
                with self._done:
                    self._finished += 1
                    self._done.notify_all()

    def settle(self) -> None:
        """Wait until every job submitted before this call has run (jobs submitted later,
        e.g. by other threads, are not waited for)."""
        with self._done:
            target = self._submitted
            if threading.current_thread() is not self._thread:
                self._done.wait_for(lambda: self._finished >= target)

    def close(self) -> None:
        """Run what is queued, then stop the worker."""
        with self._done:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(_STOP)
            thread.join()
