"""The flat-array postings give exactly what a naive term index would, across compactions."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfmem.retrieval.postings import Postings

_WORDS = st.sampled_from(["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta"])


@settings(max_examples=60, deadline=None)
@given(
    docs=st.lists(st.lists(_WORDS, max_size=12), min_size=1, max_size=40),
    compact_after=st.sets(st.integers(min_value=0, max_value=39)),
    bulk=st.booleans(),
)
def test_postings_match_a_naive_index(
    docs: list[list[str]], compact_after: set[int], bulk: bool
) -> None:
    postings = Postings()
    postings.deferred = bulk
    for row, terms in enumerate(docs):
        postings.add(row, terms)
        if row in compact_after:
            postings.compact()
    for term in {"alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "missing"}:
        expected = {row: Counter(terms)[term] for row, terms in enumerate(docs) if term in terms}
        found = postings.get(term)
        if not expected:
            assert found is None or len(found[0]) == 0
            continue
        assert found is not None
        rows, tfs = found
        assert dict(zip(rows.tolist(), tfs.tolist(), strict=True)) == expected
        assert rows.tolist() == sorted(rows.tolist())  # row order survives compaction
    distinct = postings.terms_of(range(len(docs)))
    assert [len(ids) for ids in distinct] == [len(set(terms)) for terms in docs]
    # the same term gets the same id in every row
    first = {term: i for i, term in enumerate(dict.fromkeys(t for d in docs for t in d))}
    for ids, terms in zip(distinct, docs, strict=True):
        assert sorted(ids.tolist()) == sorted(first[t] for t in set(terms))


def test_rows_must_be_added_in_order() -> None:
    postings = Postings()
    postings.add(0, ["a"])
    with pytest.raises(ValueError, match="in order"):
        postings.add(2, ["b"])


def test_terms_of_returns_copies_so_rows_can_still_be_added() -> None:
    postings = Postings()
    postings.add(0, ["a", "b"])
    held = postings.terms_of([0])  # a caller keeping the result must not block growth
    postings.add(1, ["c"])
    assert held[0].tolist() == [0, 1]
    assert postings.terms_of([1])[0].tolist() == [2]


@settings(max_examples=60, deadline=None)
@given(
    docs=st.lists(st.lists(_WORDS, max_size=12), min_size=1, max_size=40),
    cuts=st.sets(st.integers(min_value=1, max_value=39)),
    one_by_one=st.sets(st.integers(min_value=0, max_value=39)),
)
def test_bulk_extend_matches_adding_row_by_row(
    docs: list[list[str]], cuts: set[int], one_by_one: set[int]
) -> None:
    """Rows added in batches (:meth:`Postings.extend`, used by a bulk load), mixed with
    rows added one at a time, give the postings and row terms of a naive index."""
    postings = Postings()
    bounds = sorted({0, len(docs), *(c for c in cuts if c < len(docs))})
    for lo, hi in pairwise(bounds):
        if lo in one_by_one:
            for row in range(lo, hi):
                postings.add(row, docs[row])
        else:
            postings.extend(lo, [" ".join(doc) for doc in docs[lo:hi]])
    for term in {"alpha", "beta", "gamma", "delta", "eps", "zeta", "eta"}:
        expected = {row: Counter(terms)[term] for row, terms in enumerate(docs) if term in terms}
        found = postings.get(term)
        if not expected:
            assert found is None or len(found[0]) == 0
            continue
        assert found is not None
        assert dict(zip(found[0].tolist(), found[1].tolist(), strict=True)) == expected
        assert found[0].tolist() == sorted(found[0].tolist())
    distinct = postings.terms_of(range(len(docs)))
    assert [len(ids) for ids in distinct] == [len(set(terms)) for terms in docs]


def test_extend_must_continue_from_the_last_row() -> None:
    postings = Postings()
    postings.extend(0, ["a", "b"])
    with pytest.raises(ValueError, match="in order"):
        postings.extend(3, ["c"])


@settings(max_examples=60, deadline=None)
@given(
    docs=st.lists(st.lists(_WORDS, max_size=12), min_size=1, max_size=40),
    compact_after=st.sets(st.integers(min_value=0, max_value=39)),
    dropped=st.sets(st.integers(min_value=0, max_value=39)),
)
def test_export_then_restore_holds_exactly_the_kept_rows(
    docs: list[list[str]], compact_after: set[int], dropped: set[int]
) -> None:
    """A snapshot's postings (:meth:`Postings.export` of the live rows, renumbered, then
    :meth:`Postings.restore`) answer like a naive index built from those rows alone, whether
    or not rows were still in tails when it was taken."""
    postings = Postings()
    for row, terms in enumerate(docs):
        postings.add(row, terms)
        if row in compact_after:
            postings.compact()
    keep = np.array([r for r in range(len(docs)) if r not in dropped], dtype=np.int64)
    kept = [docs[r] for r in keep.tolist()]
    terms, arrays = postings.export(keep)
    restored = Postings.restore(terms, arrays)
    assert set(terms) == {t for d in kept for t in d}  # no term only dropped rows had
    for term in {"alpha", "beta", "gamma", "delta", "eps", "zeta", "eta"}:
        expected = {row: Counter(d)[term] for row, d in enumerate(kept) if term in d}
        found = restored.get(term)
        if not expected:
            assert found is None
            continue
        assert found is not None
        assert dict(zip(found[0].tolist(), found[1].tolist(), strict=True)) == expected
        assert found[0].tolist() == sorted(found[0].tolist())
    ids = {term: i for i, term in enumerate(terms)}
    for got, d in zip(restored.terms_of(range(len(kept))), kept, strict=True):
        assert sorted(got.tolist()) == sorted(ids[t] for t in set(d))
    restored.add(len(kept), ["alpha", "omega"])  # a restored index keeps growing
    found = restored.get("omega")
    assert found is not None and found[0].tolist() == [len(kept)]
