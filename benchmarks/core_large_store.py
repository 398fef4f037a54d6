"""The large-store benchmarks of ``bench_core``, and ``timed``, the per-call timer they share.

``build_store`` stores the configured number of completed episodes through the public API;
``bench_cold_start`` and ``bench_rss`` measure fresh interpreters that import selfmem and
open that store; ``bench_reads`` times retrieval, ``get_episode`` and ``delete_episode`` on it.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from selfmem import SelfLearningMemory

from .progress import progress
from .results import Result, percentiles
from .workload import Workload

if TYPE_CHECKING:
    from .bench_core import Sizes


def timed(call: Callable[[], Any]) -> int:
    """Nanoseconds one call takes."""
    start = time.perf_counter_ns()
    call()
    return time.perf_counter_ns() - start


# -- 4/5. the large store: build, cold start, RSS --------------------------------------------


def build_store(root: Path, sizes: Sizes) -> tuple[list[str], list[Result]]:
    """Store ``sizes.episodes`` completed episodes through the public API; return their ids."""
    progress(f"building a store of {sizes.episodes} completed episodes")
    work = Workload(17)
    ids: list[str] = []
    start = time.perf_counter()
    with SelfLearningMemory.open(root, flush_interval_s=None) as memory:
        for count in range(1, sizes.episodes + 1):
            eid = memory.start_episode(work.description(), work.context())
            for _ in range(sizes.steps_per_stored_episode):
                memory.log_step(eid, **work.step())
            memory.complete_episode(eid, work.outcome())
            ids.append(eid)
            if count % 10_000 == 0:
                progress(f"  {count} episodes, {time.perf_counter() - start:.0f} s")
    seconds = time.perf_counter() - start
    db_bytes = sum(p.stat().st_size for p in root.glob("selfmem.db*"))
    cache_bytes = sum(p.stat().st_size for p in (root / "cache").glob("*"))
    note = f"{sizes.steps_per_stored_episode} steps each, flush_interval_s=None"
    return ids, [
        Result("build_s", f"build {sizes.episodes} episodes", seconds, "s", note=note),
        Result("build_episodes_per_s", "build rate", sizes.episodes / seconds, "episodes/s"),
        Result("db_mb", "db file size", db_bytes / 2**20, "MB"),
        Result(
            "cache_mb",
            "LMDB cache size on disk",
            cache_bytes / 2**20,
            "MB",
            note="default cache_max_episodes=1000",
        ),
    ]


_COLD_START = """
import json, sys, time
start = time.perf_counter()
import selfmem
imported = time.perf_counter()
memory = selfmem.SelfLearningMemory.open(sys.argv[1])
opened = time.perf_counter()
memory.close()
print(json.dumps({"import_ms": (imported - start) * 1e3, "open_ms": (opened - imported) * 1e3}))
"""

_RSS = """
import json, sys

def rss_mb():
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            fields[name] = value.split()
    return int(fields["VmRSS"][0]) / 1024, int(fields["VmHWM"][0]) / 1024

import selfmem
memory = selfmem.SelfLearningMemory.open(sys.argv[1])
after_open, _ = rss_mb()
hits = memory.retrieve_relevant_context(sys.argv[2], {"domain": "web", "language": "python"})
page = memory.list_episodes()
after_calls, peak = rss_mb()
memory.close()
print(json.dumps({"after_open": after_open, "after_calls": after_calls, "peak": peak,
                  "hits": len(hits.episodes), "listed": len(page)}))
