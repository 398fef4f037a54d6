"""Hybrid retrieval: fusion, MMR, filters, warnings, embeddings (real MiniLM) and re-embedding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from selfmem import ExecutionStep, SelfLearningMemory, TaskContext, TaskOutcome
from selfmem.embeddings import HashingEmbedder, SentenceTransformerEmbedder
from selfmem.engine.retrieval import embedding_text, vector_tag
from selfmem.retrieval.ranking import RankingWeights

from .helpers import run_episode

PY = TaskContext(domain="web", language="python", tags=["api"])
GO = TaskContext(domain="web", language="go", tags=["api"])


def test_context_match_breaks_a_lexical_tie(in_memory: SelfLearningMemory) -> None:
    go = run_episode(in_memory, "Add pagination to the orders endpoint", ["edit"], context=GO)
    py = run_episode(in_memory, "Add pagination to the orders endpoint", ["edit"], context=PY)
    for ctx, expected in ((PY, py), (GO, go)):
        top = in_memory.retrieve_relevant_context("pagination for orders", ctx).episodes[0]
        assert top.episode.id == expected
        assert top.signals["context"] == 1.0


def test_copies_of_one_task_do_not_crowd_out_the_rest(in_memory: SelfLearningMemory) -> None:
    for _ in range(5):  # the same job, recorded again and again
        run_episode(in_memory, "Rotate the TLS certificate of the gateway", ["openssl"])
    other = run_episode(in_memory, "Renew TLS for the mail server with certbot", ["certbot"])
    result = in_memory.retrieve_relevant_context("rotate the TLS certificate", limit=3)
    assert other in [s.episode.id for s in result.episodes]
    scores = [s.score for s in result.episodes]
    assert scores == sorted(scores, reverse=True)
    no_diversity = RankingWeights(near_duplicate_jaccard=2, near_duplicate_cosine=2)
    plain = SelfLearningMemory(store=in_memory._core.store, ranking=no_diversity)
    undiversified = plain.retrieve_relevant_context("rotate the TLS certificate", limit=3)
    assert other not in [s.episode.id for s in undiversified.episodes]
    plain.close()


def test_similar_but_different_tasks_are_not_copies(in_memory: SelfLearningMemory) -> None:
    """Tasks of one kind (same tools, other subjects) are each evidence; only copies are
    held back, so a close family is returned whole."""
    names = ("payments", "search", "mail", "auth")
    family = [run_episode(in_memory, f"Rotate the TLS certificate of the {name} gateway",
                          ["openssl"]) for name in names]  # fmt: skip
    result = in_memory.retrieve_relevant_context("rotate the TLS certificate", limit=4)
    assert {s.episode.id for s in result.episodes} == set(family)


def test_similar_failure_is_kept_as_a_warning(in_memory: SelfLearningMemory) -> None:
    for i in range(4):
        run_episode(in_memory, f"Upgrade the postgres driver in service {i}", ["pip", "pytest"])
    failed = run_episode(
        in_memory, "Upgrade the postgres driver in billing", ["pip", "pytest"], fail_at=1,
        success=False,
    )  # fmt: skip
    result = in_memory.retrieve_relevant_context("upgrade the postgres driver", limit=3)
    assert [s.episode.id for s in result.failures] == [failed]
    assert "What to avoid:" in result.render(max_tokens=500)


def test_filters_and_namespaces_hold(in_memory: SelfLearningMemory) -> None:
    old = run_episode(in_memory, "Tune the cache eviction policy", ["bench"], context=PY)
    fresh = run_episode(
        in_memory, "Tune the cache eviction policy again", ["bench"],
        context=TaskContext(domain="infra", tags=["perf"]),
    )  # fmt: skip
    failed = run_episode(in_memory, "Tune the cache size", ["bench"], success=False)
    ask = in_memory.retrieve_relevant_context

    def ids(**filters: object) -> set[str]:
        return {s.episode.id for s in ask("tune cache", limit=10, **filters).episodes}  # type: ignore[arg-type]

    assert ids() == {old, fresh, failed}
    assert ids(domain="infra") == {fresh}
    assert ids(tags=["perf"]) == {fresh}
    assert ids(success_only=True) == {old, fresh}
    after = in_memory.get_episode(fresh).end_time
    assert after is not None
    assert ids(since=after) >= {fresh} and old not in ids(since=after + timedelta(seconds=1))
    assert ids(until=datetime(2000, 1, 1, tzinfo=UTC)) == set()
    assert in_memory.scoped("other").retrieve_relevant_context("tune cache").episodes == []


def test_deleted_episodes_leave_the_index(in_memory: SelfLearningMemory) -> None:
    eid = run_episode(in_memory, "Compress the nightly backups", ["tar"])
    assert in_memory.retrieve_relevant_context("compress backups").episodes
    in_memory.delete_episode(eid)
    assert in_memory.retrieve_relevant_context("compress backups").episodes == []


def test_index_is_rebuilt_from_the_store_on_reopen(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path) as memory:
        eid = run_episode(memory, "Shard the events table by month", ["psql"])
    with SelfLearningMemory.open(tmp_path) as memory:
        top = memory.retrieve_relevant_context("shard events by month").episodes[0]
        assert top.episode.id == eid


def test_vectors_are_stored_and_reembedded_when_the_model_changes(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, embedder=HashingEmbedder(64)) as memory:
        eid = run_episode(memory, "Index the invoices by customer", ["sql"])
        memory.flush()  # waits for the embedding worker
        assert len(memory._core.store.load_embeddings("default", vector_tag("hashing-64"))) == 1
        hit = memory.retrieve_relevant_context("invoice customer index").episodes[0]
        assert hit.episode.id == eid and hit.signals["semantic"] > 0
    with SelfLearningMemory.open(tmp_path, embedder=HashingEmbedder(32)) as memory:
        seen: list[tuple[int, int]] = []
        assert memory.reembed(progress=lambda done, total: seen.append((done, total))) == 1
        assert seen == [(1, 1)]
        assert len(memory._core.store.load_embeddings("default", vector_tag("hashing-32"))) == 1
        assert memory.reembed() == 0  # nothing left to do


def test_vectors_of_an_older_embedding_text_are_recomputed(tmp_path: Path) -> None:
    """Stores written when episodes were embedded as "task | domain D | language L" (tagged
    with the bare model id) get vectors of the task description, which is what queries are."""
    embedder = HashingEmbedder(64)
    ctx = TaskContext(domain="data", language="sql")
    with SelfLearningMemory.open(tmp_path) as memory:  # no embedder: no vectors yet
        eid = run_episode(memory, "Index the invoices by customer", ["sql"], context=ctx)
        old_text = "Index the invoices by customer | domain data | language sql"
        old = embedder.embed([old_text])[0].astype(np.float32).tobytes()
        memory._core.store.save_embeddings("default", embedder.model_id, [(eid, old)])
    with SelfLearningMemory.open(tmp_path, embedder=embedder) as memory:
        memory.flush()  # the background worker re-embeds what has no current vector
        memory.reembed()
        stored = dict(memory._core.store.load_embeddings("default", vector_tag(embedder.model_id)))
        episode = memory.get_episode(eid)
        assert embedding_text(episode) == "Index the invoices by customer"
        expected = embedder.embed([embedding_text(episode)])[0]
        assert np.allclose(np.frombuffer(stored[eid], dtype=np.float32), expected)
        hit = memory.retrieve_relevant_context("Index the invoices by customer").episodes[0]
        assert hit.episode.id == eid and hit.signals["semantic"] == pytest.approx(1.0, abs=1e-5)


def test_query_vector_can_be_passed(in_memory: SelfLearningMemory) -> None:
    memory = SelfLearningMemory(embedder=HashingEmbedder(64))
    eid = run_episode(memory, "Profile the slow report query", ["explain"])
    memory.flush()
    vector = HashingEmbedder(64).embed(["slow report query profiling"])[0]
    embedded: list[str] = []
    embedder = memory._core.retrieval.embedder
    real_embed = embedder.embed
    embedder.embed = lambda texts: embedded.extend(texts) or real_embed(texts)
    result = memory.retrieve_relevant_context("x y z", query_vector=vector)
    assert result.episodes[0].episode.id == eid and result.episodes[0].signals["semantic"] > 0.3
    # the given vector also picks the runs that vote for a sequence: nothing is embedded
    assert embedded == []
    memory.close()


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


def test_minilm_finds_paraphrases_that_share_no_words(
    tmp_path: Path, minilm: SentenceTransformerEmbedder
) -> None:
    tasks = {
        "login": "Fix the failing pytest for the /login endpoint",
        "deploy": "Roll out the payments service to production",
        "csv": "Clean up the sales spreadsheet and remove duplicate rows",
    }
    with SelfLearningMemory.open(tmp_path, embedder=minilm) as memory:
        ids = {}
        for key, text in tasks.items():
            eid = memory.start_episode(text)
            memory.log_step(eid, ExecutionStep(tool="work", observation="done"))
            memory.complete_episode(eid, TaskOutcome.success())
            ids[key] = eid
        memory.flush()
        assert memory._core.retrieval.embedder is minilm and minilm.dim == 384
        for query, key in (
            ("sign-in unit test keeps breaking", "login"),
            ("ship the billing app to prod", "deploy"),
            ("dedupe a spreadsheet of revenue", "csv"),
        ):
            result = memory.retrieve_relevant_context(query)
            assert result.episodes[0].episode.id == ids[key], query
            assert result.episodes[0].signals["semantic"] > 0.3


def test_embedding_text_is_unit_float32(minilm: SentenceTransformerEmbedder) -> None:
    matrix = minilm.embed(["one", "two words"])
    assert matrix.dtype == np.float32 and matrix.shape == (2, 384)
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    assert minilm.model_id == "sentence-transformers/all-MiniLM-L6-v2"


@pytest.mark.parametrize("min_semantic", [0.0, 0.1, 0.2])
def test_each_result_shows_its_own_signals_in_score_order(
    tmp_path: Path, min_semantic: float
) -> None:
    """The signals a result explains itself with are its own, also when candidates without
    evidence were dropped from the pool before fusion, and results come in score order."""
    weights = RankingWeights(min_semantic=min_semantic)
    embedder = HashingEmbedder()
    with SelfLearningMemory.open(tmp_path, embedder=embedder, ranking=weights) as memory:
        # unrelated episodes first: dropped candidates then sit before the kept ones
        texts = ["Restart the mail queue", "Backup the mail archive", "Tune the search ranking",
                 "Deploy the billing service", "Rotate the billing keys",
                 "Deploy the search service"]  # fmt: skip
        for i, text in enumerate(texts):
            run_episode(memory, text, ["kubectl", f"step{i}"],
                        context=TaskContext(domain="ops" if i % 2 else "web"))  # fmt: skip
        memory.flush()
        query = "deploy billing"
        found = memory.retrieve_relevant_context(query, TaskContext(domain="ops"), limit=5)
        assert found.episodes
        index = memory._core.retrieval.index(memory.namespace)
        bm25 = index.bm25(query)
        vector = embedder.embed([query])[0]
        for hit in found.episodes:
            row = index.row_of[hit.episode.id]
            assert hit.signals["lexical"] == pytest.approx(bm25[row] / bm25.max(), abs=1e-6)
            cosine = max(0.0, float(index.vectors[row] @ vector))  # type: ignore[index]
            assert hit.signals["semantic"] == pytest.approx(cosine, abs=1e-5)
            assert hit.signals["context"] == (1.0 if hit.episode.context.domain == "ops" else 0.0)
            assert hit.signals["lexical"] > 0 or hit.signals["semantic"] >= min_semantic
        scores = [hit.score for hit in found.episodes]
        assert scores == sorted(scores, reverse=True), [h.explain() for h in found.episodes]
