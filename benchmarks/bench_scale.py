"""The lexical retrieval path at a million episodes: import, first retrieval after open with
and without the index snapshot, latency and RSS (no embedder).

Run from the repository root::

    python -m benchmarks.bench_scale --sizes 1000000
    python -m benchmarks.bench_scale --sizes 100000 200000 --runs 2
    python -m benchmarks.bench_scale --sizes 1000000 --store-dir /tmp/scale  # reuse a store

For each size:

1. **Store.** The retrieval benchmark's episodes (``episode_order``: labelled seeds among
   generated fillers) written through the store protocol's batch write
   (``import_episodes``, ``BATCH`` completed episodes a transaction, a computed reward; no
   reflection, no learning), into ``--store-dir/<size>`` and reused when it already holds
   them. Generating through the public API would take hours at 1M; the import time
   printed is this write, incl. building the episodes.
2. **Starts** in fresh processes, alternated ``--runs`` times: without an index snapshot
   (the cache folder is removed, so the first retrieval builds the index from the store)
   and with one (written by the previous start). Each prints the open time, the first
   retrieval's wall and CPU seconds, p50 / p95 of ``retrieve_relevant_context`` (limit 5)
   over the labelled queries, three rounds, and RSS after them; a start without a snapshot
   writes one in the background after its first answer (the queries run beside it), so its
   RSS is also taken once ``flush()`` has waited for that. The worst run is reported.
3. With ``--cli-import``, **the CLI round trip**: ``selfmem export`` of that store to JSON
   Lines, then ``selfmem import`` of the file into a new directory, relearning included
   (the default), each in its own process, timed whole, with peak RSS.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .machine import load_average
from .progress import progress
from .retrieval_dataset import QUERIES
from .retrieval_store import completed_episode, episode_order

BATCH = 1_000  # episodes per transaction of the store's batch write

_CHILD = r"""
import json, sys, time
import numpy as np

def rss():
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            fields[name] = value.split()
    return {name: int(fields[key][0]) / 1024 for name, key in (
        ("rss_mb", "VmRSS"), ("peak_mb", "VmHWM"), ("anon_mb", "RssAnon"), ("file_mb", "RssFile"))}

path, queries_file = sys.argv[1:3]
queries = json.loads(open(queries_file).read())
import selfmem
start, cpu = time.perf_counter(), time.process_time()
memory = selfmem.SelfLearningMemory.open(path, flush_interval_s=None)
opened = time.perf_counter() - start
q = queries[0]
memory.retrieve_relevant_context(q["text"], q["context"], 5)
first, first_cpu = time.perf_counter() - start, time.process_time() - cpu
times = []
for _ in range(3):
    for q in queries:
        t = time.perf_counter()
        memory.retrieve_relevant_context(q["text"], q["context"], 5)
        times.append((time.perf_counter() - t) * 1000)
found = rss()
memory.flush()  # waits for the index snapshot a start without one writes in the background
settled = rss()["rss_mb"]
memory.close()
print(json.dumps({"open_s": opened, "first_retrieval_s": first, "first_retrieval_cpu_s": first_cpu,
                  "p50_ms": float(np.percentile(times, 50)),
                  "p95_ms": float(np.percentile(times, 95)), **found, "settled_mb": settled}))
"""


def build_store(path: Path, size: int) -> dict[str, Any]:
    """``size`` episodes through the store protocol's batch write, ``BATCH`` a transaction
    (reused when the marker says so)."""
    from selfmem import SelfLearningMemory

    marker = path / "bench_scale.json"
    if marker.exists() and json.loads(marker.read_text()).get("size") == size:
        return {**json.loads(marker.read_text()), "reused": True}
    shutil.rmtree(path, ignore_errors=True)
    order = episode_order(size, 1_000)
    progress(f"storing {size} episodes through the store protocol, {BATCH} a transaction")
    start = time.perf_counter()
    with SelfLearningMemory.open(path, flush_interval_s=None) as memory:
        store = memory._core.store
        for first in range(0, size, BATCH):
            batch = order[first : first + BATCH]
            store.import_episodes([completed_episode(spec, memory.namespace) for spec in batch])
            if (first + BATCH) % 50_000 == 0:
                progress(f"  {first + BATCH}/{size} in {time.perf_counter() - start:.0f} s")
    found = {"size": size, "import_s": time.perf_counter() - start, "batch": BATCH}
    found["episodes_per_s"] = size / found["import_s"]
    marker.write_text(json.dumps(found))
    return found


def measure_start(path: Path, workdir: Path, snapshot: bool) -> dict[str, Any]:
    """One fresh process, with the index snapshot of the last start or without any."""
    queries_file = workdir / "queries.json"
    queries_file.write_text(json.dumps([{"text": q.text, "context": q.context} for q in QUERIES]))
    if not snapshot:
        shutil.rmtree(path / "cache", ignore_errors=True)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(queries_file)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-3:]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["load_average"] = load_average()
    return result


#: The ``selfmem`` command in a process that reports its own peak RSS (in KiB) last on stderr
#: (the benchmark's other children would count in a ``RUSAGE_CHILDREN`` figure).
_SELFMEM = (
    "import resource, sys\n"
    "from selfmem.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def _timed(command: list[str]) -> dict[str, Any]:
    """Wall seconds and peak RSS of one CLI process."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    said = done.stderr.strip().splitlines()
    if done.returncode != 0:
        return {"error": said[-3:]}
    return {"s": took, "peak_rss_mb": int(said[-1]) / 1024, "said": done.stdout.strip()}


