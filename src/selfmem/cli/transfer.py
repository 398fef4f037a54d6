"""Export and import episodes as JSON Lines: one ``Episode`` per line, exactly as stored.

Import is two passes: the first (:func:`scan_lines`) reads the file once, validates every
line and finds ids that already exist, without writing anything; the episodes it accepted
are kept, as it prepared them, in a temporary file (:class:`CheckedEpisodes`), and the
second (:func:`import_checked`) writes those without parsing or checking a line again. A
file with a bad line is rejected whole unless the caller asks to skip bad lines. Every
episode passes the checks the API applies (limits, JSON safety, redaction:
``selfmem.security.imported``), so an import stores nothing ``log_step`` would refuse.
Episodes keep their ids, steps, outcome, reward and reflection; they are written through
the store Protocol's batch write (``import_episodes``, :data:`BATCH` episodes a
transaction), because the public API assigns new ids and timestamps. If a write fails, or
the import is interrupted, every episode it created is deleted again.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import TextIO

import pydantic

from ..errors import InvalidInputError, StorageError
from ..memory import SelfLearningMemory, prepare_imported
from ..records.episodes import Episode

__all__ = [
    "BadLine",
    "CheckedEpisodes",
    "ImportScan",
    "export_episodes",
    "import_checked",
    "import_episodes",
    "scan_lines",
]

PAGE = 500
_ID_BATCH = 500
#: Episodes per transaction of the store's batch write (about 1 MB a request to a server
#: for typical episodes), and the most bytes of input lines one transaction takes, so a
#: file of very large episodes is written in smaller transactions.
BATCH = 500
BATCH_BYTES = 16_000_000


@dataclass(frozen=True, slots=True)
class BadLine:
    number: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.number}: {self.reason}"


@dataclass
class ImportScan:
    """What the validation pass found."""

    good: int = 0
    bad: list[BadLine] = field(default_factory=list)
    existing: list[int] = field(default_factory=list)  # line numbers of ids already stored

    @property
    def rejected(self) -> set[int]:
        return {b.number for b in self.bad} | set(self.existing)


class CheckedEpisodes:
    """The episodes the checking pass accepted, as it prepared them, each with the length
    of its line: kept in a temporary file, a chunk of at most 500 at a time, so the write
    pass neither parses nor checks a line again and neither pass holds more than a chunk of
    a large file in memory. The file is this process's own (created unlinked where the
    platform allows), so reading back what was pickled into it is safe.

    ``named`` keeps the file under a path (:attr:`path`, removed on :meth:`close`) that a
    process of this import's own can read chunks from; ``listener(offset, length, chunk)``
    is told of each chunk once it is in the file.
    """

    def __init__(self, *, named: bool = False) -> None:
        self.path: str | None = None
        if named:
            fd, self.path = tempfile.mkstemp(prefix="selfmem-import-")
            self._file = os.fdopen(fd, "w+b")
        else:
            self._file = tempfile.TemporaryFile(prefix="selfmem-import-")  # noqa: SIM115
        self.count = 0
        self._end = 0
        self.listener: Callable[[int, int, list[tuple[int, Episode]]], None] | None = None

    def add(self, chunk: list[tuple[int, Episode]]) -> None:
        if not chunk:
            return
        data = pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL)
        self._file.seek(self._end)
        self._file.write(data)
        self.count += len(chunk)
        offset, self._end = self._end, self._end + len(data)
        if self.listener is not None:
            self._file.flush()
            self.listener(offset, len(data), chunk)

    def __iter__(self) -> Iterator[tuple[int, Episode]]:
        """``(line length, episode)`` in the order of the file, from the first again on
        each call."""
        self._file.flush()
        self._file.seek(0)
        while self._file.tell() < self._end:
            chunk: list[tuple[int, Episode]] = pickle.load(self._file)
            yield from chunk

    def close(self) -> None:
        self._file.close()
        if self.path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def __enter__(self) -> CheckedEpisodes:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def export_episodes(
    memory: SelfLearningMemory,
    sink: TextIO,
    *,
    completed_only: bool = False,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write every episode of the namespace to ``sink``, one JSON object per line.

    Pages through ``list_episodes`` oldest first, each page after the last episode of the
    one before: the order learning takes them in, so importing the file can learn beside
    its writes (:mod:`.import_learning`). Returns the episodes written.
    """
    written = 0
    last: Episode | None = None
    while True:
        page = memory.list_episodes(
            completed_only=completed_only, limit=PAGE, after=last, oldest_first=True
        )
        for episode in page:
            sink.write(episode.model_dump_json() + "\n")
        written += len(page)
        if progress is not None:
            progress(written)
        if len(page) < PAGE:
            return written
        last = page[-1]


def parse_line(text: str | bytes, memory: SelfLearningMemory) -> Episode:
    """One line as an episode of ``memory``'s namespace, checked as the API checks input;
    raises ``ValueError`` with a readable reason."""
    try:
        episode = Episode.model_validate_json(text)
    except pydantic.ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        detail = f"{where}: {first['msg']}" if where else first["msg"]
        count = exc.error_count()
        more = f" (and {count - 1} more errors)" if count > 1 else ""
        raise ValueError(f"not a valid episode: {detail}{more}") from None
    except RecursionError:  # nested deeper than the parser's own limit
        raise ValueError("not a valid episode: nested too deeply") from None
    config = memory.config
    try:
        return prepare_imported(episode, memory.namespace, config.limits, config.redact_secrets)
    except InvalidInputError as exc:
        raise ValueError(str(exc)) from None


