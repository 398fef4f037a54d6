"""The index's episode ids (flat buffers, found by hash) behave like a list and a dict would,
whatever the order of adds and removes, with hashes that collide, and across a snapshot."""

from __future__ import annotations

import types
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selfmem.retrieval import row_ids
from selfmem.retrieval.row_ids import RowIds

_IDS = st.sampled_from(["a", "b", "c", "ép-1", "ép-2", "x" * 40, "deploy-7", ""])
_OPS = st.lists(st.tuples(st.sampled_from(["add", "extend", "remove"]),
                          st.lists(_IDS, min_size=1, max_size=4, unique=True)),
                max_size=40)  # fmt: skip


@pytest.fixture(params=["crc32", "colliding"])
def hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sort early (so most lookups go through the sorted hashes), with the real hash or one
    that puts every id into one of three buckets (so every lookup meets collisions)."""
    monkeypatch.setattr(row_ids, "_RESORT_MIN", 2)
    if request.param == "colliding":
        monkeypatch.setattr(row_ids, "zlib", types.SimpleNamespace(crc32=lambda b: len(b) % 3))


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # set once, never reset
@given(ops=_OPS)
def test_matches_a_list_and_a_dict(hashing: None, ops: list[tuple[str, list[str]]]) -> None:
    ids = RowIds()
    by_row: list[str] = []
    row_of: dict[str, int] = {}
    for op, names in ops:
        if op == "remove":
            for name in names:
                assert ids.remove(name) == row_of.pop(name, None)
            continue
        names = [n for n in names if n not in row_of]  # the index removes a live id first
        if op == "add":
            for name in names:
                assert ids.append(name) == len(by_row)
                row_of[name] = len(by_row)
                by_row.append(name)
        else:
            rows = ids.extend(names)
            assert rows.tolist() == list(range(len(by_row), len(by_row) + len(names)))
            row_of.update(zip(names, rows.tolist(), strict=True))
            by_row.extend(names)
    assert list(ids.by_row) == by_row and len(ids.by_row) == ids.size == len(by_row)
    assert dict(ids.items()) == row_of and len(ids) == len(row_of)
    probe = ["a", "b", "c", "ép-1", "ép-2", "x" * 40, "deploy-7", "", "missing"]
    assert ids.rows_of(probe).tolist() == [row_of.get(n, -1) for n in probe]
    for name in probe:
        assert (name in ids) == (name in row_of)
        assert ids.get(name) == row_of.get(name)


@settings(max_examples=40, deadline=None)
@given(names=st.lists(st.text(min_size=0, max_size=20), max_size=30, unique=True),
       dropped=st.sets(st.integers(min_value=0, max_value=29)))  # fmt: skip
def test_a_snapshot_keeps_the_live_ids_in_order(names: list[str], dropped: set[int]) -> None:
    ids = RowIds()
    ids.extend(names)
    for i in dropped & set(range(len(names))):
        ids.remove(names[i])
    keep = np.array([i for i in range(len(names)) if i not in dropped], dtype=np.int64)
    restored = RowIds.restore(ids.export(keep))
    kept = [names[i] for i in keep.tolist()]
    assert list(restored.by_row) == kept
    assert dict(restored.items()) == {name: row for row, name in enumerate(kept)}
    assert restored.append("new id") == len(kept) and restored["new id"] == len(kept)


def test_rows_are_never_reused_and_a_removed_id_can_come_back() -> None:
    ids = RowIds()
    ids.extend(["a", "b"])
    assert ids.remove("a") == 0 and "a" not in ids and ids.remove("a") is None
    assert ids.append("a") == 2 and ids["a"] == 2
    assert ids.by_row[0] == "a" and ids.by_row[-1] == "a" and ids.by_row[0:2] == ["a", "b"]
    with pytest.raises(KeyError):
        ids["c"]
    with pytest.raises(IndexError):
        ids.by_row[3]
    assert zlib.crc32(b"a") != zlib.crc32(b"b")  # the real hash tells these apart


def test_lookups_beside_a_writer_always_find_what_was_added_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reader without the lock (the engine asks whether an episode is indexed) while a
    writer adds ids and re-sorts the hashes every few adds."""
    import threading

    monkeypatch.setattr(row_ids, "_RESORT_MIN", 8)
    ids = RowIds()
    ids.extend([f"early-{i}" for i in range(500)])
    missed: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            for i in range(0, 500, 7):
                if f"early-{i}" not in ids:
                    missed.append(f"early-{i}")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(3_000):
            ids.append(f"late-{i}")
    finally:
        done.set()
        reader.join()
    assert missed == []
    assert all(ids[f"late-{i}"] == 500 + i for i in range(3_000))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # set once, never reset
@given(batches=st.lists(st.lists(_IDS, min_size=1, max_size=5), max_size=8))
def test_ids_appended_twice_keep_their_last_row(hashing: None, batches: list[list[str]]) -> None:
    """A bulk load appends without looking ids up; dropping the repeats afterwards leaves
    what replacing them one by one would have."""
    ids = RowIds()
    expected: dict[str, int] = {}
    for batch in batches:
        rows = ids.extend(batch)
        expected.update(zip(batch, rows.tolist(), strict=True))
    every = [row for batch in batches for row in range(len(batch))]
    dropped = ids.drop_repeated()
    assert sorted(dropped) == sorted(set(range(len(every))) - set(expected.values()))
    assert dict(ids.items()) == expected and len(ids) == len(expected)
    probe = ["a", "b", "c", "ép-1", "ép-2", "x" * 40, "deploy-7", "", "missing"]
    assert ids.rows_of(probe).tolist() == [expected.get(n, -1) for n in probe]
