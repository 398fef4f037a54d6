"""The LMDB hot cache: bounded, LRU, growing, shared between processes, reconcilable."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from selfmem import SelfLearningMemory, StorageError
from selfmem.engine.episode_cache import namespace_prefix
from selfmem.storage import HotCache
from selfmem.storage.lmdb_cache import LmdbCache

from .helpers import run_episode


def test_satisfies_protocol(tmp_path: Path) -> None:
    cache = LmdbCache(tmp_path)
    assert isinstance(cache, HotCache)
    cache.close()


def test_put_get_delete_and_persist(tmp_path: Path) -> None:
    cache = LmdbCache(tmp_path)
    cache.put("episode", "a", b"alpha")
    cache.put("pattern", "a", b"other kind")
    assert cache.get("episode", "a") == b"alpha"
    assert cache.get("pattern", "a") == b"other kind"
    cache.delete("episode", "a")
    assert cache.get("episode", "a") is None
    cache.put("episode", "b", b"beta")
    cache.close()
    reopened = LmdbCache(tmp_path)
    assert reopened.get("episode", "b") == b"beta"
    assert reopened.keys("pattern") == ["a"]
    reopened.clear()
    assert reopened.get("episode", "b") is None and reopened.keys("pattern") == []
    reopened.close()
    with pytest.raises(StorageError, match="closed"):
        reopened.get("episode", "b")


def test_bounded_with_least_recently_used_eviction(tmp_path: Path) -> None:
    cache = LmdbCache(tmp_path, max_entries={"episode": 3})
    for key in "abc":
        cache.put("episode", key, key.encode())
    assert cache.get("episode", "a") == b"a"  # a is now more recent than b
    cache.put("episode", "d", b"d")
    assert sorted(cache.keys("episode")) == ["a", "c", "d"]
    cache.put("episode", "e", b"e")
    assert sorted(cache.keys("episode")) == ["a", "d", "e"]
    cache.close()


def test_map_grows_when_full(tmp_path: Path) -> None:
    cache = LmdbCache(tmp_path, map_size=256 * 1024)
    blob = b"x" * 100_000
    for i in range(20):
        cache.put("embedding", f"k{i}", blob)
    assert all(cache.get("embedding", f"k{i}") == blob for i in range(20))
    cache.close()


def test_a_map_that_may_not_grow_refuses_writes_with_a_storage_error(tmp_path: Path) -> None:
    cache = LmdbCache(tmp_path, map_size=256 * 1024, max_map_size=256 * 1024)
    cache.put("embedding", "small", b"fits")
    with pytest.raises(StorageError, match="full"):
        for i in range(20):
            cache.put("embedding", f"k{i}", b"x" * 100_000)
    assert cache.get("embedding", "small") == b"fits"  # reads still work
    cache.close()


def test_two_handles_in_one_process_share_the_environment(tmp_path: Path) -> None:
    first, second = LmdbCache(tmp_path), LmdbCache(tmp_path)
    first.put("episode", "k", b"v")
    assert second.get("episode", "k") == b"v"
    first.close()
    assert second.get("episode", "k") == b"v"
    second.close()


def test_unreadable_cache_is_rebuilt_empty(tmp_path: Path) -> None:
    (tmp_path / "data.mdb").write_bytes(b"this is not an lmdb file" * 100)
    cache = LmdbCache(tmp_path)
    assert cache.get("episode", "anything") is None
    cache.put("episode", "k", b"v")
    assert cache.get("episode", "k") == b"v"
    cache.close()


def _read_in_child(path: str, key: str, queue: multiprocessing.Queue[bytes | None]) -> None:
    cache = LmdbCache(path)
    queue.put(cache.get("episode", key))
    cache.close()


def test_readers_in_other_processes_see_writes(tmp_path: Path) -> None:
    cache = LmdbCache(tmp_path)
    cache.put("episode", "shared", b"hello")
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[bytes | None] = ctx.Queue()
    children = [
        ctx.Process(target=_read_in_child, args=(str(tmp_path), "shared", queue)) for _ in range(3)
    ]
    for child in children:
        child.start()
    results = [queue.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=60)
    assert results == [b"hello"] * 3
    cache.close()


def test_cache_serves_reads_and_memory_bounds_it(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, cache_max_episodes=2) as memory:
        ids = [run_episode(memory, f"Task number {i}", ["a"]) for i in range(4)]
        memory.flush()  # completions reach the LMDB cache in the background
        cached = memory._core.cache.keys("episode")
        assert len(cached) == 2
        assert {k.removeprefix(namespace_prefix("default")) for k in cached} == set(ids[2:])
        assert [memory.get_episode(eid).id for eid in ids] == ids  # misses fall back to the store


def test_cache_lookups_count_hits_and_misses(tmp_path: Path) -> None:
    from selfmem import NotFoundError

    with SelfLearningMemory.open(tmp_path) as memory:
        eid = run_episode(memory, "Task to look up", ["a"])
        memory.flush()
        before = memory.cache_lookups()
        memory.get_episode(eid)
        memory.scoped("default").get_episode(eid)  # handles share the cache and its counts
        with pytest.raises(NotFoundError):
            memory.get_episode("never-recorded")
        after = memory.cache_lookups()
        assert (after.hits - before.hits, after.misses - before.misses) == (2, 1)
        assert after.hit_rate == after.hits / (after.hits + after.misses)
    with SelfLearningMemory() as empty:
        assert empty.cache_lookups().hit_rate is None  # no lookup yet


def test_reconcile_drops_entries_deleted_by_another_handle(tmp_path: Path) -> None:
    # with a staleness window the change log is not read on each hit: reconcile does it
    with SelfLearningMemory.open(tmp_path, cache_max_staleness_s=3600) as memory:
        eid = run_episode(memory, "Deleted elsewhere", ["a"])
        keep = run_episode(memory, "Kept", ["a"])
        # another process deletes it directly in the durable store
        memory._core.store.delete_episode("default", eid)
        assert memory.get_episode(eid).id == eid  # stale: still cached
        assert memory.reconcile_cache() == 1
        with pytest.raises(LookupError):
            memory.get_episode(eid)
        assert memory.get_episode(keep).id == keep
        assert memory.reconcile_cache() == 0
