"""The candidate pool of a query is the ``k`` best positive, unfiltered rows, exactly, also
on indexes large enough that the cut-off is first found in a sample; its best candidates are
ordered by score, equal scores newest id first."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from selfmem.records.index_rows import IndexRow
from selfmem.retrieval.index import EpisodeIndex
from selfmem.retrieval.ranking import _best_first, _top


def _expected(values: np.ndarray, mask: np.ndarray, k: int) -> list[float]:
    eligible = values[mask & (values > 0)]
    return sorted(eligible.tolist(), reverse=True)[:k]


@settings(max_examples=40, deadline=None)
@given(
    size=st.sampled_from([10, 1_000, 70_000, 200_000]),
    k=st.sampled_from([1, 5, 200, 5_000]),
    positive=st.floats(min_value=0.0001, max_value=1.0),
    kept=st.floats(min_value=0.0, max_value=1.0),
    levels=st.sampled_from([3, 50, 0]),  # few distinct values (ties), or continuous
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_top_is_the_k_best_masked_positive_rows(
    size: int, k: int, positive: float, kept: float, levels: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    values = rng.random(size).astype(np.float32)
    if levels:
        values = (np.floor(values * levels) / levels).astype(np.float32)
    values[rng.random(size) > positive] = 0.0  # a query's words miss most rows
    mask = rng.random(size) < kept
    rows = _top(values, mask, k)
    assert len(set(rows.tolist())) == len(rows)
    assert bool(mask[rows].all()) and bool((values[rows] > 0).all())
    assert sorted(values[rows].tolist(), reverse=True) == _expected(values, mask, k)


_INDEX = EpisodeIndex()
for _i in range(300):  # ids that do not sort like their rows
    _INDEX.add(IndexRow(f"ep-{(_i * 7919) % 1000:03d}-{_i}", "debugging", "web", None, None,
                        (), "success", 1.0, 0.0, "deploy"))  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    picks=st.lists(st.integers(0, 299), min_size=1, max_size=120, unique=True),
    levels=st.integers(1, 30),  # few distinct scores: many ties
    limit=st.integers(1, 40),
    seed=st.integers(0, 2**16),
)
def test_best_first_orders_by_score_then_newest_id(
    picks: list[int], levels: int, limit: int, seed: int
) -> None:
    pool = np.asarray(picks, dtype=np.int64)
    fused = np.random.default_rng(seed).integers(0, levels, len(pool)).astype(np.float32)
    ids = [_INDEX.ids[row].encode() for row in picks]
    newest_first = sorted(range(len(picks)), key=ids.__getitem__, reverse=True)
    expected = sorted(newest_first, key=lambda i: -fused[i])[:limit]  # stable: ids break ties
    assert _best_first(_INDEX, pool, fused, limit).tolist() == expected
