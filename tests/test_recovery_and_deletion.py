"""Crash recovery of open episodes, namespace isolation, and deletion that leaves no trace."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from selfmem import NotFoundError, OutcomeStatus, SelfLearningMemory, TaskOutcome
from selfmem.engine.episode_cache import episode_key

from .helpers import run_episode


def _crash_after_logging(path: Path) -> str:
    """Start an episode in a child process, log and flush steps, log one more, then die."""
    script = textwrap.dedent(
        f"""
        import os
        from selfmem import SelfLearningMemory
        memory = SelfLearningMemory.open({str(path)!r}, flush_interval_s=None)
        eid = memory.start_episode("Migrate the billing database")
        memory.log_step(eid, tool="pg_dump", observation="dump ok")
        memory.log_step(eid, tool="psql", error="relation exists")
        memory.flush()
        memory.log_step(eid, tool="never_flushed")
        print(eid, flush=True)
        os._exit(9)  # no close, no atexit: a crash
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 9, done.stderr
    return done.stdout.strip()


def test_open_episode_survives_a_crash_and_can_be_completed(tmp_path: Path) -> None:
    eid = _crash_after_logging(tmp_path)
    with SelfLearningMemory.open(tmp_path) as memory:
        orphans = memory.list_episodes(open_only=True)
        assert [e.id for e in orphans] == [eid]
        assert [s.tool for s in orphans[0].steps] == ["pg_dump", "psql"]
        step = memory.log_step(eid, tool="psql", observation="migrated")
        assert step.step_number == 3
        episode = memory.complete_episode(eid, TaskOutcome.success("migrated"))
        assert [s.tool for s in episode.steps] == ["pg_dump", "psql", "psql"]
        assert memory.list_episodes(open_only=True) == []


def test_open_episode_after_crash_can_be_abandoned(tmp_path: Path) -> None:
    eid = _crash_after_logging(tmp_path)
    with SelfLearningMemory.open(tmp_path) as memory:
        episode = memory.abandon_episode(eid, "process died")
        assert episode.outcome is not None
        assert episode.outcome.status is OutcomeStatus.ABANDONED
        assert episode.outcome.reason == "process died"
        assert episode.reward is None  # no verdict to score
        assert [s.tool for s in episode.steps] == ["pg_dump", "psql"]  # kept
        assert memory.stats().abandoned == 1 and memory.stats().failures == 0


def test_close_flushes_buffered_steps(tmp_path: Path) -> None:
    memory = SelfLearningMemory.open(tmp_path, flush_interval_s=None)
    eid = memory.start_episode("Flushed on close")
    memory.log_step(eid, tool="a")
    memory.close()
    with SelfLearningMemory.open(tmp_path) as reopened:
        assert [s.tool for s in reopened.get_episode(eid).steps] == ["a"]


def test_namespaces_never_leak(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, namespace="alice") as alice:
        secret = run_episode(alice, "Alice's private payroll task", ["payroll"])
        open_one = alice.start_episode("Alice's open task")
        bob = alice.scoped("bob")
        run_episode(bob, "Bob's payroll question", ["search"])

        assert bob.namespace == "bob" and alice.namespace == "alice"
        for episode_id in (secret, open_one):
            with pytest.raises(NotFoundError):
                bob.get_episode(episode_id)
            with pytest.raises(NotFoundError):
                bob.delete_episode(episode_id)
        with pytest.raises(NotFoundError):
            bob.log_step(open_one, tool="sneaky")
        with pytest.raises(NotFoundError):
            bob.complete_episode(open_one, TaskOutcome.success())
        assert all(e.namespace == "bob" for e in bob.list_episodes())
        assert len(bob.list_episodes()) == 1
        found = bob.retrieve_relevant_context("payroll task private", limit=10)
        assert [s.episode.namespace for s in found.episodes] == ["bob"]
        assert bob.stats().episodes == 1 and alice.stats().episodes == 2
        bob.close()  # a scoped handle does not close the shared store
        assert alice.get_episode(secret).id == secret
    with SelfLearningMemory.open(tmp_path, namespace="bob") as bob_again:
        assert bob_again.stats().episodes == 1


def _all_bytes(root: Path) -> bytes:
    """Every byte selfmem wrote: the libSQL files and the LMDB cache files."""
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


