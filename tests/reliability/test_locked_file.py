"""Another connection holding an embedded file's write lock (a second handle in the same
process, a backup tool, the sqlite3 shell): selfmem waits for it without freezing the
process's other threads, and reports a lock that outlasts the wait clearly."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import libsql
import pytest

from selfmem import SelfLearningMemory, StoreUnavailableError


class _Holder:
    """A plain libSQL connection that takes the write lock in a thread of this process and
    keeps it while it works in Python for ``seconds``."""

    def __init__(self, database: Path, seconds: float) -> None:
        self._conn = libsql.connect(str(database), isolation_level=None)
        self._seconds = seconds
        self._holding = threading.Event()
        self._thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE").fetchall()
        self._holding.set()
        time.sleep(self._seconds)  # the holder's own work, which needs the GIL to finish
        self._conn.execute("COMMIT").fetchall()

    def __enter__(self) -> _Holder:
        self._thread.start()
        assert self._holding.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join()
        self._conn.close()


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[SelfLearningMemory]:
    with SelfLearningMemory.open(
        str(tmp_path / "mem"), busy_timeout_ms=3_000, retry_attempts=1, learn_inline=True,
        flush_interval_s=None,
    ) as memory:  # fmt: skip
        yield memory


def test_a_write_waits_for_a_lock_another_thread_of_the_process_holds(
    memory: SelfLearningMemory, tmp_path: Path
) -> None:
    # Held for 0.5 s of a 3 s wait: if waiting froze the process (as a driver-side busy
    # wait holding the GIL does), the holder could never commit and the write would fail.
    episode_id = memory.start_episode("Rotate the signing keys")
    memory.log_step(episode_id, tool="vault", observation="rotated")
    with _Holder(tmp_path / "mem" / "selfmem.db", seconds=0.5):
        memory.complete_episode(episode_id, {"status": "success", "verdict": "done"})
    assert [s.tool for s in memory.get_episode(episode_id).steps] == ["vault"]


def test_a_lock_held_past_the_wait_is_a_clear_error_and_loses_nothing(
    memory: SelfLearningMemory, tmp_path: Path
) -> None:
    episode_id = memory.start_episode("Renew the certificates")
    memory.log_step(episode_id, tool="certbot", observation="renewed")
    with (
        _Holder(tmp_path / "mem" / "selfmem.db", seconds=4.0),
        pytest.raises(StoreUnavailableError, match="database is locked"),
    ):
        memory.complete_episode(episode_id, {"status": "success", "verdict": "done"})
    # the lock is gone: the same completion works and nothing logged was lost
    memory.complete_episode(episode_id, {"status": "success", "verdict": "done"})
    episode = memory.get_episode(episode_id)
    assert episode.outcome is not None and [s.tool for s in episode.steps] == ["certbot"]
