"""A full disk under an embedded store: the write that does not fit fails at once with a
``StorageError`` (not retried for the whole deadline, not a crash), nothing acknowledged is
lost, and writing resumes as soon as space is freed.

The store lives on a small tmpfs mounted for the test, so "full" is real ENOSPC from the
kernel. Mounting needs root on Linux; elsewhere the test is skipped and says why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from selfmem import SelfLearningMemory, StorageError, TaskOutcome
from selfmem.storage.libsql_store import LibSQLStore

SIZE = "4m"
STEPS = 3
LEFT_FREE = 400_000  # bytes the ballast leaves: room for a few episodes, not many


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs, unmounted afterwards."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root on Linux")
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    mountpoint = tmp_path / "small-disk"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(mountpoint)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        if subprocess.run(["umount", str(mountpoint)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def _free_bytes(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def _record(memory: SelfLearningMemory, index: int) -> tuple[str | None, str | None]:
    """One episode; (its id if acknowledged, the id of an episode left open by a failure).

    Raises nothing: a ``StorageError`` is returned as the open episode (or None if even
    the start failed), after checking it came quickly."""
    eid: str | None = None
    started = time.monotonic()
    try:
        eid = memory.start_episode(f"Archive batch {index} " + "of invoices " * 150)
        for step in range(STEPS):
            memory.log_step(eid, tool=f"copy_{step}", observation=f"batch {index} " * 300)
        memory.complete_episode(eid, TaskOutcome.success("archived"))
    except StorageError as exc:
        assert time.monotonic() - started < 2.0, "a full disk must fail fast, not retry"
        assert "is full" in str(exc) and "selfmem.db" in str(exc), str(exc)
        return None, eid
    return eid, None


def test_a_full_disk_fails_fast_and_writes_resume_when_space_is_freed(
    small_disk: Path,
) -> None:
    store_dir = small_disk / "store"
    ballast = small_disk / "ballast"
    acknowledged: list[str] = []
    with SelfLearningMemory.open(store_dir, cache=False, flush_interval_s=None) as memory:
        ballast.write_bytes(b"\0" * (_free_bytes(small_disk) - LEFT_FREE))
        left_open: str | None = None
        for index in range(1000):
            done, left_open = _record(memory, index)
            if done is None:
                break
            acknowledged.append(done)
        else:
            pytest.fail("the disk never filled up")
        assert acknowledged, "not even one episode fitted: the ballast left too little"

        ballast.unlink()  # space is back: the same handle writes again
        if left_open is not None:  # its completion failed; the steps are still in the process
            memory.complete_episode(left_open, TaskOutcome.success("archived after all"))
            acknowledged.append(left_open)
        for index in range(1000, 1010):
            done, _ = _record(memory, index)
            assert done is not None, "writes did not resume after space was freed"
            acknowledged.append(done)
        assert memory.stats().episodes == len(acknowledged)

    store = LibSQLStore(str(store_dir / "selfmem.db"))
    try:
        assert store._run("PRAGMA integrity_check") == [("ok",)]
        rows = store._run(
            "SELECT e.id, e.end_time IS NOT NULL, "
            "(SELECT count(*) FROM steps s WHERE s.episode_id = e.id) FROM episodes e"
        )
        stored = {eid: (complete, steps) for eid, complete, steps in rows}
        assert len(stored) == len(rows) == len(set(acknowledged))
        assert all(stored[eid] == (1, STEPS) for eid in acknowledged)
    finally:
        store.close()