def test_delete_leaves_no_trace_in_the_database_files(tmp_path: Path) -> None:
    marker = "zqxjvelociraptor"
    with SelfLearningMemory.open(tmp_path) as memory:
        keep = run_episode(memory, "An ordinary task about invoices", ["read"])
        eid = memory.start_episode(f"Handle the {marker} incident")
        memory.log_step(eid, tool="search", observation=f"found {marker} in logs " * 50)
        memory.complete_episode(eid, TaskOutcome.success(f"{marker} resolved"))
        memory.flush()
        assert memory.retrieve_relevant_context(marker).episodes[0].episode.id == eid
        memory.delete_episode(eid)
        with pytest.raises(NotFoundError):
            memory.get_episode(eid)
        assert memory.retrieve_relevant_context(marker).episodes == [] or all(
            s.episode.id != eid for s in memory.retrieve_relevant_context(marker).episodes
        )
        assert memory.get_episode(keep).id == keep
        for i in range(5):  # later writes reuse pages; still nothing readable may surface
            run_episode(memory, f"Another ordinary task {i}", ["read"])
    assert marker.encode() not in _all_bytes(tmp_path)


def test_cache_holds_no_plaintext(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path) as memory:
        eid = run_episode(memory, "Quarterly qzxwvutsmarker report", ["read"])
        assert memory.get_episode(eid).task_description.startswith("Quarterly")
        assert memory._core.cache.keys("episode")  # it is cached...
    cache_bytes = b"".join(p.read_bytes() for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert b"qzxwvutsmarker" not in cache_bytes  # ...but sealed


def test_delete_removes_from_the_cache(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path) as memory:
        eid = run_episode(memory, "Cached then deleted", ["a"])
        memory.get_episode(eid)  # served from the cache from now on
        assert memory._core.cache.get("episode", episode_key("default", eid)) is not None
        memory.delete_episode(eid)
        assert memory._core.cache.get("episode", episode_key("default", eid)) is None
    with SelfLearningMemory.open(tmp_path) as memory, pytest.raises(NotFoundError):
        memory.get_episode(eid)


def test_delete_an_open_episode_drops_its_buffered_steps(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, flush_interval_s=None) as memory:
        eid = memory.start_episode("Short-lived")
        memory.log_step(eid, tool="a")
        memory.delete_episode(eid)
        assert memory.stats().pending_steps == 0
        with pytest.raises(NotFoundError):
            memory.get_episode(eid)


def test_a_database_from_an_older_version_is_upgraded_in_place(tmp_path: Path) -> None:
    from selfmem.storage.libsql_store import LibSQLStore
    from selfmem.storage.schema import SCHEMA_VERSION

    with SelfLearningMemory.open(tmp_path) as memory:
        kept = run_episode(memory, "Written by the older version", ["build", "deploy"])
        gone = run_episode(memory, "Also written by it", ["build", "deploy"])
    old = LibSQLStore(str(tmp_path / "selfmem.db"))
    # the schema before the last five migrations (the last one rewrites no row here)
    old._run("DROP INDEX idx_episodes_index_rows")
    old._run("DROP INDEX idx_episodes_seq")
    old._run("DROP TABLE selfmem_deletions")
    old._run(
        "CREATE VIRTUAL TABLE episodes_fts USING fts5(task_text, step_text, content='', "
        "contentless_delete=1, tokenize='unicode61')"
    )
    old._run("UPDATE selfmem_schema SET version = ?", (SCHEMA_VERSION - 5,))
    old.close()
    with SelfLearningMemory.open(tmp_path) as memory:
        store = memory._core.store
        assert store.schema_version() == SCHEMA_VERSION
        assert [s.tool for s in memory.get_episode(kept).steps] == ["build", "deploy"]
        memory.delete_episode(gone)  # uses the table a migration added
        assert [e.id for e in memory.list_episodes()] == [kept]
        plan = store._run(
            "EXPLAIN QUERY PLAN SELECT seq FROM episodes WHERE namespace = ? AND seq > ? "
            "ORDER BY seq LIMIT 10",
            ("default", 0),
        )
        assert any("idx_episodes_seq" in str(row) for row in plan)  # paging needs no sort
        plan = store._run(
            "EXPLAIN QUERY PLAN SELECT seq, id, index_row FROM episodes WHERE namespace = ? "
            "AND end_time IS NOT NULL AND seq > ? ORDER BY seq LIMIT 10",
            ("default", 0),
        )  # the rows the retrieval index is built from: read from an index alone
        assert any("COVERING INDEX idx_episodes_index_rows" in str(row) for row in plan)
        tables = store._run("SELECT name FROM sqlite_master WHERE name LIKE 'episodes_fts%'")
        assert tables == []  # the unused full-text index is gone
