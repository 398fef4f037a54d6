"""Relearning beside an import: a second process learns the episodes as the checking pass
accepts them, while this one checks and writes them, so a large import uses two cores.

It applies when learning can take the episodes in the order the file gives them, which is
the order ``relearn()`` takes the stored ones in (``(start_time, id)``, oldest first): the
completed episodes the import accepts come in that order, as ``selfmem export`` writes
them, and all after the namespace's newest stored one. The other process learns the stored
episodes first, then each chunk the checking pass keeps (:class:`~.transfer.CheckedEpisodes`),
and once every episode is written it replaces the namespace's learning, as ``relearn()``
would have: the same learner, the same episodes, the same order. An episode that followed
past episodes' plans waits until every episode is written (the one it followed may not be
yet). If the file turns out not to be in that order, the import fails, or the other
process does, it stops without writing anything and the import relearns afterwards.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import queue
import signal
from collections import deque
from collections.abc import Callable, Iterator
from itertools import chain
from multiprocessing.queues import Queue
from types import TracebackType
from typing import Any

from ..config import MemoryConfig
from ..memory import SelfLearningMemory
from ..records.episodes import Episode
from .transfer import CheckedEpisodes

__all__ = ["MIN_BYTES", "LearningBeside"]

logger = logging.getLogger(__name__)

#: Files smaller than this are relearned after the import: starting a second process
#: (about a second) costs more than it saves on fewer than a few thousand episodes.
MIN_BYTES = 8_000_000
_POLL_S = 0.5

Key = tuple[float, str]


def _key(episode: Episode) -> Key:
    return (episode.start_time.timestamp(), episode.id)


class LearningBeside:
    """The importing side: ``with LearningBeside(memory, location, token, checked) as
    beside:`` before the checking pass; :meth:`finish` once everything is written returns
    the episodes learned, or None when the import must relearn itself. Leaving the block
    without :meth:`finish` stops the other process."""

    def __init__(
        self,
        memory: SelfLearningMemory,
        location: str,
        token: str | None,
        checked: CheckedEpisodes,
    ) -> None:
        self._memory = memory
        newest = memory.list_episodes(completed_only=True, limit=1, include_steps=False)
        self._last: Key | None = _key(newest[0]) if newest else None
        stats = memory.stats()
        self.total = stats.episodes - stats.open_episodes
        context = multiprocessing.get_context("spawn")
        self._inbox: Queue[tuple[Any, ...]] = context.Queue()
        self._outbox: Queue[tuple[Any, ...]] = context.Queue()
        self._process = context.Process(
            target=learn_beside,
            args=(location, token, memory.config, self._last, checked.path,
                  self._inbox, self._outbox),
            name="selfmem-import-learning",
            daemon=True,
        )  # fmt: skip
        self._process.start()
        self.running = True
        checked.listener = self._chunk

    def _chunk(self, offset: int, length: int, chunk: list[tuple[int, Episode]]) -> None:
        if not self.running:
            return
        for _, episode in chunk:
            if episode.is_complete:
                key = _key(episode)
                if self._last is not None and key <= self._last:
                    self.stop()  # not in learning order: relearn after the import
                    return
                self._last = key
                self.total += 1
        self._inbox.put(("chunk", offset, length))

    def finish(self, progress: Callable[[int, int], None] | None = None) -> int | None:
        """Every episode is written: wait while the other process learns what is left and
        replaces the learning. The episodes learned, or None if it did not."""
        if not self.running:
            return None
        self._inbox.put(("written",))
        while True:
            try:
                message = self._outbox.get(timeout=_POLL_S)
            except queue.Empty:
                if self._process.is_alive():
                    continue
                try:  # it may have ended just after its last message
                    message = self._outbox.get(timeout=_POLL_S)
                except queue.Empty:
                    message = ("failed", f"exit code {self._process.exitcode}")
            if message[0] == "progress":
                if progress is not None:
                    progress(message[1], max(self.total, message[1]))
                continue
            self.running = False
            self._process.join()
            if message[0] == "done":
                self._memory._core.learning.note_changed(self._memory.namespace)
                return int(message[1])
            logger.warning("learning beside the import failed (%s); relearning", message[1])
            return None

    def stop(self) -> None:
        """Stop the other process; it writes nothing (it writes only once told that every
        episode is written, so ending it before then loses nothing)."""
        if not self.running:
            return
        self.running = False
        self._inbox.put(("stop",))
        self._process.join(timeout=1)  # it reads it after the chunks queued before it
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()

    def __enter__(self) -> LearningBeside:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


class _Stopped(Exception):
    """The importing process said stop."""


def learn_beside(
    location: str,
    token: str | None,
    config: MemoryConfig,
    until: Key | None,
    path: str,
    inbox: Queue[tuple[Any, ...]],
    outbox: Queue[tuple[Any, ...]],
) -> None:
    """The other process: relearn the namespace from its stored episodes up to ``until``,
    then from the checked chunks ``inbox`` names, and replace the learning once told that
    every episode is written."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the importing process
    try:
        memory = SelfLearningMemory.open(location, auth_token=token, config=config)
    except Exception as exc:  # noqa: BLE001 - reported to the importing process
        outbox.put(("failed", repr(exc)))
        return
    engine = memory._core.learning
    try:
        with open(path, "rb") as file:
            stored = engine.stored_pages(memory.namespace, until=until) if until else iter(())
            pages = chain(stored, _checked_pages(file, inbox, engine.reads_followed))
            learned = engine.relearn_from(
                memory.namespace, pages, lambda done, _: outbox.put(("progress", done))
            )
        outbox.put(("done", learned))
    except _Stopped:
        pass
    except Exception as exc:  # noqa: BLE001 - reported to the importing process
        outbox.put(("failed", repr(exc)))
    finally:
        memory.close()


def _checked_pages(
    file: Any, inbox: Queue[tuple[Any, ...]], reads_followed: Callable[[Episode], bool]
) -> Iterator[list[Episode]]:
    """The completed episodes of each chunk ``inbox`` names, until it says ``written``."""
    pending: deque[tuple[Any, ...]] = deque()
    all_written = False
    while True:
        message = pending.popleft() if pending else _next(inbox)
        if message[0] == "stop":
            raise _Stopped
        if message[0] == "written":
            return
        _, offset, length = message
        file.seek(offset)
        chunk: list[tuple[int, Episode]] = pickle.loads(file.read(length))
        page = [episode for _, episode in chunk if episode.is_complete]
        if not all_written and any(map(reads_followed, page)):
            # the episodes these followed may not be written yet: wait until all are
            while (message := _next(inbox))[0] not in ("written", "stop"):
                pending.append(message)
            pending.append(message)
            if message[0] == "stop":
                raise _Stopped
            all_written = True
        yield page


def _next(inbox: Queue[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The next message; ``stop`` if the importing process has gone (killed) meanwhile."""
    while True:
        try:
            return inbox.get(timeout=_POLL_S)
        except queue.Empty:
            parent = multiprocessing.parent_process()
            if parent is not None and not parent.is_alive():
                return ("stop",)
