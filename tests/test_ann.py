"""The optional HNSW index (usearch): same answers as exact search, never blocks writers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from selfmem import SelfLearningMemory, TaskContext, TaskOutcome, ToolSequence
from selfmem.embeddings.base import HashingEmbedder
from selfmem.retrieval.ann import AnnIndex

T = TypeVar("T")


def _unit(rng: np.random.Generator, n: int, dim: int = 32) -> np.ndarray:
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_search_finds_the_exact_nearest_rows() -> None:
    rng = np.random.default_rng(1)
    vectors = _unit(rng, 2_000)
    ann = AnnIndex(32)
    ann.build_from(vectors, np.arange(2_000, dtype=np.int64))
    for query in vectors[:20]:
        rows, sims = ann.search(query, 10)
        exact = np.argsort(-(vectors @ query))[:10]
        assert len(set(rows.tolist()) & set(exact.tolist())) >= 9
        assert sims[0] > 0.99  # the query itself, similarity ~1


def test_a_repeated_search_sees_every_change_made_in_between() -> None:
    """A retrieval searches twice with one vector; the second answer is the first's only
    while the graph has not changed."""
    rng = np.random.default_rng(4)
    vectors = _unit(rng, 200)
    ann = AnnIndex(32)
    ann.build_from(vectors, np.arange(200, dtype=np.int64))
    query = vectors[7]
    first = ann.search(query, 5)
    again = ann.search(query, 5)
    assert again[0].tolist() == first[0].tolist() and first[0][0] == 7
    assert ann.search(query, 3)[0].tolist() == first[0][:3].tolist()  # another k: searched
    ann.remove(7)
    assert 7 not in ann.search(query, 5)[0].tolist()
    ann.add(500, query)
    assert ann.search(query, 5)[0][0] == 500
    assert ann.search(vectors[8], 1)[0].tolist() == [8]  # another query: searched


def test_vectors_read_again_are_the_graphs_current_ones() -> None:
    rng = np.random.default_rng(5)
    vectors = _unit(rng, 50)
    ann = AnnIndex(32, "f32")
    ann.build_from(vectors, np.arange(50, dtype=np.int64))
    first = ann.vectors(np.asarray([3, 9, 60]))  # 60 has no vector: zeros
    np.testing.assert_allclose(first[:2], vectors[[3, 9]], atol=1e-6)
    assert not first[2].any()
    again = ann.vectors(np.asarray([9, 4, 3]))
    np.testing.assert_allclose(again, vectors[[9, 4, 3]], atol=1e-6)
    ann.add(9, vectors[0])  # replaced: a later read sees the new vector
    ann.add(60, vectors[1])
    np.testing.assert_allclose(ann.vectors(np.asarray([9, 60, 3])), vectors[[0, 1, 3]], atol=1e-6)
    ann.remove(3)
    assert not ann.vectors(np.asarray([3]))[0].any()


def test_similarities_are_the_current_vectors_inner_products() -> None:
    """Ranking asks the query's similarity to a pool: rows the search found, rows it did
    not, rows without a vector; asked again after a change, it sees the change."""
    rng = np.random.default_rng(6)
    vectors = _unit(rng, 300)
    ann = AnnIndex(32, "f32")
    ann.build_from(vectors, np.arange(300, dtype=np.int64))
    query = vectors[11]
    found, _ = ann.search(query, 10)
    pool = np.asarray([*found[:5].tolist(), 200, 250, 299, 400])  # 400: no vector
    expected = np.append(vectors[pool[:-1]] @ query, 0.0)
    np.testing.assert_allclose(ann.similarities(query, pool), expected, atol=1e-5)
    np.testing.assert_allclose(ann.similarities(query, pool[::-1]), expected[::-1], atol=1e-5)
    ann.add(250, vectors[12])  # replaced
    ann.remove(200)
    expected[pool.tolist().index(250)] = float(vectors[12] @ query)
    expected[pool.tolist().index(200)] = 0.0
    np.testing.assert_allclose(ann.similarities(query, pool), expected, atol=1e-5)
    other = vectors[40]
    np.testing.assert_allclose(ann.similarities(other, pool[:3]), vectors[pool[:3]] @ other,
                               atol=1e-5)  # fmt: skip


def test_changes_during_the_build_wait_and_are_applied_in_order() -> None:
    rng = np.random.default_rng(2)
    vectors = _unit(rng, 3)
    ann = AnnIndex(32)
    ann.add(10, vectors[0])  # before the build: queued, not blocking
    ann.add(11, vectors[1])
    ann.remove(11)
    ann.add(12, vectors[2])
    assert not ann.ready
    ann.build_from(np.zeros((0, 32), np.float32), np.zeros(0, np.int64))
    assert ann.ready
    assert ann.search(vectors[0], 1)[0].tolist() == [10]
    assert 11 not in ann.search(vectors[1], 3)[0].tolist()
    assert ann.search(vectors[2], 1)[0].tolist() == [12]


def test_a_writer_is_not_blocked_by_a_running_build() -> None:
    rng = np.random.default_rng(3)
    vectors = _unit(rng, 20_000, dim=64)
    ann = AnnIndex(64)
    build = threading.Thread(target=ann.build_from, args=(vectors, np.arange(20_000)))
    build.start()
    time.sleep(0.05)
    building = not ann.ready
    start = time.perf_counter()
    ann.add(20_000, vectors[0])
    waited = time.perf_counter() - start
    build.join()
    assert building, "the build should still be running (20,000 vectors take ~1 s)"
    assert waited < 0.05  # queued, not waiting for the build's lock
    assert 20_000 in ann.search(vectors[0], 2)[0].tolist()


def test_retrieval_with_hnsw_matches_exact_search(tmp_path: Path) -> None:
    texts = [
        f"{verb} the {thing} service in {env}"
        for verb in ("deploy", "restart", "scale")
        for thing in ("billing", "search", "auth", "mail")
        for env in ("staging", "prod")
    ]
    with SelfLearningMemory.open(tmp_path, embedder=HashingEmbedder(), learn_inline=True) as m:
        for text in texts:
            eid = m.start_episode(text, TaskContext(domain="ops"))
            m.log_step(eid, tool="kubectl", observation="ok")
            m.complete_episode(eid, TaskOutcome.success())
        m.flush()
    exact, hnsw = _exact_and_hnsw(tmp_path, lambda memory: [
        [s.episode.task_description for s in memory.retrieve_relevant_context(q, limit=3).episodes]
        for q in ("deploy billing to staging", "restart auth in prod", "scale mail")
    ])  # fmt: skip
    assert hnsw == exact


def _exact_and_hnsw(path: Path, ask: Callable[[SelfLearningMemory], T]) -> tuple[T, T]:
    """``ask``'s answer over the store at ``path`` with exact search, then with HNSW."""
    answers = {}
    for threshold in (10**9, 1):
        with SelfLearningMemory.open(path, embedder=HashingEmbedder(),
                                     ann_threshold=threshold) as memory:  # fmt: skip
            index = memory._core.retrieval.index(memory.namespace)
            while index.ann is not None and not index.ann.ready:
                time.sleep(0.01)
            assert (index.ann is not None) == (threshold == 1)
            answers[threshold] = ask(memory)
    return answers[10**9], answers[1]


