"""Core benchmarks of selfmem on an embedded store (a libSQL file plus the LMDB cache).

Run from the repository root::

    python -m benchmarks.bench_core            # full run (100,000 stored episodes)
    python -m benchmarks.bench_core --quick    # small sizes, a smoke run in well under 30 s
    python -m benchmarks.bench_core --episodes 20000 --json

Everything runs in a temporary directory through the public API with the default
configuration unless a row says otherwise. Progress goes to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from selfmem import SelfLearningMemory

from .core_large_store import bench_cold_start, bench_reads, bench_rss, build_store, timed
from .machine import STORE_PACKAGES, summary
from .progress import progress
from .results import Result, percentiles, render_table
from .workload import Workload

# -- sizes ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much work each benchmark does."""

    log_steps: int = 20_000
    steps_per_episode: int = 20
    open_episodes: int = 32  # episodes logged round-robin: 32 x 20 steps > the 512-step flush
    complete_episodes: int = 1_000
    ingest_steps: int = 100_000
    episodes: int = 100_000
    steps_per_stored_episode: int = 3
    cold_runs: int = 7
    queries: int = 200
    gets: int = 500
    deletes: int = 5


FULL = Sizes()
QUICK = Sizes(
    log_steps=4_000,
    complete_episodes=200,
    ingest_steps=10_000,
    episodes=2_000,
    cold_runs=3,
    queries=30,
    gets=200,
    deletes=2,
)

# -- 1. log_step ----------------------------------------------------------------------------


def _log_step_samples(root: Path, sizes: Sizes, **options: Any) -> list[int]:
    """Time every ``log_step`` of round-robin batches of open episodes."""
    work = Workload()
    batch_steps = sizes.open_episodes * sizes.steps_per_episode
    samples: list[int] = []
    with SelfLearningMemory.open(root, **options) as memory:
        while len(samples) < sizes.log_steps:
            eids = [
                memory.start_episode(work.description(), work.context())
                for _ in range(sizes.open_episodes)
            ]
            steps = [work.step() for _ in range(batch_steps)]
            for index, step in enumerate(steps):
                eid = eids[index % len(eids)]
                samples.append(timed(partial(memory.log_step, eid, **step)))
            for eid in eids:
                memory.complete_episode(eid, work.outcome())
    return samples[: sizes.log_steps]


def bench_log_step(root: Path, sizes: Sizes) -> list[Result]:
    progress(f"log_step: {sizes.log_steps} calls, default config")
    stats = percentiles(_log_step_samples(root / "log", sizes), 1_000)
    progress("log_step: again with redact_secrets=False (for the breakdown)")
    plain = percentiles(_log_step_samples(root / "log-plain", sizes, redact_secrets=False), 1_000)
    note = f"{sizes.open_episodes} open episodes round-robin; includes size flushes (512 steps)"
    return [
        Result("log_step_p50_us", "log_step p50", stats["p50"], "us", note=note),
        Result("log_step_p95_us", "log_step p95", stats["p95"], "us", target=50),
        Result("log_step_p99_us", "log_step p99", stats["p99"], "us"),
        Result(
            "log_step_p999_us",
            "log_step p99.9",
            stats["p99.9"],
            "us",
            note="the calls that flush 512 steps",
        ),
        Result("log_step_nored_p50_us", "log_step p50, redact_secrets=False", plain["p50"], "us"),
        Result("log_step_nored_p95_us", "log_step p95, redact_secrets=False", plain["p95"], "us"),
    ]


# -- 2. complete_episode --------------------------------------------------------------------


def _complete_samples(
    root: Path, sizes: Sizes, idle_s: float = 0.0, cpu: bool = False, **options: Any
) -> dict[str, float]:
    """Time ``complete_episode`` of episodes whose steps were logged just before.

    ``idle_s`` pauses before each timed call, so the background learner has finished the
    previous episode (an agent's episodes are seconds apart); 0 completes back to back.
    ``cpu`` also measures the calling thread's CPU time (keys ``cpu_p50`` ...): what the
    call itself costs, which other work on a shared machine changes much less.
    """
    per = sizes.steps_per_episode
    work = Workload(11)
    samples: list[int] = []
    cpu_samples: list[int] = []
    with SelfLearningMemory.open(root, **options) as memory:
        for _ in range(sizes.complete_episodes):
            eid = memory.start_episode(work.description(), work.context())
            for _ in range(per):
                memory.log_step(eid, **work.step())
            if idle_s:  # even sleep(0) yields the GIL to the learner and changes the result
                time.sleep(idle_s)
            outcome = work.outcome()
            began_cpu = time.thread_time_ns()
            samples.append(timed(partial(memory.complete_episode, eid, outcome)))
            cpu_samples.append(time.thread_time_ns() - began_cpu)
    found = percentiles(samples, 1_000_000)
    if cpu:
        found |= {f"cpu_{k}": v for k, v in percentiles(cpu_samples, 1_000_000).items()}
    return found


