"""MCP round trips: ``retrieve_context`` over stdio against a store of 10,000 episodes.

Run from the repository root (needs the ``mcp`` extra)::

    python -m benchmarks.bench_mcp             # 10,000 stored episodes, 300 queries
    python -m benchmarks.bench_mcp --quick     # 2,000 episodes, 50 queries
    python -m benchmarks.bench_mcp --episodes 20000 --json

The store is built through the public API in a temporary directory (the same synthetic
workload as ``bench_core``). Then ``selfmem serve-mcp`` is spawned as a real subprocess and
driven with the SDK's client over stdio: every number below includes JSON-RPC framing,
the pipes, pydantic validation on both sides, and the server's worker thread. The same
queries are also timed in process, without MCP, to show what the protocol adds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import anyio
import mcp

from selfmem import SelfLearningMemory

from .machine import STORE_PACKAGES, summary
from .progress import progress
from .results import Result, percentiles, render_table
from .workload import Workload

# -- sizes ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sizes:
    episodes: int = 10_000
    steps_per_episode: int = 3
    queries: int = 300
    warmup: int = 20
    sessions: int = 3  # cold starts measured (spawn + initialize)


FULL = Sizes()
QUICK = Sizes(episodes=2_000, queries=50, warmup=5, sessions=2)


# -- the store ----------------------------------------------------------------------------------


def build_store(root: Path, sizes: Sizes) -> float:
    """Store ``sizes.episodes`` completed episodes; returns the seconds it took."""
    progress(f"building a store of {sizes.episodes} episodes")
    work = Workload(17)
    start = time.perf_counter()
    with SelfLearningMemory.open(root, flush_interval_s=None) as memory:
        for count in range(1, sizes.episodes + 1):
            eid = memory.start_episode(work.description(), work.context())
            for _ in range(sizes.steps_per_episode):
                memory.log_step(eid, **work.step())
            memory.complete_episode(eid, work.outcome())
            if count % 2_000 == 0:
                progress(f"  {count} episodes, {time.perf_counter() - start:.0f} s")
    return time.perf_counter() - start


def queries(sizes: Sizes) -> list[tuple[str, dict[str, Any]]]:
    work = Workload(19)
    return [(work.description(), work.context()) for _ in range(sizes.warmup + sizes.queries)]


# -- in process, no MCP ----------------------------------------------------------------------


def direct_ms(root: Path, asked: list[tuple[str, dict[str, Any]]], sizes: Sizes) -> list[int]:
    with SelfLearningMemory.open(root) as memory:
        samples: list[int] = []
        for index, (text, context) in enumerate(asked):
            start = time.perf_counter_ns()
            result = memory.retrieve_relevant_context(text, context, 5)
            result.render(400)
            if index >= sizes.warmup:
                samples.append(time.perf_counter_ns() - start)
    return samples


# -- over stdio ---------------------------------------------------------------------------------


def server_params(root: Path) -> mcp.StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELFMEM_")}
    return mcp.StdioServerParameters(
        command=sys.executable,
        args=["-m", "selfmem", "--path", str(root), "serve-mcp"],
        env=env,
    )


@dataclass
class StdioRun:
    session_ms: list[float]
    first_call_ms: float
    retrieve_ns: list[int]
    floor_ns: list[int]
    response_bytes: list[int]


async def _retrieve(client: mcp.Client, text: str, context: dict[str, Any]) -> int:
    arguments = {"task_description": text, "context": context, "limit": 5}
    result = await client.call_tool("retrieve_context", arguments)
    if result.is_error:
        raise RuntimeError(f"retrieve_context failed: {result.content}")
    return len(json.dumps(result.structured_content)) + sum(
        len(getattr(block, "text", "")) for block in result.content
    )


async def over_stdio(root: Path, asked: list[tuple[str, dict[str, Any]]], sizes: Sizes) -> StdioRun:
    params = server_params(root)
    sessions: list[float] = []
    for _ in range(sizes.sessions):  # cold starts: spawn, import, open the store, initialize
        start = time.perf_counter()
        async with mcp.Client(params) as client:
            sessions.append((time.perf_counter() - start) * 1e3)
    run = StdioRun(sessions, 0.0, [], [], [])
    async with mcp.Client(params) as client:
        start = time.perf_counter()
        await _retrieve(client, *asked[0])  # builds the server's in-process index
        run.first_call_ms = (time.perf_counter() - start) * 1e3
        for index, (text, context) in enumerate(asked[1:], start=1):
            start_ns = time.perf_counter_ns()
            size = await _retrieve(client, text, context)
            if index >= sizes.warmup:
                run.retrieve_ns.append(time.perf_counter_ns() - start_ns)
                run.response_bytes.append(size)
        for _ in range(sizes.queries):
            start_ns = time.perf_counter_ns()
            await client.call_tool("list_episodes", {"limit": 1})
            run.floor_ns.append(time.perf_counter_ns() - start_ns)
    return run


# -- running and reporting ----------------------------------------------------------------------


def run_all(sizes: Sizes) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="selfmem-bench-mcp-") as tmp:
        root = Path(tmp) / "store"
        built = build_store(root, sizes)
        asked = queries(sizes)
        progress(f"{sizes.queries} retrieve_relevant_context calls in process")
        direct = percentiles(direct_ms(root, asked, sizes), 1e6)
        progress(f"{sizes.queries} retrieve_context calls over stdio (serve-mcp subprocess)")
        stdio = anyio.run(over_stdio, root, asked, sizes)
    rt = percentiles(stdio.retrieve_ns, 1e6)
    floor = percentiles(stdio.floor_ns, 1e6)
    note = f"{sizes.episodes} episodes stored, limit=5, {sizes.queries} task-like queries"
    return [
        Result("build_s", f"build {sizes.episodes} episodes", built, "s"),
        Result("session_start_ms", "stdio session start (median)",
               statistics.median(stdio.session_ms), "ms",
               note="spawn serve-mcp, import, open the store, initialize"),
        Result("first_call_ms", "first retrieve_context", stdio.first_call_ms, "ms",
               note="the server builds its in-process index"),
        Result("mcp_retrieve_p50_ms", "retrieve_context over stdio p50", rt["p50"], "ms",
               note=note),
        Result("mcp_retrieve_p95_ms", "retrieve_context over stdio p95", rt["p95"], "ms"),
        Result("mcp_retrieve_p99_ms", "retrieve_context over stdio p99", rt["p99"], "ms"),
        Result("mcp_retrieve_max_ms", "retrieve_context over stdio max", rt["max"], "ms"),
        Result("direct_retrieve_p50_ms", "in process (no MCP) p50", direct["p50"], "ms",
               note="retrieve_relevant_context + render"),
        Result("direct_retrieve_p95_ms", "in process (no MCP) p95", direct["p95"], "ms"),
        Result("mcp_overhead_p50_ms", "MCP overhead p50", rt["p50"] - direct["p50"], "ms",
               note="stdio p50 minus in-process p50"),
        Result("mcp_floor_p50_ms", "list_episodes(limit=1) over stdio p50", floor["p50"], "ms",
               note="a cheap tool: near the transport's floor"),
        Result("response_kb", "retrieve_context response size (median)",
               statistics.median(stdio.response_bytes) / 1024, "KB",
               note="structured JSON plus the rendered text"),
    ]  # fmt: skip


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_mcp",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--episodes", type=int, metavar="N", help="stored episodes")
    parser.add_argument("--queries", type=int, metavar="N", help="timed queries")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.episodes is not None:
        sizes = replace(sizes, episodes=args.episodes)
    if args.queries is not None:
        sizes = replace(sizes, queries=args.queries)
    started = time.perf_counter()
    results = run_all(sizes)
    elapsed = time.perf_counter() - started
    info = summary((*STORE_PACKAGES, "mcp"))
    if args.json:
        report = {"machine": info, "sizes": asdict(sizes), "seconds": elapsed,
                  "results": [r.as_dict() for r in results]}  # fmt: skip
        print(json.dumps(report, indent=2))
    else:
        print(f"selfmem {info['selfmem']} on {info['cpus']} CPUs, Python {info['python']}; "
              f"mcp {info['mcp']}")  # fmt: skip
        print(render_table(results))
        print(f"\n{'quick' if args.quick else 'full'} run, {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