def cli_round_trip(store: Path, workdir: Path, size: int) -> dict[str, Any]:
    """``selfmem export`` of the store, then ``selfmem import`` into a new directory."""
    selfmem = [sys.executable, "-c", _SELFMEM]
    exported, target = workdir / "export.jsonl", workdir / "imported"
    shutil.rmtree(target, ignore_errors=True)
    progress(f"{size}: selfmem export")
    export = _timed([*selfmem, "--path", str(store), "export", str(exported)])
    progress(f"{size}: selfmem import, relearning included")
    imported = _timed([*selfmem, "--path", str(target), "import", str(exported)])
    exported.unlink(missing_ok=True)
    shutil.rmtree(target, ignore_errors=True)
    return {"export": export, "import": imported}


def _worst(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("first_retrieval_s", "first_retrieval_cpu_s", "p50_ms", "p95_ms", "rss_mb",
            "settled_mb", "open_s")  # fmt: skip
    ok = [run for run in runs if "error" not in run]
    return {key: max(run[key] for run in ok) for key in keys} if ok else {"errors": runs}


def _print_rows(size: int, report: dict[str, Any]) -> None:
    without, with_ = report["worst_without_snapshot"], report["worst_with_snapshot"]
    rows = [
        ("import (store protocol, batches)", report["store"].get("import_s"), "s"),
        ("first retrieval after open, no snapshot", without.get("first_retrieval_s"), "s"),
        ("  of which CPU", without.get("first_retrieval_cpu_s"), "s"),
        ("first retrieval after open, with snapshot", with_.get("first_retrieval_s"), "s"),
        ("  of which CPU", with_.get("first_retrieval_cpu_s"), "s"),
        ("retrieval p50", with_.get("p50_ms"), "ms"),
        ("retrieval p95", with_.get("p95_ms"), "ms"),
        ("RSS after retrieval (with snapshot)", with_.get("rss_mb"), "MB"),
        ("RSS after retrieval (no snapshot)", without.get("rss_mb"), "MB"),
        ("  once its snapshot is written", without.get("settled_mb"), "MB"),
        ("retrieval p95 right after a start without one", without.get("p95_ms"), "ms"),
    ]
    trip = report.get("cli", {})
    rows += [
        ("selfmem export", trip.get("export", {}).get("s"), "s"),
        ("selfmem import, relearning included", trip.get("import", {}).get("s"), "s"),
        ("  its peak RSS", trip.get("import", {}).get("peak_rss_mb"), "MB"),
    ]
    for name, value, unit in rows:
        shown = "-" if value is None else f"{value:,.2f}"
        print(f"{size:>9,}  {name:<45} {shown:>10} {unit}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--runs", type=int, default=2, help="starts of each kind; worst reported")
    parser.add_argument("--store-dir", default="/tmp/selfmem-bench-scale")
    parser.add_argument(
        "--cli-import", action="store_true",
        help="also time selfmem export and selfmem import (relearning included)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    reports: dict[str, Any] = {"load_average_at_start": load_average()}
    for size in args.sizes:
        workdir = Path(args.store_dir) / str(size)
        workdir.mkdir(parents=True, exist_ok=True)
        report: dict[str, Any] = {"store": build_store(workdir / "store", size)}
        runs: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
        for n in range(args.runs):  # alternated, so both kinds see the same load
            for snapshot in (False, True):
                progress(f"{size}: start {'with' if snapshot else 'without'} snapshot, run {n + 1}")
                runs[snapshot].append(measure_start(workdir / "store", workdir, snapshot))
        report["runs_without_snapshot"], report["runs_with_snapshot"] = runs[False], runs[True]
        report["worst_without_snapshot"] = _worst(runs[False])
        report["worst_with_snapshot"] = _worst(runs[True])
        if args.cli_import:
            report["cli"] = cli_round_trip(workdir / "store", workdir, size)
        reports[str(size)] = report
        _print_rows(size, report)
    reports["load_average_at_end"] = load_average()
    print(json.dumps(reports, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