def bench_complete(root: Path, sizes: Sizes) -> list[Result]:
    per, count = sizes.steps_per_episode, sizes.complete_episodes
    progress(f"complete_episode: {count} episodes of {per} steps, back to back")
    busy = _complete_samples(root / "complete", sizes)
    progress("complete_episode: again with the learner idle (20 ms pause before each)")
    idle = _complete_samples(root / "complete-idle", sizes, idle_s=0.02, cpu=True)
    progress("complete_episode: again with learn_inline=True")
    inline = _complete_samples(root / "complete-inline", sizes, learn_inline=True)
    label = f"complete_episode ({per} steps)"
    return [
        Result("complete_p50_ms", f"{label} p50", busy["p50"], "ms",
               note="back to back: the learner is still busy with the previous one"),
        Result("complete_p95_ms", f"{label} p95", busy["p95"], "ms", target=2.0),
        Result("complete_p99_ms", f"{label} p99", busy["p99"], "ms"),
        Result("complete_idle_p50_ms", f"{label} p50, learner idle", idle["p50"], "ms",
               note="20 ms pause before each call"),
        Result("complete_idle_p95_ms", f"{label} p95, learner idle", idle["p95"], "ms",
               target=2.0),
        Result("complete_idle_cpu_p50_ms", f"{label} CPU p50, learner idle", idle["cpu_p50"],
               "ms", note="CPU time of the calling thread"),
        Result("complete_idle_cpu_p95_ms", f"{label} CPU p95, learner idle", idle["cpu_p95"],
               "ms"),
        Result("complete_inline_p50_ms", f"{label} p50, learn_inline=True", inline["p50"],
               "ms", note="learning runs inside the call"),
        Result("complete_inline_p95_ms", f"{label} p95, learn_inline=True", inline["p95"],
               "ms"),
    ]  # fmt: skip


# -- 3. durable ingest ----------------------------------------------------------------------


def _ingest(root: Path, sizes: Sizes, **options: Any) -> tuple[float, float]:
    """Log ``ingest_steps`` steps over 20-step episodes, then flush.

    Returns (seconds from the first ``log_step`` to the end of ``flush()``, seconds of that
    final ``flush()``). Episodes are started, and the steps generated, before the clock starts.
    """
    work = Workload(13)
    per = sizes.steps_per_episode
    with SelfLearningMemory.open(root, **options) as memory:
        eids = [
            memory.start_episode(work.description(), work.context())
            for _ in range(sizes.ingest_steps // per)
        ]
        steps = [work.step() for _ in range(len(eids) * per)]
        start = time.perf_counter()
        for index, step in enumerate(steps):
            memory.log_step(eids[index // per], **step)
        flush_start = time.perf_counter()
        memory.flush()
        end = time.perf_counter()
    return end - start, end - flush_start


def bench_ingest(root: Path, sizes: Sizes) -> list[Result]:
    progress(f"ingest: {sizes.ingest_steps} steps, default config, then flush()")
    total, _ = _ingest(root / "ingest", sizes)
    progress("ingest: store write rate alone (one flush of everything)")
    _, write = _ingest(root / "ingest-write", sizes, flush_max_steps=10**9, flush_interval_s=None)
    return [
        Result(
            "ingest_steps_per_s",
            "durable ingest (log_step ... flush)",
            sizes.ingest_steps / total,
            "steps/s",
            target=50_000,
            higher_is_better=True,
            note=f"{sizes.ingest_steps} steps, {sizes.steps_per_episode} per episode",
        ),
        Result(
            "store_write_steps_per_s",
            "store write rate (the flush alone)",
            sizes.ingest_steps / write,
            "steps/s",
            note="flush_max_steps=1e9: one flush() writes every step",
        ),
    ]


# -- running and reporting --------------------------------------------------------------------


def run_all(sizes: Sizes) -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="selfmem-bench-") as tmp:
        root = Path(tmp)
        for bench in (bench_log_step, bench_complete, bench_ingest):
            results += bench(root, sizes)
            for child in list(root.iterdir()):
                shutil.rmtree(child)
        store = root / "large"
        ids, built = build_store(store, sizes)
        results += built
        results += bench_cold_start(store, sizes)
        results += bench_rss(store, sizes)
        results += bench_reads(store, ids, sizes)
    return results


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_core",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument(
        "--episodes",
        type=int,
        metavar="N",
        help="stored episodes for the RSS / retrieval / delete runs",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.episodes is not None:
        if args.episodes < 2 * sizes.deletes:
            raise SystemExit(f"--episodes must be at least {2 * sizes.deletes}")
        sizes = replace(sizes, episodes=args.episodes)
    started = time.perf_counter()
    results = run_all(sizes)
    elapsed = time.perf_counter() - started
    info = summary(STORE_PACKAGES)
    if args.json:
        report = {
            "machine": info,
            "quick": args.quick,
            "sizes": asdict(sizes),
            "seconds": elapsed,
            "results": [r.as_dict() for r in results],
        }
        print(json.dumps(report, indent=2))
    else:
        print(
            f"selfmem {info['selfmem']} on {info['cpus']} CPUs, Python {info['python']}, "
            f"{info['platform']}; libsql {info['libsql']}, lmdb {info['lmdb']}"
        )
        print(render_table(results))
        print(f"\n{'quick' if args.quick else 'full'} run, {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
