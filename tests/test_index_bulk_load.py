"""Loading many rows at once (every stored episode on first use) indexes them exactly as
adding them one at a time would: same BM25, filters, context scores and row terms."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from selfmem.records.index_rows import IndexRow
from selfmem.retrieval import index as index_module
from selfmem.retrieval.index import EpisodeIndex, QueryFilters

_WORDS = ["deploy", "docker", "flask", "parse", "csv", "retry", "timeout", "auth", "cache"]

_ROWS = st.lists(
    st.builds(
        IndexRow,
        episode_id=st.sampled_from([f"ep-{i:02d}" for i in range(30)]),  # ids come back
        task_type=st.sampled_from(["code_generation", "debugging"]),
        domain=st.sampled_from(["web", "data", "ops"]),
        language=st.sampled_from([None, "python", "go"]),
        framework=st.sampled_from([None, "flask"]),
        tags=st.lists(st.sampled_from(["a", "b", "c"]), max_size=2, unique=True).map(tuple),
        outcome=st.sampled_from(["success", "failure", "partial_success"]),
        reward=st.floats(0.0, 1.0),
        end_time=st.floats(0.0, 1e6),
        terms=st.lists(st.sampled_from(_WORDS), max_size=10).map(" ".join),
    ),
    max_size=40,
)


def _signals(index: EpisodeIndex) -> dict[str, object]:
    live = sorted(index.row_of)
    rows = [index.row_of[eid] for eid in live]
    filters = QueryFilters(domain="web", success_only=True, tags=("a",))
    return {
        "ids": live,
        "bm25": index.bm25("deploy docker flask timeout")[rows].tolist(),
        "mask": index.filter_mask(filters)[rows].tolist(),
        "context": index.context_scores(
            np.asarray(rows, dtype=np.int64), "web", "python", "flask", "debugging", ("a", "b")
        ).tolist(),
        "terms": [sorted(t.tolist()) for t in index.terms_of(rows)],
        "len": len(index),
    }


@settings(max_examples=50, deadline=None)
@given(rows=_ROWS, batch=st.integers(1, 7))
def test_bulk_load_indexes_like_one_row_at_a_time(rows: list[IndexRow], batch: int) -> None:
    one_by_one = EpisodeIndex()
    for row in rows:
        one_by_one.add(row)
    previous = index_module._LOAD_BATCH
    index_module._LOAD_BATCH = batch  # several batches, re-added ids across and within them
    try:
        bulk = EpisodeIndex()
        bulk.load(rows)
    finally:
        index_module._LOAD_BATCH = previous
    expected, found = _signals(one_by_one), _signals(bulk)
    assert found["ids"] == expected["ids"]
    assert found["mask"] == expected["mask"]
    assert found["terms"] == expected["terms"]
    assert found["len"] == expected["len"]
    np.testing.assert_allclose(found["bm25"], expected["bm25"], rtol=1e-6)
    np.testing.assert_allclose(found["context"], expected["context"], rtol=1e-6)
    restored = _signals(EpisodeIndex.from_state(bulk.export_state()))  # as a snapshot reloads
    assert restored["ids"] == expected["ids"]
    assert restored["mask"] == expected["mask"]
    assert restored["len"] == expected["len"]
    np.testing.assert_allclose(restored["bm25"], expected["bm25"], rtol=1e-6)
    np.testing.assert_allclose(restored["context"], expected["context"], rtol=1e-6)


def test_rows_added_after_a_bulk_load_are_searchable() -> None:
    index = EpisodeIndex()

    def row(episode_id: str, *terms: str) -> IndexRow:
        return IndexRow(episode_id, "debugging", "web", None, None, (), "success", 1.0, 0.0,
                        " ".join(terms))

    index.load(row(f"ep-{i}", "deploy", "docker") for i in range(5))
    index.add(row("late", "flask", "deploy"))
    scores = index.bm25("flask")
    assert index.ids[int(np.argmax(scores))] == "late"
    assert np.count_nonzero(index.bm25("deploy")) == 6
    index.add(row("later", "deploy"))  # the same query again sees every change
    assert np.count_nonzero(index.bm25("deploy")) == 7
    before = index.bm25("deploy").copy()
    index.remove("ep-0")  # the live rows' scores move (document frequency, average length)
    assert not np.array_equal(index.bm25("deploy"), before)
    kept = index.bm25("docker deploy")  # another text: the terms' kept contributions
    index.add(row("newest", "docker"))
    moved = index.bm25("deploy docker")
    assert moved[index.row_of["newest"]] > 0
    assert not np.array_equal(moved[: len(kept)], kept)  # docker's idf fell


@settings(max_examples=40, deadline=None)
@given(rows=_ROWS, late=_ROWS, picks=st.lists(st.integers(0, 79), max_size=12))
def test_context_scores_of_some_rows_follow_the_definition(
    rows: list[IndexRow], late: list[IndexRow], picks: list[int]
) -> None:
    """Scored only for the rows asked (a query's candidates), after a snapshot round trip
    and rows added since: domain 0.3, tag Jaccard 0.2, over the stated fields."""
    index = EpisodeIndex()
    index.load(rows)
    index = EpisodeIndex.from_state(index.export_state())
    for row in late:
        index.add(row)
    n = index.size
    asked = np.asarray([p % n for p in picks] if n else [], dtype=np.int64)
    scores = index.context_scores(asked, "web", None, None, None, ("a", "b"))
    assert scores is not None
    by_id = {row.episode_id: row for row in [*rows, *late]}  # the last row of an id stands
    for row_number, score in zip(asked.tolist(), scores.tolist(), strict=True):
        row = by_id[index.ids[row_number]]
        if not index.alive[row_number]:
            continue  # replaced by a later row of the same id
        jaccard = len({"a", "b"} & set(row.tags)) / len({"a", "b"} | set(row.tags))
        expected = (0.3 * (row.domain == "web") + 0.2 * jaccard) / 0.5
        assert abs(score - expected) < 1e-6, (row, score, expected)
