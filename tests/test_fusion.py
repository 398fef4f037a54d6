"""The fusion rule: evidence decides relevance, priors only break ties, nothing without
evidence is served, and results come in the order of the score they show."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from selfmem import SelfLearningMemory, TaskContext
from selfmem.embeddings import SentenceTransformerEmbedder
from selfmem.retrieval.ranking import fuse, has_evidence, spread
from selfmem.retrieval.weights import RankingWeights

from .helpers import run_episode

F = np.float32
NO_DIVERSITY = RankingWeights(mmr_lambda=1.0, near_duplicate_cosine=2, near_duplicate_jaccard=2)


def _order(signals: dict[str, list[float]], weights: RankingWeights | None = None) -> list[int]:
    arrays = {name: np.asarray(values, dtype=F) for name, values in signals.items()}
    _, score = fuse(arrays, weights or RankingWeights())
    return np.argsort(-score, kind="stable").tolist()


# -- the rule, on arrays -------------------------------------------------------------------


def test_a_constant_signal_contributes_nothing_to_the_order() -> None:
    lexical = [0.2, 1.0, 0.6, 0.4]
    alone = _order({"lexical": lexical})
    for constant in (0.0, 0.5, 1.0):
        for name in ("semantic", "context", "outcome", "recency"):
            assert _order({"lexical": lexical, name: [constant] * 4}) == alone == [1, 2, 3, 0]
    assert spread(np.full(3, 0.7, dtype=F), 0.1) == 0.1


def test_a_signal_is_weighed_by_its_spread_not_its_raw_range() -> None:
    # Cosines bunched in 0.60-0.80 separate candidates as much as BM25 ratios in 0-1: the
    # semantic favourite (0.80, lexical 0.55) beats the lexical favourite (0.60, lexical 1.0)
    # with semantic weighed 0.6 against lexical 0.4, as raw values it would lose.
    signals = {"lexical": [1.0, 0.55, 0.1], "semantic": [0.60, 0.80, 0.62]}
    assert _order(signals)[0] == 1
    raw = 0.4 * np.asarray(signals["lexical"]) + 0.6 * np.asarray(signals["semantic"])
    assert int(np.argmax(raw)) == 0


def test_differences_below_min_spread_are_not_magnified() -> None:
    # Semantic similarities that differ by noise (0.001) must not outvote a clear lexical lead.
    signals = {"lexical": [1.0, 0.2], "semantic": [0.500, 0.501]}
    assert _order(signals) == [0, 1]
    assert _order(signals, RankingWeights(min_spread=0.0)) == [1, 0]  # what the floor prevents


def test_context_breaks_ties_but_does_not_outweigh_evidence() -> None:
    # Candidate 0 shares the task's words, candidate 1 only the context.
    assert _order({"lexical": [1.0, 0.3], "context": [0.0, 1.0]}) == [0, 1]
    # Equally relevant: the context decides.
    assert _order({"lexical": [0.8, 0.8], "context": [0.0, 1.0]}) == [1, 0]
    # A prior reorders only gaps smaller than its weight times the spread of relevance
    # (here 1.0): context (0.3) overturns a gap of 0.2, not one of 0.4; all three priors
    # at their most extreme (0.37 together) cannot overturn 0.4 either.
    assert _order({"lexical": [1.0, 0.8, 0.0], "context": [0.0, 1.0, 0.0]})[0] == 1
    assert _order({"lexical": [1.0, 0.6, 0.0], "context": [0.0, 1.0, 0.0]})[0] == 0
    extreme = {"lexical": [1.0, 0.6, 0.0], "context": [0.0, 1.0, 1.0],
               "outcome": [0.0, 1.0, 1.0], "recency": [0.0, 1.0, 1.0]}  # fmt: skip
    assert _order(extreme)[0] == 0


def test_the_order_is_that_of_signals_rescaled_to_unit_spread() -> None:
    rng = np.random.default_rng(7)
    weights = RankingWeights()
    for _ in range(50):
        arrays = {
            "lexical": rng.random(12).astype(F),
            "semantic": rng.random(12).astype(F) * 0.3,
            "context": (rng.random(12) > 0.5).astype(F),
            "recency": rng.random(12).astype(F),
        }
        rescaled = sum(
            w * (arrays[k] - arrays[k].min()) / spread(arrays[k], weights.min_spread)
            for k, w in (("lexical", 0.4), ("semantic", 0.6))
        )
        priors = weights.context * arrays["context"] + weights.recency * arrays["recency"]
        expected = rescaled + priors
        _, score = fuse(arrays, weights)
        assert (
            np.argsort(-score, kind="stable").tolist()
            == np.argsort(-expected, kind="stable").tolist()
        )


def test_relevance_is_a_mean_of_the_signals_and_scores_stay_in_the_unit_interval() -> None:
    arrays = {name: np.asarray(v, dtype=F) for name, v in {
        "lexical": [1.0, 1.0, 0.5], "semantic": [0.84, 0.71, 0.5], "context": [1.0, 1.0, 0.0],
        "outcome": [1.0, 1.0, 0.0], "recency": [1.0, 1.0, 0.0]}.items()}  # fmt: skip
    relevance, score = fuse(arrays, RankingWeights())
    assert relevance.tolist() == sorted(relevance.tolist(), reverse=True)
    assert pytest.approx(relevance[2]) == 0.5 and 0.84 < relevance[0] < 1.0
    assert score.min() >= 0.0 and score.max() <= 1.0


def test_evidence_is_a_shared_term_or_enough_semantic_similarity() -> None:
    signals = {"lexical": np.asarray([0.0, 0.3, 0.0, 0.0], dtype=F),
               "semantic": np.asarray([0.1, 0.0, 0.25, 0.19], dtype=F),
               "context": np.asarray([1.0, 0.0, 0.0, 1.0], dtype=F)}  # fmt: skip
    assert has_evidence(signals, RankingWeights()).tolist() == [False, True, True, False]
    half = {**signals, "semantic": np.asarray([0.1, 0.0, 0.25, 0.6], dtype=F)}  # best 0.6
    assert has_evidence(half, RankingWeights()).tolist() == [False, True, False, True]
    del signals["semantic"]
    assert has_evidence(signals, RankingWeights()).tolist() == [False, True, False, False]


# -- the rule, through the public API on a real store --------------------------------------

WEB_PY = TaskContext(domain="web", language="python", framework="fastapi", tags=["api"])
INFRA = TaskContext(domain="infra", language="go")


def test_lexical_evidence_beats_a_context_decoy(memory: SelfLearningMemory) -> None:
    right = run_episode(memory, "Rotate the TLS certificate on the nginx ingress",
                        ["certbot", "kubectl"], context=INFRA)  # fmt: skip
    decoys = [run_episode(memory, f"Add a rate limit to the {name} endpoint", ["edit"],
                          context=WEB_PY) for name in ("orders", "users", "search")]  # fmt: skip
    result = memory.retrieve_relevant_context("renew the nginx TLS certificate", WEB_PY)
    assert [s.episode.id for s in result.episodes] == [right]  # decoys share no evidence
    assert not set(decoys) & {s.episode.id for s in result.episodes}


def test_context_orders_equally_relevant_twins(memory: SelfLearningMemory) -> None:
    go = run_episode(memory, "Set up CI that runs lint and tests", ["ci"], context=INFRA)
    py = run_episode(memory, "Set up CI that runs lint and tests", ["ci"], context=WEB_PY)
    for ctx, first in ((INFRA, go), (WEB_PY, py)):
        found = memory.retrieve_relevant_context("set up CI lint tests", ctx).episodes
        assert [s.episode.id for s in found][:1] == [first]


def test_without_an_embedder_the_order_is_bm25s(memory: SelfLearningMemory) -> None:
    texts = ["Migrate the orders table", "Migrate the users table to postgres",
             "Backfill the orders table", "Vacuum the postgres orders table",
             "Tune postgres autovacuum"]  # fmt: skip
    ids = [run_episode(memory, text, ["psql"], context=WEB_PY) for text in texts]
    plain = SelfLearningMemory(store=memory._core.store, ranking=NO_DIVERSITY)
    try:
        found = plain.retrieve_relevant_context("migrate postgres orders table", limit=5)
        index = plain._core.retrieval.index(plain.namespace)
        bm25 = index.bm25("migrate postgres orders table")
        rows = [index.row_of[eid] for eid in ids if bm25[index.row_of[eid]] > 0]
        expected = [index.ids[r] for r in sorted(rows, key=lambda r: -bm25[r])]
        assert [s.episode.id for s in found.episodes] == expected
    finally:
        plain.close()


def test_results_come_in_the_order_of_their_score(memory: SelfLearningMemory) -> None:
    for i in range(4):
        run_episode(memory, f"Upgrade the postgres driver in service {i}", ["pip", "pytest"])
    run_episode(memory, "Upgrade the postgres driver in billing", ["pip", "pytest"],
                fail_at=1, success=False)  # fmt: skip
    run_episode(memory, "Upgrade the redis client", ["pip"])
    result = memory.retrieve_relevant_context("upgrade the postgres driver", limit=4)
    scores = [s.score for s in result.episodes]
    assert result.failures and scores == sorted(scores, reverse=True)


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.fixture
def with_minilm(
    tmp_path: Path, minilm: SentenceTransformerEmbedder
) -> Iterator[SelfLearningMemory]:
    with SelfLearningMemory.open(tmp_path / "m", embedder=minilm, flush_interval_s=None) as m:
        yield m


def test_nothing_without_evidence_is_served_with_minilm(with_minilm: SelfLearningMemory) -> None:
    memory = with_minilm
    login = [run_episode(memory, f"Fix the failing pytest for the {s} /login endpoint",
                         ["run_tests", "edit_file"], context=WEB_PY)
             for s in ("accounts", "billing")]  # fmt: skip
    deploys = [run_episode(memory, f"Deploy the {s} API to staging", ["build_image", "deploy"],
                           context=WEB_PY) for s in ("accounts", "billing")]  # fmt: skip
    memory.flush()
    result = memory.retrieve_relevant_context("Deploy the payments API to staging", WEB_PY)
    served = [s.episode.id for s in result.episodes]
    assert set(served) == set(deploys) and not set(login) & set(served)
    assert all(s.signals["semantic"] >= 0.2 or s.signals["lexical"] > 0 for s in result.episodes)
    # A paraphrase with no shared term is still found through semantic similarity.
    found = memory.retrieve_relevant_context("ship the payments service to the test cluster")
    assert found.episodes and found.episodes[0].episode.id in deploys
    assert found.episodes[0].signals["lexical"] == 0.0


def test_equal_scores_come_newest_first_and_in_the_same_order_after_reopening(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime

    from selfmem import TaskOutcome

    ctx = TaskContext(domain="web")
    with SelfLearningMemory.open(tmp_path, ranking=NO_DIVERSITY) as memory:
        ids = [
            memory.start_episode("Rotate the signing keys of the gateway", ctx) for _ in range(4)
        ]
        ended = datetime.now(UTC)
        for eid in ids:
            memory.log_step(eid, tool="rotate_keys", observation="ok")
            memory.complete_episode(eid, TaskOutcome.success("done"), end_time=ended)
        memory.flush()
        result = memory.retrieve_relevant_context("Rotate the signing keys", ctx, limit=4)
        assert len({round(s.score, 12) for s in result.episodes}) == 1  # a true tie
        first = [s.episode.id for s in result.episodes]
        assert first == sorted(ids, reverse=True)  # ids grow with time: the newest first
    with SelfLearningMemory.open(tmp_path, ranking=NO_DIVERSITY) as memory:
        again = memory.retrieve_relevant_context("Rotate the signing keys", ctx, limit=4)
        assert [s.episode.id for s in again.episodes] == first
