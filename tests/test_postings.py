"""The flat-array postings give exactly what a naive term index would, across compactions."""

from __future__ import annotations

from collections import Counter

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
