"""Warm starts: the retrieval index comes back from its sealed snapshot file beside the cache
plus the store's change log, reads only what changed, and answers exactly like a cold load."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator
from pathlib import Path

import libsql
import numpy as np
import pytest

from selfmem import SelfLearningMemory, TaskContext
from selfmem.embeddings import HashingEmbedder
from selfmem.engine import sealed_files
from selfmem.engine.retrieval import RetrievalEngine
from selfmem.engine.snapshot import IndexSnapshots
from selfmem.records.episodes import Episode
from selfmem.records.index_rows import IndexRow
from selfmem.storage import sealing
from selfmem.storage.libsql_store import LibSQLStore
from selfmem.storage.lmdb_cache import LmdbCache

from .helpers import run_episode

NS = "default"
QUERIES = ("deploy the web service", "slow report query", "parse the csv upload")
TOPICS = ("deploy web service to staging", "fix slow report query", "parse csv upload",
          "retry flaky api call", "migrate database schema")  # fmt: skip


class CountingStore(LibSQLStore):
    """The real store, counting the reads a warm start should avoid."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.calls: dict[str, int] = {"index_rows": 0, "load_embeddings": 0, "get_episode": 0}

    def index_rows(self, namespace: str) -> Iterator[IndexRow]:
        self.calls["index_rows"] += 1
        return super().index_rows(namespace)

    def load_embeddings(self, namespace: str, model: str) -> list[tuple[str, bytes]]:
        self.calls["load_embeddings"] += 1
        return super().load_embeddings(namespace, model)

    def get_episode(self, namespace: str, episode_id: str) -> Episode | None:
        self.calls["get_episode"] += 1
        return super().get_episode(namespace, episode_id)


def _open(root: Path, dim: int = 64) -> tuple[SelfLearningMemory, CountingStore]:
    store = CountingStore(str(root / "selfmem.db"))
    memory = SelfLearningMemory(
        store, cache=LmdbCache(root / "cache"), embedder=HashingEmbedder(dim)
    )
    return memory, store


class Ranked(list[list[tuple[str, float]]]):
    """Episode ids and scores per query. Equal when the same episodes come with nearly the
    same scores: recency moves with the clock between two queries, which may swap the order
    of two episodes whose scores tie to float32 precision."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, list) or len(other) != len(self):
            return False
        for mine, theirs in zip(self, other, strict=True):
            expected = dict(theirs)
            if dict(mine).keys() != expected.keys():
                return False
            if dict(mine) != pytest.approx(expected, abs=1e-5):
                return False
        return True

    __hash__ = None  # type: ignore[assignment]


def _ranked(memory: SelfLearningMemory) -> Ranked:
    found = Ranked()
    for query in QUERIES:
        result = memory.retrieve_relevant_context(query, limit=8)
        found.append([(e.episode.id, e.score) for e in result.episodes])
    return found


def _cold(root: Path) -> Ranked:
    """What a load from the store alone answers (no cache, so no snapshot)."""
    with SelfLearningMemory(
        LibSQLStore(str(root / "selfmem.db")), embedder=HashingEmbedder(64)
    ) as m:
        return _ranked(m)


def _record(memory: SelfLearningMemory, count: int, start: int = 0) -> list[str]:
    ids = []
    for i in range(start, start + count):
        ctx = TaskContext(domain=("web", "data")[i % 2], tags=[f"t{i % 3}"])
        ids.append(run_episode(memory, f"{TOPICS[i % len(TOPICS)]} case {i}", ["plan", "run"],
                               context=ctx, success=i % 4 != 0))  # fmt: skip
    return ids


def _snapshot_files(root: Path) -> list[Path]:
    return sorted((root / "cache" / "index").glob("*.bin"))


def _snapshot_bytes(root: Path) -> bytes:
    """Every snapshot (header and body) that opens under the store's current sealing key."""
    key = LibSQLStore(str(root / "selfmem.db")).get_meta("cache_sealing_key")
    assert key is not None
    unseal = functools.partial(sealing.open_sealed, key)
    found = []
    for path in _snapshot_files(root):
        with path.open("rb") as file:
            try:
                header = sealed_files.read_header(file, b"SMINDEX1", unseal)
                found.append(str(header).encode() + sealed_files.read_body(file, header, unseal))
            except ValueError:
                continue  # sealed under a key that no longer exists
    return b"".join(found)


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Path, list[str]]:
    """A store with 24 episodes whose index was loaded, then snapshotted at close."""
    memory, _ = _open(tmp_path)
    with memory:
        ids = _record(memory, 24)
        _ranked(memory)
    return tmp_path, ids