def test_once_the_graph_is_ready_the_vectors_are_kept_once(tmp_path: Path) -> None:
    texts = [f"{verb} the {thing} service" for verb in ("deploy", "restart", "scale")
             for thing in ("billing", "search", "auth", "mail")]  # fmt: skip
    with SelfLearningMemory.open(tmp_path, embedder=HashingEmbedder(), ann_threshold=1,
                                 flush_interval_s=None) as memory:  # fmt: skip
        ids = []
        for text in texts:
            ids.append(memory.start_episode(text, TaskContext(domain="ops")))
            memory.complete_episode(ids[-1], TaskOutcome.success())
        memory.flush()
        index = memory._core.retrieval.index(memory.namespace)
        while index.ann is None or not index.ann.ready:
            time.sleep(0.01)
        assert index.vectors is not None
        assert not index.vectors.in_matrix  # no float32 matrix beside the graph
        expected = np.asarray(HashingEmbedder().embed(texts[:2]), dtype=np.float32)
        rows = np.asarray([index.row_of[eid] for eid in ids[:2]])
        assert np.allclose(index.vectors[rows], expected, atol=2e-3)  # read back from f16
        late = memory.start_episode("migrate the billing database", TaskContext(domain="ops"))
        memory.complete_episode(late, TaskOutcome.success())
        memory.flush()
        found = memory.retrieve_relevant_context("migrate billing database", limit=1)
        assert [s.episode.id for s in found.episodes] == [late]


def test_the_nearest_runs_vote_the_same_with_hnsw_when_most_runs_failed(tmp_path: Path) -> None:
    """The runs that vote are the successful ones: here fewer than half of all, so HNSW's
    usual search is filtered down to them instead of searched again wider."""
    procedures = {
        "billing": ["fetch_invoice", "verify_order", "issue_refund"],
        "search": ["read_metrics", "scale_service", "ack_alert"],
        "auth": ["verify_identity", "send_reset_link", "notify_user"],
    }
    with SelfLearningMemory.open(tmp_path, embedder=HashingEmbedder(), learn_inline=True) as m:
        for thing, tools in procedures.items():
            for i in range(30):
                eid = m.start_episode(f"handle the {thing} request number {i}",
                                      TaskContext(domain="ops"))  # fmt: skip
                ok = i % 5 < 2  # 36 of 90 succeed
                for tool in tools if ok else [*tools[:1], "guess"]:
                    m.log_step(eid, tool=tool, observation="done")
                outcome = TaskOutcome.success() if ok else TaskOutcome.failure("stuck")
                m.complete_episode(eid, outcome)
        m.flush()

    def first_sequence(memory: SelfLearningMemory) -> list[str] | None:
        found = memory.retrieve_relevant_context(
            "handle the search request number 77", TaskContext(domain="ops")
        )
        sequences = [p.pattern for p in found.patterns if isinstance(p.pattern, ToolSequence)]
        return sequences[0].tools if sequences else None

    exact, hnsw = _exact_and_hnsw(tmp_path, first_sequence)
    assert hnsw == exact == procedures["search"]
