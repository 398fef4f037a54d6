"""SelfLearningMemory against a real libSQL server (sqld) started by a fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfmem import SchemaVersionError, SelfLearningMemory, StorageError, TaskOutcome
from selfmem.storage.libsql_store import LibSQLStore

from .conftest import SqldServer
from .helpers import run_episode


def test_lifecycle_over_the_server(sqld: SqldServer, namespace: str, tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    with SelfLearningMemory.open(sqld.url, namespace=namespace, cache=cache) as memory:
        eid = run_episode(memory, "Rotate the TLS certificates", ["openssl", "reload_nginx"])
        open_id = memory.start_episode("Left open on purpose")
        memory.log_step(open_id, tool="step_one")
    # a second "process" (fresh handle, no cache) sees everything durable on the server
    with SelfLearningMemory.open(sqld.url, namespace=namespace, cache=False) as other:
        assert [s.tool for s in other.get_episode(eid).steps] == ["openssl", "reload_nginx"]
        orphan = other.list_episodes(open_only=True)
        assert [e.id for e in orphan] == [open_id] and orphan[0].steps[0].tool == "step_one"
        other.complete_episode(open_id, TaskOutcome.success())
        hit = other.retrieve_relevant_context("rotate TLS certificates").episodes[0]
        assert hit.episode.id == eid
        other.delete_episode(eid)
        assert other.stats().episodes == 1


def test_environment_variables_choose_the_server(
    sqld: SqldServer, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SELFMEM_DATABASE_URL", sqld.url)
    monkeypatch.setenv("HOME", str(tmp_path))  # the server's local cache goes under ~/.cache
    with SelfLearningMemory.open(namespace=namespace) as memory:
        run_episode(memory, "Configured by environment", ["a"])
        assert memory.stats().episodes == 1
    assert any((tmp_path / ".cache" / "selfmem").iterdir())


def test_unreachable_server_gives_a_storage_error() -> None:
    with pytest.raises(StorageError, match="libSQL"):
        LibSQLStore("http://127.0.0.1:9")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "db.sqlite")
    store = LibSQLStore(path)
    store._run("UPDATE selfmem_schema SET version = 999")
    store.close()
    with pytest.raises(SchemaVersionError, match="schema version 999"):
        LibSQLStore(path)


def test_closed_store_refuses_work(tmp_path: Path) -> None:
    store = LibSQLStore(str(tmp_path / "db.sqlite"))
    store.close()
    store.close()
    with pytest.raises(StorageError, match="closed"):
        store.get_episode("default", "x")