def test_second_open_reads_only_the_changes_and_answers_like_a_cold_load(
    seeded: tuple[Path, list[str]],
) -> None:
    root, _ = seeded
    memory, store = _open(root)
    with memory:
        warm = _ranked(memory)
        assert store.calls["index_rows"] == 0 and store.calls["load_embeddings"] == 0
    assert warm == _cold(root)
    assert len(warm[0]) > 1


def test_a_start_without_a_snapshot_writes_one_after_its_first_answer(
    seeded: tuple[Path, list[str]],
) -> None:
    """The first answer does not wait for the snapshot; ``flush()`` does, and the next
    start reads it instead of the store."""
    root, _ = seeded
    for path in _snapshot_files(root):
        path.unlink()
    memory, store = _open(root)
    with memory:
        first = _ranked(memory)
        assert store.calls["index_rows"] == 1
        memory.flush()
        assert len(_snapshot_files(root)) == 1
    again, store = _open(root)
    with again:
        assert _ranked(again) == first
        assert store.calls["index_rows"] == 0


def test_another_handles_completion_is_fetched_alone(seeded: tuple[Path, list[str]]) -> None:
    root, ids = seeded
    other, _ = _open(root)
    with other:  # never loads the index, so it writes no snapshot
        new = _record(other, 2, start=100)
    memory, store = _open(root)
    with memory:
        index = memory._core.retrieval.index(NS)
        assert store.calls["index_rows"] == 0
        assert store.calls["get_episode"] == 2  # just the two new episodes
        assert set(new) <= set(index.row_of) and len(index) == len(ids) + 2
        assert index.missing_vectors() == []  # their vectors came from the store
        warm = _ranked(memory)
    assert warm == _cold(root)


def test_a_deleted_episode_never_comes_back_from_a_snapshot(
    seeded: tuple[Path, list[str]],
) -> None:
    root, ids = seeded
    gone = ids[3]
    other, _ = _open(root)
    with other:  # deleting rotates the sealing key: the old snapshot no longer opens
        other.delete_episode(gone)
    assert _snapshot_files(root) and gone.encode() not in _snapshot_bytes(root)
    assert all(gone.encode() not in path.read_bytes() for path in _snapshot_files(root))
    memory, store = _open(root)
    with memory:
        index = memory._core.retrieval.index(NS)
        assert store.calls["index_rows"] == 1  # full load
        assert gone not in index.row_of
    memory, store = _open(root)  # the snapshot written after that load is warm again
    with memory:
        assert gone not in memory._core.retrieval.index(NS).row_of
        assert store.calls["index_rows"] == 0
    assert gone.encode() not in _snapshot_bytes(root)
    assert ids[4].encode() in _snapshot_bytes(root)


def test_a_deletion_in_the_change_log_is_applied_to_the_snapshot(
    seeded: tuple[Path, list[str]],
) -> None:
    """A process that died between deleting and rotating the key: the log still tells."""
    root, ids = seeded
    gone = ids[5]
    bare = LibSQLStore(str(root / "selfmem.db"))
    assert bare.delete_episode(NS, gone)
    bare.close()
    memory, store = _open(root)
    with memory:
        index = memory._core.retrieval.index(NS)
        assert store.calls["index_rows"] == 0
        assert gone not in index.row_of and len(index) == len(ids) - 1
        assert all(gone not in [eid for eid, _ in r] for r in _ranked(memory))
    assert gone.encode() not in _snapshot_bytes(root)  # rewritten at close without it


def test_a_rotated_sealing_key_invalidates_the_snapshot(seeded: tuple[Path, list[str]]) -> None:
    root, _ = seeded
    bare = LibSQLStore(str(root / "selfmem.db"))
    bare.set_meta("cache_sealing_key", sealing.new_key())  # another machine rotated it
    bare.close()
    memory, store = _open(root)
    with memory:
        warm = _ranked(memory)
        assert store.calls["index_rows"] == 1
    assert warm == _cold(root)


def test_a_pruned_change_log_falls_back_to_a_full_load(seeded: tuple[Path, list[str]]) -> None:
    root, _ = seeded
    other, _ = _open(root)
    with other:
        new = _record(other, 3, start=200)
    conn = libsql.connect(str(root / "selfmem.db"))
    conn.execute("DELETE FROM selfmem_changes WHERE seq < (SELECT max(seq) FROM selfmem_changes)")
    conn.commit()
    conn.close()
    memory, store = _open(root)
    with memory:
        index = memory._core.retrieval.index(NS)
        assert store.calls["index_rows"] == 1
        assert set(new) <= set(index.row_of)
        warm = _ranked(memory)
    assert warm == _cold(root)


