"""The learning queue: learning runs off the hot path, in a worker thread.

``submit`` puts a completed episode on a bounded queue. When the queue is full it waits up
to ``put_timeout_s``; if it is still full the caller runs the work itself (caller-runs
backpressure), so nothing is dropped. The worker takes what is queued in batches (up to
64 episodes, one write of what they taught), which keeps writes few when several processes
learn in one store. A batch that raises is retried one episode at a time; an episode
that fails twice has its id kept in :attr:`LearningQueue.failed` (``relearn()`` recovers it) and the
error is logged with the id. ``drain()`` waits until every submitted job has run.
With ``inline=True`` there is no thread: ``submit`` runs the job at once, with the same
retry-and-record handling. Each job (each try) runs inside the observer's ``learning`` hook.

The worker can lower its own CPU priority by ``niceness`` (on Linux, where a thread has its
own; elsewhere it is left as it is): other processes then go first on a busy machine. When
the CPU is free it runs as fast as ever; if it falls behind, the bounded queue hands the
work back to the callers (above). Its own process's threads do not gain: while it waits for
a core holding the GIL (or the learning lock), they wait for it.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from collections.abc import Callable, Sequence

from ..records.episodes import Episode
from .observer import NO_OBSERVER, EngineObserver

__all__ = ["LearningQueue"]

logger = logging.getLogger(__name__)

_STOP = object()
_BATCH = 64


class LearningQueue:
    """A bounded queue with one worker thread running ``work(episodes)``."""

    def __init__(
        self,
        work: Callable[[Sequence[Episode]], None],
        *,
        maxsize: int = 1_000,
        put_timeout_s: float = 5.0,
        inline: bool = False,
        niceness: int = 0,
        observer: EngineObserver = NO_OBSERVER,
    ) -> None:
        self._work = work
        self._niceness = niceness
        self._observer = observer
        self._queue: queue.Queue[object] = queue.Queue(maxsize=maxsize)
        self._put_timeout = put_timeout_s
        self.failed: list[str] = []
        self._failed_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        if not inline:
            self._worker = threading.Thread(target=self._run, name="selfmem-learner", daemon=True)
            self._worker.start()
        observer.queue_opened(self)

    def submit(self, episode: Episode) -> None:
        if self._worker is None:
            self._attempt(episode)
            return
        try:
            self._queue.put(episode, timeout=self._put_timeout)
        except queue.Full:
            logger.warning("learning queue full; learning episode %s inline", episode.id)
            self._attempt(episode)

    def _learn(self, episodes: Sequence[Episode]) -> None:
        with self._observer.learning(len(episodes)):
            self._work(episodes)

    def _attempt(self, episode: Episode) -> None:
        for attempt in (1, 2):
            try:
                self._learn([episode])
                return
            except Exception as exc:  # a failing job must never stop the worker or lose the id
                logger.warning("learning from episode %s failed (attempt %d): %s",
                               episode.id, attempt, exc, exc_info=attempt == 2)  # fmt: skip
        with self._failed_lock:
            self.failed.append(episode.id)

    def _attempt_batch(self, batch: list[Episode]) -> None:
        if len(batch) > 1:
            try:
                self._learn(batch)
                return
            except Exception as exc:  # a failing job must never stop the worker or lose the id
                logger.warning("learning from %d episodes failed (%s); one at a time",
                               len(batch), exc, exc_info=True)  # fmt: skip
        for episode in batch:
            self._attempt(episode)

    def _take(self) -> tuple[list[Episode], bool]:
        """The next batch (waiting for its first episode) and whether a stop came with it."""
        items = [self._queue.get()]
        while len(items) < _BATCH and items[-1] is not _STOP:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        stop = items[-1] is _STOP
        return [item for item in items if isinstance(item, Episode)], stop

    def _run(self) -> None:
        lower_priority(self._niceness)
        while True:
            batch, stop = self._take()
            try:
                if batch:
                    self._attempt_batch(batch)
            finally:
                for _ in range(len(batch) + stop):
                    self._queue.task_done()
            if stop:
                return

    def drain(self) -> None:
        """Block until every submitted episode has been learned from."""
        self._queue.join()

    def pending(self) -> int:
        return self._queue.unfinished_tasks

    def close(self) -> None:
        """Finish the queued work, then stop the worker."""
        if self._worker is not None:
            self._queue.put(_STOP)
            self._worker.join()
            self._worker = None


def lower_priority(niceness: int) -> None:
    """Add ``niceness`` to the calling thread's nice value (at most 19); Linux only, where
    ``setpriority`` on a thread id changes that thread alone. Lowering a priority needs no
    privilege; a refusal is logged and changes nothing else."""
    if niceness <= 0 or not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + niceness))
    except OSError as exc:  # e.g. a sandbox that forbids it: learn at normal priority
        logger.debug("could not lower the learner's priority: %s", exc)