"""


def _bytecode_env(cache: Path) -> dict[str, str]:
    """An environment whose interpreters cache bytecode under ``cache``.

    An installed wheel ships with (or compiles) bytecode; an environment that sets
    ``PYTHONDONTWRITEBYTECODE`` would otherwise recompile every module on each cold start.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def _run_python(code: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, env=env
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def bench_cold_start(store: Path, sizes: Sizes) -> list[Result]:
    progress(f"cold start: {sizes.cold_runs} fresh interpreters (after one to compile bytecode)")
    env = _bytecode_env(store.parent / "pycache")
    _run_python(_COLD_START, str(store), env=env)
    runs = [_run_python(_COLD_START, str(store), env=env) for _ in range(sizes.cold_runs)]
    imports = statistics.median(r["import_ms"] for r in runs)
    opens = statistics.median(r["open_ms"] for r in runs)
    totals = statistics.median(r["import_ms"] + r["open_ms"] for r in runs)
    note = (
        f"median of {sizes.cold_runs} subprocesses; bytecode cached; interpreter start-up excluded"
    )
    return [
        Result(
            "cold_total_ms",
            "cold import selfmem + open(existing dir)",
            totals,
            "ms",
            target=150,
            note=note,
        ),
        Result("cold_import_ms", "  of which import selfmem", imports, "ms"),
        Result("cold_open_ms", f"  of which open() ({sizes.episodes} episodes)", opens, "ms"),
    ]


def bench_rss(store: Path, sizes: Sizes) -> list[Result]:
    if not Path("/proc/self/status").exists():
        progress("RSS: /proc/self/status not available; skipped")
        return []
    progress("RSS: a fresh process opens the store, retrieves and lists")
    rss = _run_python(_RSS, str(store), "fix the failing login form test")
    note = f"{sizes.episodes} stored episodes; a fresh interpreter"
    return [
        Result("rss_open_mb", "RSS after import + open()", rss["after_open"], "MB", note=note),
        Result("rss_mb", "RSS after retrieve + list_episodes", rss["after_calls"], "MB"),
        Result("rss_peak_mb", "peak RSS (VmHWM)", rss["peak"], "MB"),
    ]


# -- 6. reads and deletes on the large store --------------------------------------------------


def _retrieval_ms(memory: SelfLearningMemory, queries: list[str]) -> dict[str, float]:
    work = Workload(19)
    samples = [
        timed(partial(memory.retrieve_relevant_context, query, work.context())) for query in queries
    ]
    return percentiles(samples, 1_000_000)


def _retrieval(memory: SelfLearningMemory, sizes: Sizes) -> list[Result]:
    work = Workload(19)
    tasks = _retrieval_ms(memory, [work.description() for _ in range(sizes.queries)])
    common = _retrieval_ms(memory, [work.common_query() for _ in range(sizes.queries)])
    note = f"{sizes.queries} task-like queries, limit=5"
    return [
        Result("retrieve_p50_ms", "retrieve_relevant_context p50", tasks["p50"], "ms", note=note),
        Result("retrieve_p95_ms", "retrieve_relevant_context p95", tasks["p95"], "ms"),
        Result(
            "retrieve_common_p50_ms",
            "retrieve, query with a common word, p50",
            common["p50"],
            "ms",
            note="one query term occurs in most episodes",
        ),
        Result(
            "retrieve_common_p95_ms", "retrieve, query with a common word, p95", common["p95"], "ms"
        ),
    ]


def _gets(memory: SelfLearningMemory, ids: list[str], sizes: Sizes) -> list[Result]:
    recent = ids[-min(sizes.gets, memory.config.cache_max_episodes // 2) :]
    for eid in recent:  # warm: each is a cache hit afterwards
        memory.get_episode(eid)
    hits = [timed(partial(memory.get_episode, eid)) for eid in recent]
    old = random.Random(23).sample(ids[: len(ids) // 2], min(sizes.gets, len(ids) // 2))
    misses = [timed(partial(memory.get_episode, eid)) for eid in old]
    return [
        Result(
            "get_hit_p50_us",
            "get_episode p50, cache hit",
            percentiles(hits, 1e3)["p50"],
            "us",
            note=f"{sizes.steps_per_stored_episode}-step episodes",
        ),
        Result(
            "get_miss_p50_us",
            "get_episode p50, cache miss",
            percentiles(misses, 1e3)["p50"],
            "us",
            note="store read + cache fill",
        ),
    ]


def _deletes(memory: SelfLearningMemory, ids: list[str], sizes: Sizes) -> list[Result]:
    victims = random.Random(29).sample(ids, sizes.deletes)
    samples = [timed(partial(memory.delete_episode, eid)) for eid in victims]
    later = samples[1:] or samples
    return [
        Result(
            "delete_first_ms",
            "delete_episode, first",
            samples[0] / 1e6,
            "ms",
            note="WAL checkpoint on every delete (scrub_on_delete)",
        ),
        Result(
            "delete_median_ms",
            f"delete_episode, median of the next {len(later)}",
            statistics.median(later) / 1e6,
            "ms",
        ),
    ]


def bench_reads(store: Path, ids: list[str], sizes: Sizes) -> list[Result]:
    progress(f"reads on {sizes.episodes} episodes: retrieval, get_episode, delete_episode")
    with SelfLearningMemory.open(store) as memory:
        results = _retrieval(memory, sizes) + _gets(memory, ids, sizes)
        return results + _deletes(memory, ids, sizes)
