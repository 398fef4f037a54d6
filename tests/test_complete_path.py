"""What ``complete_episode`` does on the caller's path, and what it no longer does there.

The WAL of an embedded file is checkpointed by a background thread, not by the commit that
fills it; the episode's JSON is built once for the rows and the cached body; index terms
come from a faster tokenizer that must split exactly as :func:`selfmem.text.tokens.tokenize`.
All against real libSQL files and LMDB.
"""

from __future__ import annotations

import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from selfmem import ExecutionStep, SelfLearningMemory, TaskContext, TaskOutcome
from selfmem.records.episodes import Episode
from selfmem.records.index_rows import MAX_TERMS, _tokens, index_terms
from selfmem.records.json_once import episode_json, header_json, reuse_json, step_json
from selfmem.storage.libsql_store import LibSQLStore
from selfmem.storage.wal_checkpoints import Checkpoint, WalCheckpointer
from selfmem.text.tokens import STOPWORDS, tokenize

_TEXT = st.text(
    alphabet=st.sampled_from([*"ab zZ09_\n\t.,-'\"", "İ", "K", "Σ", "é", "\u2028", "😀"]),
    max_size=3000,
)


@given(_TEXT)
def test_the_fast_tokenizer_splits_as_tokenize(text: str) -> None:
    assert _tokens(text) == tokenize(text)


@given(_TEXT, st.integers(min_value=-3, max_value=MAX_TERMS + 50))
def test_index_terms_are_the_first_terms_of_the_whole_text(text: str, limit: int) -> None:
    whole = tuple(t for t in tokenize(text) if t not in STOPWORDS)
    assert index_terms(text, limit) == (whole[: min(limit, MAX_TERMS)] if limit > 0 else ())


def _completed(memory: SelfLearningMemory, steps: int = 20) -> Episode:
    eid = memory.start_episode(
        'refund order 7 — ünïcode "quoted"', TaskContext(domain="shop", tags=["x"])
    )
    for n in range(steps):
        memory.log_step(
            eid, ExecutionStep(tool=f"tool{n % 3}", action=f"call {n}", observation="ok " * n,
                               parameters={"n": n, "nested": {"outcome": "fake"}})
        )  # fmt: skip
    return memory.complete_episode(eid, TaskOutcome.success("done"))


def test_the_episode_json_built_from_pieces_is_model_dump_json(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, flush_interval_s=None) as memory:
        episode = _completed(memory)
        episode.metadata = {"outcome": {"reward": 1}, "steps": [1, 2]}  # keys that look alike
        with reuse_json():
            header_json(episode)
            for step in episode.steps[:5]:  # some steps kept, the others serialised there
                step_json(step)
            assert episode_json(episode) == episode.model_dump_json()
        assert episode_json(episode) == episode.model_dump_json()


def test_json_is_kept_only_inside_the_block(tmp_path: Path) -> None:
    step = ExecutionStep(tool="a", action="first")
    with reuse_json():
        first = step_json(step)
        step.action = "changed"
        assert step_json(step) == first  # kept: a record must not change inside a block
    assert step_json(step) == step.model_dump_json() != first


def test_the_cached_body_is_the_stored_episode(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, flush_interval_s=0.01) as memory:
        eid = memory.start_episode("task with flushed and pending steps")
        memory.log_step(eid, tool="early", observation="flushed before completion")
        time.sleep(0.1)  # the periodic flush writes this step; the next stays pending
        memory.log_step(eid, tool="late", observation="written by the completion")
        episode = memory.complete_episode(eid, TaskOutcome.success("done"))
        memory._core.settle()
        entry = memory._core.episodes.get(memory.namespace, eid)
        assert entry is not None
        assert entry.body == episode.model_dump_json().encode()
        stored = memory._core.store.get_episode(memory.namespace, eid)
        assert stored == episode == memory.get_episode(eid)


def test_commits_do_not_checkpoint_and_the_wal_stays_short(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path) as memory:
        store = memory._core.store
        assert isinstance(store, LibSQLStore)
        assert store._run("PRAGMA wal_autocheckpoint")[0][0] == 0
        for _ in range(60):
            _completed(memory)
        memory.flush()
        checkpointer = store._checkpointer
        assert checkpointer is not None
        deadline = time.monotonic() + 10
        while checkpointer.runs == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checkpointer.runs > 0
        pages = store._run("PRAGMA wal_checkpoint(PASSIVE)")[0][1]
        assert pages < 4_000  # a few checkpoints' worth at most, not every page written
    # reopened: everything is there (the last close checkpoints the rest)
    with SelfLearningMemory.open(tmp_path) as memory:
        assert memory.stats().episodes == 60


class _Database:
    """Stands in for a connection: counts checkpoints, answers like SQLite would."""

    def __init__(self, pages_per_write: int) -> None:
        self.pages_per_write = pages_per_write
        self.pages = 0
        self.calls = 0

    def write(self, checkpointer: WalCheckpointer) -> None:
        self.pages += self.pages_per_write
        checkpointer.wrote()

    def checkpoint(self) -> Checkpoint | None:
        self.calls += 1
        pages, self.pages = self.pages, 0
        return (0, pages, pages)


def _wait_for(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.005)


def test_the_checkpointer_learns_how_many_writes_make_the_target() -> None:
    database = _Database(pages_per_write=100)
    checkpointer = WalCheckpointer(database.checkpoint, target_pages=1_000)
    try:
        for _ in range(8):  # the first checkpoint comes after eight writes
            database.write(checkpointer)
        _wait_for(lambda: checkpointer.runs == 1)
        assert database.calls == 1
        for _ in range(9):  # now it knows: ten writes of 100 pages make 1,000
            database.write(checkpointer)
        time.sleep(0.05)
        assert database.calls == 1
        database.write(checkpointer)
        _wait_for(lambda: checkpointer.runs == 2)
        assert database.calls == 2
    finally:
        checkpointer.close()


def test_a_quiet_checkpointer_checkpoints_what_was_written() -> None:
    database = _Database(pages_per_write=1)
    checkpointer = WalCheckpointer(database.checkpoint, idle_s=0.05)
    try:
        database.write(checkpointer)  # far below the target
        _wait_for(lambda: checkpointer.runs == 1)
        assert database.calls == 1
    finally:
        checkpointer.close()


def test_a_dropped_connection_is_not_kept_alive_by_its_checkpointer() -> None:
    import gc
    import weakref

    database = _Database(pages_per_write=1)
    checkpointer = WalCheckpointer(database.checkpoint, idle_s=0.02)
    database.write(checkpointer)
    gone = weakref.ref(database)
    del database
    gc.collect()
    assert gone() is None
    _wait_for(lambda: checkpointer._thread is not None and not checkpointer._thread.is_alive())
    assert checkpointer._thread is not None and not checkpointer._thread.is_alive()
