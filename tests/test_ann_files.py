"""The HNSW graph saved beside the cache: read back when current, rebuilt when not, and never
a way back for a deleted episode."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from selfmem import SelfLearningMemory, TaskContext, TaskOutcome
from selfmem.embeddings.base import HashingEmbedder
from selfmem.engine.ann_files import AnnFiles
from selfmem.retrieval.index import EpisodeIndex

pytest.importorskip("usearch")

TEXTS = [
    f"{verb} the {thing} service in {env}"
    for verb in ("deploy", "restart", "scale", "patch")
    for thing in ("billing", "search", "auth", "mail", "queue")
    for env in ("staging", "prod")
]
QUERIES = ("deploy billing to staging", "restart auth in prod", "scale the mail queue")


def _store(path: Path, texts: list[str]) -> list[str]:
    with SelfLearningMemory.open(path, embedder=HashingEmbedder(), flush_interval_s=None) as m:
        ids = []
        for text in texts:
            eid = m.start_episode(text, TaskContext(domain="ops"))
            m.log_step(eid, tool="kubectl", observation="ok")
            m.complete_episode(eid, TaskOutcome.success())
            ids.append(eid)
        m.flush()
    return ids


def _open(path: Path) -> SelfLearningMemory:
    return SelfLearningMemory.open(
        path, embedder=HashingEmbedder(), ann_threshold=1, flush_interval_s=None
    )


def _loaded(memory: SelfLearningMemory) -> EpisodeIndex:
    index: EpisodeIndex = memory._core.retrieval.index(memory.namespace)
    while index.ann is None or not index.ann.ready:
        time.sleep(0.01)
    return index


def _files(memory: SelfLearningMemory) -> AnnFiles:
    files = memory._core.retrieval.ann_files
    assert files is not None
    return files


def _answers(memory: SelfLearningMemory) -> list[list[str]]:
    return [[s.episode.id for s in memory.retrieve_relevant_context(q, limit=3).episodes]
            for q in QUERIES]  # fmt: skip


@pytest.fixture
def saved(tmp_path: Path) -> Iterator[tuple[Path, list[str], list[list[str]]]]:
    """A store whose graph was built once and saved at close; the answers it gave."""
    ids = _store(tmp_path, TEXTS)
    with _open(tmp_path) as memory:
        index = _loaded(memory)
        assert index.ann is not None and index.ann.built
        answers = _answers(memory)
    assert _files(memory).saved == 1
    yield tmp_path, ids, answers


def test_the_saved_graph_is_read_back_not_rebuilt(
    saved: tuple[Path, list[str], list[list[str]]],
) -> None:
    path, _, answers = saved
    for _ in range(2):
        with _open(path) as memory:
            index = _loaded(memory)
            assert index.ann is not None and not index.ann.built
            assert _files(memory).restored == 1
            assert _answers(memory) == answers
        assert _files(memory).saved == 0  # unchanged: the file on disk is still current


def test_episodes_added_by_another_handle_while_closed_force_a_rebuild(
    saved: tuple[Path, list[str], list[list[str]]],
) -> None:
    path, _, _ = saved
    new = _store(path, ["migrate the billing database in staging"])[0]
    with _open(path) as memory:
        index = _loaded(memory)
        assert index.ann is not None and index.ann.built
        assert _files(memory).restored == 0
        found = memory.retrieve_relevant_context("migrate billing database", limit=1)
        assert [s.episode.id for s in found.episodes] == [new]


def test_episodes_deleted_by_another_handle_while_closed_force_a_rebuild(
    saved: tuple[Path, list[str], list[list[str]]],
) -> None:
    path, ids, _ = saved
    with SelfLearningMemory.open(path, flush_interval_s=None) as other:
        other.delete_episode(ids[0])
    with _open(path) as memory:
        index = _loaded(memory)
        assert index.ann is not None and index.ann.built
        assert _files(memory).restored == 0
        assert ids[0] not in {i for found in _answers(memory) for i in found}
        assert ids[0] not in memory._core.retrieval.index(memory.namespace).row_of


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip"])
def test_a_damaged_file_is_rebuilt_not_trusted(
    saved: tuple[Path, list[str], list[list[str]]], damage: str
) -> None:
    path, _, answers = saved
    with _open(path) as probe:
        file = _files(probe).path(probe.namespace)
    data = file.read_bytes()
    if damage == "truncate":
        file.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        file.write_bytes(np.random.default_rng(0).bytes(len(data)))
    else:
        middle = len(data) // 2
        file.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :])
    with _open(path) as memory:
        index = _loaded(memory)
        assert index.ann is not None and index.ann.built
        assert _files(memory).restored == 0
        assert _answers(memory) == answers


def test_a_deleted_episode_never_comes_back_from_a_saved_graph(
    saved: tuple[Path, list[str], list[list[str]]],
) -> None:
    path, ids, _ = saved
    with _open(path) as memory:
        file = _files(memory).path(memory.namespace)
        before = file.read_bytes()
        index = _loaded(memory)
        assert index.ann is not None and not index.ann.built
        vector = index.ann.vectors(np.asarray([index.row_of[ids[0]]]))[0]
        memory.delete_episode(ids[0])
        assert ids[0] not in {i for found in _answers(memory) for i in found}
    # the graph still held the removed vector's bytes: it was not saved, the old file is gone
    assert not file.exists()
    plain = [vector.astype(np.float16).tobytes(), vector.astype(np.float32).tobytes()]
    for stored in path.rglob("*"):
        if stored.is_file():
            assert not any(p in stored.read_bytes() for p in plain), stored
    file.write_bytes(before)  # a copy of the old file put back: sealed under a destroyed key
    with _open(path) as memory:
        index = _loaded(memory)
        assert index.ann is not None and index.ann.built
        assert _files(memory).restored == 0
        assert ids[0] not in index.row_of
    with _open(path) as memory:  # the graph rebuilt without it was saved and is current
        index = _loaded(memory)
        assert index.ann is not None and not index.ann.built
        assert ids[0] not in {i for found in _answers(memory) for i in found}


def test_a_graph_saved_for_another_model_is_not_used(
    saved: tuple[Path, list[str], list[list[str]]],
) -> None:
    path, _, _ = saved
    with SelfLearningMemory.open(path, embedder=HashingEmbedder(dim=128), ann_threshold=1,
                                 flush_interval_s=None) as memory:  # fmt: skip
        memory.reembed()
        index = _loaded(memory)
        assert index.ann is not None and index.ann.built
        assert _files(memory).restored == 0


def test_a_graph_holding_an_episode_deleted_elsewhere_is_not_saved_again(
    tmp_path: Path,
) -> None:
    ids = _store(tmp_path, TEXTS)
    with _open(tmp_path) as memory:
        _loaded(memory)
        files = _files(memory)
        deadline = time.monotonic() + 60
        while files.saved == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert files.saved == 1
        with SelfLearningMemory.open(tmp_path, cache=False, flush_interval_s=None) as other:
            other.delete_episode(ids[0])  # another handle; this one has not looked yet
        late = memory.start_episode("migrate the billing database", TaskContext(domain="ops"))
        memory.complete_episode(late, TaskOutcome.success())
        memory.flush()  # the graph changed: close would save it, but it holds ids[0]
        file = files.path(memory.namespace)
    assert files.saved == 1
    assert not file.exists()


def test_row_vectors_read_back_from_the_graph_once_it_is_ready() -> None:
    from selfmem.retrieval.ann import AnnIndex
    from selfmem.retrieval.vectors import RowVectors

    rng = np.random.default_rng(4)
    matrix = rng.normal(size=(6, 16)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    vectors = RowVectors(8, 16)
    vectors[:6] = matrix
    ann = AnnIndex(16)
    vectors.use(ann)
    assert vectors.in_matrix  # the graph is not ready yet
    ann.build_from(vectors[np.arange(6)].copy(), np.arange(6, dtype=np.int64))
    assert not vectors.in_matrix
    vectors.grow(16, 6)
    assert vectors.shape == (16, 16)
    assert np.allclose(vectors[2], matrix[2], atol=2e-3)
    assert np.allclose(vectors[1:3], matrix[1:3], atol=2e-3)
    assert not vectors[7].any()  # a row without a vector reads as zeros
    vectors[7] = matrix[0]  # the index adds a new row's vector to the graph itself
    ann.add(7, matrix[0])
    assert np.allclose(vectors[np.asarray([7])], matrix[:1], atol=2e-3)


def test_row_vectors_restored_whole_are_copied_only_when_used() -> None:
    from selfmem.retrieval.ann import AnnIndex
    from selfmem.retrieval.vectors import RowVectors

    matrix = np.eye(4, 8, dtype=np.float32)
    kept = RowVectors(8, 8)
    kept[:4] = matrix  # as from a snapshot: not copied yet
    matrix_copy = matrix.copy()
    assert np.array_equal(kept[np.arange(4)], matrix_copy)  # read: copied now
    kept[5] = matrix_copy[0]
    assert np.array_equal(kept[5], matrix_copy[0]) and np.array_equal(kept[:4], matrix_copy)
    dropped = RowVectors(8, 8)
    dropped[:4] = matrix
    ann = AnnIndex(8)
    ann.build_from(matrix_copy, np.arange(4, dtype=np.int64))
    dropped.use(ann)  # a ready graph: the rows are never copied
    assert not dropped.in_matrix
    assert np.allclose(dropped[np.arange(4)], matrix_copy, atol=2e-3)


def test_the_graph_is_saved_when_its_build_ends_not_only_at_close(tmp_path: Path) -> None:
    _store(tmp_path, TEXTS)
    memory = _open(tmp_path)
    try:
        _loaded(memory)
        files = _files(memory)
        deadline = time.monotonic() + 60
        while files.saved == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert files.saved == 1  # a process killed now would still find it
        assert files.path(memory.namespace).exists()
    finally:
        memory.close()
    assert files.saved == 1  # unchanged since: not written again at close