def _lines(source: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    for number, text in enumerate(source, start=1):
        if text.strip():
            yield number, text


def scan_lines(
    memory: SelfLearningMemory,
    source: Iterable[bytes],
    progress: Callable[[int], None] | None,
    keep: CheckedEpisodes | None = None,
) -> ImportScan:
    """Validate every line and find ids that exist already; writes nothing to the store.
    The episodes accepted (neither bad nor stored already) go to ``keep``, ready for
    :func:`import_checked`."""
    scan = ImportScan()
    first_line: dict[str, int] = {}
    batch: list[tuple[int, int, Episode]] = []  # line number, line length, episode

    def check_batch() -> None:
        ids = [episode.id for _, _, episode in batch]
        stored = memory._core.store.episode_revisions(memory.namespace, ids)
        new = [(size, episode) for _, size, episode in batch if episode.id not in stored]
        scan.existing += [number for number, _, episode in batch if episode.id in stored]
        scan.good -= len(batch) - len(new)
        if keep is not None:
            keep.add(new)
        batch.clear()

    for count, (number, text) in enumerate(_lines(source), start=1):
        try:
            episode = parse_line(text, memory)
        except ValueError as exc:
            scan.bad.append(BadLine(number, str(exc)))
            continue
        if episode.id in first_line:
            scan.bad.append(BadLine(number, f"duplicate id {episode.id!r} (first on line "
                                            f"{first_line[episode.id]})"))  # fmt: skip
            continue
        first_line[episode.id] = number
        scan.good += 1
        batch.append((number, len(text), episode))
        if len(batch) >= _ID_BATCH:
            check_batch()
        if progress is not None and count % 100 == 0:
            progress(count)
    if batch:
        check_batch()
    return scan


def _write_batch(memory: SelfLearningMemory, batch: list[Episode], written: list[str]) -> None:
    """Write ``batch`` in one transaction; its ids join ``written`` once they are stored
    (and not before: an id refused because it exists elsewhere is not this import's to
    delete). The batch is stored whole or not at all."""
    store = memory._core.store
    try:
        store.import_episodes(batch)
    except StorageError:
        raise  # refused or unreachable: nothing of the batch was stored
    except BaseException:
        # interrupted (Ctrl-C) while writing: the transaction may have committed just before
        ids = [episode.id for episode in batch]
        if len(store.episode_revisions(memory.namespace, ids)) == len(ids):
            written += ids
        raise
    written += [episode.id for episode in batch]
    for episode in batch:
        if episode.is_complete:  # as complete_episode does: the live index, and a vector
            memory._core.retrieval.add(episode)


def import_checked(
    memory: SelfLearningMemory,
    checked: CheckedEpisodes,
    progress: Callable[[int], None] | None = None,
    *,
    batch_size: int = BATCH,
    batch_bytes: int = BATCH_BYTES,
) -> int:
    """Write the episodes :func:`scan_lines` accepted into ``checked``, as it prepared
    them (no line is read, parsed or checked again); batches, progress and roll-back as
    :func:`import_episodes`."""
    return _write_all(memory, checked, progress, batch_size, batch_bytes)


def import_episodes(
    memory: SelfLearningMemory,
    source: Iterable[bytes],
    skip: set[int],
    progress: Callable[[int], None] | None = None,
    *,
    batch_size: int = BATCH,
    batch_bytes: int = BATCH_BYTES,
) -> int:
    """Check and write the episodes of every line not in ``skip`` (line numbers) into the
    memory's namespace, one transaction per ``batch_size`` episodes or ``batch_bytes``
    bytes of lines, whichever comes first (``progress`` is called after each). On a
    failure, a bad line included, the episodes written so far are deleted and the error
    raised."""
    episodes = (
        (len(text), parse_line(text, memory))
        for number, text in _lines(source)
        if number not in skip
    )
    return _write_all(memory, episodes, progress, batch_size, batch_bytes)


def _write_all(
    memory: SelfLearningMemory,
    episodes: Iterable[tuple[int, Episode]],
    progress: Callable[[int], None] | None,
    batch_size: int,
    batch_bytes: int,
) -> int:
    """Write ``(line length, episode)`` pairs in batches; all or nothing."""
    written: list[str] = []
    batch: list[Episode] = []
    size = 0

    def write() -> None:
        nonlocal batch, size
        _write_batch(memory, batch, written)
        batch, size = [], 0
        if progress is not None:
            progress(len(written))

    try:
        for length, episode in episodes:
            batch.append(episode)
            size += length
            if len(batch) >= batch_size or size >= batch_bytes:
                write()
        if batch:
            write()
    except BaseException:  # a failed write, a bad line, or Ctrl-C: nothing half-imported
        _roll_back(memory, written)
        raise
    return len(written)


def _roll_back(memory: SelfLearningMemory, episode_ids: list[str]) -> None:
    store = memory._core.store
    for episode_id in episode_ids:
        store.delete_episode(memory.namespace, episode_id)
        memory._core.retrieval.remove(memory.namespace, episode_id)
    if episode_ids:
        store.scrub()