def test_a_snapshot_of_another_embedding_model_is_ignored(
    seeded: tuple[Path, list[str]],
) -> None:
    root, _ = seeded
    memory, store = _open(root, dim=32)
    with memory:
        memory._core.retrieval.index(NS)
        assert store.calls["index_rows"] == 1


def test_snapshots_are_saved_every_n_changes_and_read_by_the_next_engine(
    tmp_path: Path,
) -> None:
    memory, _ = _open(tmp_path)
    with memory:
        _record(memory, 12)
    key = sealing.new_key()

    def snapshots(store: LibSQLStore, cache: LmdbCache) -> IndexSnapshots:
        return IndexSnapshots(
            store, store, cache,
            sealer=lambda: functools.partial(sealing.seal, key),
            unseal=functools.partial(sealing.open_sealed, key),
            save_every=3,
        )  # fmt: skip

    store, cache = LibSQLStore(str(tmp_path / "selfmem.db")), LmdbCache(tmp_path / "snaps")
    first = RetrievalEngine(store, None, snapshots=snapshots(store, cache))
    with first.querying(NS) as cold:  # the first snapshot is written once the query is done
        assert not snapshots(store, cache).path(NS).exists()
    first.wait_for_snapshots()
    written = snapshots(store, cache).path(NS)
    assert written.is_file() and written.parent.parent == tmp_path / "snaps"
    saved = written.read_bytes()
    extra, _ = _open(tmp_path)
    with extra:
        added = [extra._core.store.get_episode(NS, eid) for eid in _record(extra, 3, start=50)]
    for episode in added:  # as if this process had completed them: the third one saves
        assert episode is not None
        first.add(episode)
    first.wait_for_snapshots()  # the third add started a save in the background
    assert written.read_bytes() != saved
    # ``first`` is not closed: what the next engine finds was written by the third add
    counting = CountingStore(str(tmp_path / "selfmem.db"))
    index = RetrievalEngine(counting, None, snapshots=snapshots(counting, cache)).index(NS)
    assert counting.calls["index_rows"] == 0 and counting.calls["get_episode"] == 0
    assert list(index.ids) == list(cold.ids) and len(index) == 15
    np.testing.assert_array_equal(index.bm25("slow report query"), cold.bm25("slow report query"))
    cache.close()


def test_a_damaged_snapshot_file_falls_back_to_a_full_load(
    seeded: tuple[Path, list[str]],
) -> None:
    root, ids = seeded
    (path,) = _snapshot_files(root)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # a disk cut it short
    memory, store = _open(root)
    with memory:
        warm = _ranked(memory)
        assert store.calls["index_rows"] == 1
        assert len(memory._core.retrieval.index(NS)) == len(ids)
    assert warm == _cold(root)


def test_snapshots_kept_as_cache_values_by_an_earlier_version_are_removed(
    seeded: tuple[Path, list[str]],
) -> None:
    root, _ = seeded
    cache = LmdbCache(root / "cache")
    cache.put("index_snapshot", "0" * 32, b"an old manifest")
    cache.close()
    memory, _ = _open(root)
    with memory:
        memory.retrieve_relevant_context("deploy the web service")
        _record(memory, 1, start=300)  # a change: the snapshot is written again at close
    cache = LmdbCache(root / "cache")
    try:
        assert list(cache.keys("index_snapshot")) == []
    finally:
        cache.close()


def test_a_save_removes_what_a_killed_writer_left_and_nothing_being_written(
    seeded: tuple[Path, list[str]],
) -> None:
    root, _ = seeded
    (path,) = _snapshot_files(root)
    left = path.with_name(f"{path.stem}.999.0a0a0a0a.tmp")  # a writer killed two hours ago
    left.write_bytes(b"half a snapshot")
    two_hours_ago = time.time() - 2 * sealed_files.STALE_S
    os.utime(left, (two_hours_ago, two_hours_ago))
    busy = path.with_name(f"{path.stem}.998.0b0b0b0b.tmp")  # another writer, still writing
    busy.write_bytes(b"being written")
    memory, _ = _open(root)
    with memory:
        memory.retrieve_relevant_context("deploy the web service")
        _record(memory, 1, start=400)  # a change: the snapshot is written again at close
    assert not left.exists() and busy.exists()
    assert _snapshot_files(root) == [path]
