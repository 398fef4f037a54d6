"""The hot cache is never the reason something fails: a cache file cut short, garbled, or
that can take no more writes leaves every operation working from the database."""

from __future__ import annotations

import json
import logging
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from selfmem import MemoryConfig, NotFoundError, SelfLearningMemory, StorageError, TaskOutcome
from selfmem.engine.episode_cache import episode_key
from selfmem.storage.libsql_store import LibSQLStore
from selfmem.storage.lmdb_cache import LmdbCache

_PAGE_SIZE_AT = 16 + 24  # in LMDB's first meta page: the page size

# Open the store, reconcile, read every episode twice, delete one, list: what a user does
# after a crash. Run in a child process, so a SIGBUS fails the test instead of killing pytest.
_AFTER_DAMAGE = textwrap.dedent(
    """
    import json, sys
    from selfmem import NotFoundError, SelfLearningMemory
    path, ids = sys.argv[1], json.loads(sys.argv[2])
    with SelfLearningMemory.open(path, flush_interval_s=None) as memory:
        fixed = memory.reconcile_cache()
        read = {eid: memory.get_episode(eid).task_description for eid in ids}
        again = {eid: memory.get_episode(eid).task_description for eid in ids}
        cached = len(memory._core.cache.keys("episode"))
        memory.delete_episode(ids[0])
        try:
            memory.get_episode(ids[0])
            gone = False
        except NotFoundError:
            gone = True
        listed = sorted(e.id for e in memory.list_episodes(limit=500))
    print(json.dumps({"read": read, "again": again, "fixed": fixed, "gone": gone,
                      "listed": listed, "cached": cached}))
    """
)


def _filled_store(root: Path, count: int = 24) -> dict[str, str]:
    """A store whose cache holds ``count`` episodes, closed; returns id -> description."""
    described: dict[str, str] = {}
    with SelfLearningMemory.open(root, flush_interval_s=None) as memory:
        for i in range(count):
            description = f"Reconcile ledger {i} " + "with long notes " * 120
            eid = memory.start_episode(description)
            memory.log_step(eid, tool="sql", observation="rows " * 300)
            memory.complete_episode(eid, TaskOutcome.success("balanced"))
            described[eid] = description
        memory.flush()  # completions reach the LMDB cache in the background
        assert len(memory._core.cache.keys("episode")) == count
    return described


def _use_after_damage(root: Path, described: dict[str, str]) -> dict[str, object]:
    ids = sorted(described)
    done = subprocess.run(
        [sys.executable, "-c", _AFTER_DAMAGE, str(root), json.dumps(ids)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-3000:]}"
    result: dict[str, object] = json.loads(done.stdout)
    assert result["read"] == described and result["again"] == described  # nothing lost
    assert result["gone"] is True
    assert result["listed"] == ids[1:]
    return result


def test_a_truncated_cache_file_is_moved_aside_and_rebuilt(tmp_path: Path) -> None:
    described = _filled_store(tmp_path)
    data = tmp_path / "cache" / "data.mdb"
    size = data.stat().st_size
    assert size > 16 * struct.unpack_from("=I", data.read_bytes(), _PAGE_SIZE_AT)[0]
    with data.open("r+b") as file:
        file.truncate(size // 2)  # e.g. a crash or a full disk before the pages were written
    result = _use_after_damage(tmp_path, described)
    assert result["fixed"] == 0  # the rebuilt cache held nothing stale
    assert result["cached"] == len(described)  # refilled from the database
    assert (tmp_path / "cache" / "data.mdb.unreadable").stat().st_size == size // 2


def test_a_garbled_cache_file_is_moved_aside_and_rebuilt(tmp_path: Path) -> None:
    described = _filled_store(tmp_path)
    data = tmp_path / "cache" / "data.mdb"
    raw = bytearray(data.read_bytes())
    (page,) = struct.unpack_from("=I", raw, _PAGE_SIZE_AT)
    for offset in range(2 * page, len(raw), page):  # every page header but the two metas
        raw[offset : offset + 16] = b"\xa5" * 16
    data.write_bytes(bytes(raw))
    result = _use_after_damage(tmp_path, described)
    assert result["cached"] == len(described)
    assert (tmp_path / "cache" / "data.mdb.unreadable").read_bytes() == bytes(raw)


def _fill(cache: LmdbCache) -> None:
    """Write filler until the map takes nothing more, not even a small value."""
    for size in (4000, 1000, 100, 10, 1):
        for i in range(10_000):
            try:
                cache.put("filler", f"{size}-{i}", b"x" * size)
            except StorageError:  # full
                break


def test_a_cache_that_takes_no_writes_never_fails_an_operation(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    size = 64 * 1024  # a map that may not grow: as a full disk would leave it
    cache = LmdbCache(tmp_path / "cache", map_size=size, max_map_size=size,
                      max_entries={"filler": 100_000})  # fmt: skip
    config = MemoryConfig(flush_interval_s=None)
    described: dict[str, str] = {}
    with SelfLearningMemory(
        LibSQLStore(str(tmp_path / "db")), cache=cache, config=config
    ) as memory:
        for i in range(6):
            description = f"Archive mailbox {i} " + "with attachments " * 60
            eid = memory.start_episode(description)
            memory.log_step(eid, tool="imap", observation="moved")
            memory.complete_episode(eid, TaskOutcome.success("archived"))
            described[eid] = description
        memory.flush()  # completions reach the LMDB cache in the background
        in_lmdb = set(cache.keys("episode"))
        cached = [eid for eid in described if episode_key("default", eid) in in_lmdb]
        assert cached  # some fitted before the map filled up
        _fill(cache)
        doomed = cached[0]
        with caplog.at_level(logging.WARNING, logger="selfmem"):
            memory.delete_episode(doomed)
        assert any("from the cache failed" in r.getMessage() for r in caplog.records)
        with pytest.raises(NotFoundError):  # its stale entry no longer opens
            memory.get_episode(doomed)
        assert doomed not in {s.episode.id for s in memory.retrieve_relevant_context(
            "archive mailbox attachments", limit=10).episodes}  # fmt: skip
        del described[doomed]
        assert {e: memory.get_episode(e).task_description for e in described} == described
        eid = memory.start_episode("One more after the cache filled up")
        memory.complete_episode(eid, TaskOutcome.success())
        described[eid] = "One more after the cache filled up"
        memory.delete_episode(eid)
        del described[eid]
    with SelfLearningMemory(LibSQLStore(str(tmp_path / "db")), config=config) as reopened:
        assert sorted(e.id for e in reopened.list_episodes()) == sorted(described)
