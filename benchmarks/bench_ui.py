"""``python -m benchmarks.bench_ui``: dashboard page loads at 100,000 episodes.

Run from the repository root (needs ``selfmem[ui]`` and httpx)::

    python -m benchmarks.bench_ui                                # 100,000 episodes
    python -m benchmarks.bench_ui --store-dir /tmp/ui100k        # keep the store for next time
    python -m benchmarks.bench_ui --episodes 20000 --requests 10 --json

1. **Store.** ``--episodes`` completed episodes of the planted-truth generator
   (``benchmarks.synthetic``: eight task families, 6 steps on average, successes, failures and
   partial successes, one every 5 minutes up to now), written through the store protocol
   (``create_episode`` + ``finish_episode``, as ``bench_scale`` and ``bench_relearn`` do:
   generating through the public API would take far longer), 20 episodes left open, then
   ``relearn()`` learns every pattern and heuristic from them. Reused when ``--store-dir``
   already holds a store of that size.
2. **Server.** ``selfmem --path DIR ui --port P``, exactly what a user runs: uvicorn on
   127.0.0.1 serving the real Starlette app, in its own process. Ready when ``/health``
   answers; the time to that first answer is printed.
3. **Pages.** Each page is requested once (``first``: includes what the page's first use
   builds, e.g. the retrieval index for search and ask), then ``--requests`` more times over
   HTTP with httpx, rotating through variants (different episodes, queries, cursors); p50,
   p95 and max are of those, measured from sending the request to having read the whole
   body. The learning page reuses its charts for 30 s, so it is timed a second time on a
   server started with ``--charts-max-age 0``, which computes them on every view. The
   target is p95 <= 300 ms for every page.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .machine import load_average
from .progress import progress
from .synthetic import FAMILIES, generate

TARGET_P95_MS = 300.0
_SPACING = timedelta(minutes=5)
_CHUNK = 2_000
_OPEN = 20


# -- the store --------------------------------------------------------------------------------


def build_store(path: Path, size: int) -> dict[str, Any]:
    """``size`` completed episodes (plus a few open ones) and what was learned from them."""
    from selfmem import Episode, SelfLearningMemory, TaskContext

    marker = path / "bench_ui.json"
    if marker.exists() and json.loads(marker.read_text()).get("size") == size:
        return {**json.loads(marker.read_text()), "reused": True}
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    start = datetime.now(UTC) - _SPACING * (size + 1)
    began = time.perf_counter()
    with SelfLearningMemory.open(path, flush_interval_s=None) as memory:
        store = memory._core.store  # the store protocol: one transaction per write
        for first in range(0, size, _CHUNK):
            count = min(_CHUNK, size - first)
            episodes, _ = generate(count, seed=first // _CHUNK, start=start + _SPACING * first,
                                   spacing=_SPACING)  # fmt: skip
            for episode in episodes:
                done = episode.model_copy(update={"namespace": memory.namespace})
                store.create_episode(done.model_copy(update={
                    "steps": [], "end_time": None, "outcome": None, "reward": None}))  # fmt: skip
                store.finish_episode(done, done.steps)
            if (first + count) % 10_000 == 0:
                progress(f"  {first + count}/{size} episodes, {time.perf_counter() - began:.0f} s")
        for i in range(_OPEN):
            family = FAMILIES[i % len(FAMILIES)]
            store.create_episode(Episode(
                namespace=memory.namespace, task_description=f"{family.tasks[0]} (running)",
                context=TaskContext(domain=family.domain, language=family.language),
                task_type=family.task_type,
            ))  # fmt: skip
        written = time.perf_counter() - began
        progress(f"relearning from {size} episodes")
        began = time.perf_counter()
        memory.relearn()
        found = {"size": size, "write_s": written, "relearn_s": time.perf_counter() - began}
    marker.write_text(json.dumps(found))
    return found


@dataclass
class Targets:
    """What the pages are asked for: ids, cursors and queries found in the store."""

    counts: dict[str, int]
    recent_ids: list[str]
    old_ids: list[str]
    pattern_ids: list[str]
    deep_cursors: list[str]
    window: tuple[str, str]


def find_targets(path: Path, size: int) -> Targets:
    from selfmem import SelfLearningMemory

    with SelfLearningMemory.open(path, flush_interval_s=None) as memory:
        recent = memory.list_episodes(completed_only=True, limit=10, include_steps=False)
        old = memory.list_episodes(completed_only=True, limit=10, offset=size - 100,
                                   include_steps=False)  # fmt: skip
        patterns = sorted(memory.list_patterns(include_unserved=True, limit=10**9),
                          key=lambda p: -len(p.episode_ids))  # fmt: skip
        counts = {"patterns": len(patterns), "served": len(memory.list_patterns(limit=10**9)),
                  "heuristics": len(memory.list_heuristics(limit=10**9)),
                  "episodes": memory.stats().episodes}  # fmt: skip
        cursors = []
        for depth in (size // 2, size * 9 // 10, size - 200):
            found = memory.list_episodes(limit=1, offset=depth, include_steps=False)
            cursors.append(found[0].start_time.isoformat())
        middle = recent[0].start_time - _SPACING * (size // 2)
    return Targets(
        counts=counts, recent_ids=[e.id for e in recent], old_ids=[e.id for e in old],
        pattern_ids=[p.id for p in patterns[:5]], deep_cursors=cursors,
        window=(middle.isoformat(), (middle + timedelta(days=3)).isoformat()),
    )  # fmt: skip


def pages(targets: Targets) -> list[tuple[str, list[str]]]:
    """Each page's name and the addresses its requests rotate through."""
    from urllib.parse import urlencode

    def q(**values: str) -> str:
        return "/?" + urlencode(values)

    families = [(f.domain, f.task_type.value) for f in FAMILIES]
    searches = ["slow query 500 error", "visual snapshots end-to-end test", "crash-loop pods",
                "forecast next quarter", "rename the types"]  # fmt: skip
    tasks = [f.tasks[0].format(name="billing") for f in FAMILIES]
    since, until = targets.window
    return [
        ("episodes", ["/"]),
        ("episodes, outcome=failure", [q(outcome="failure")]),
        ("episodes, task type + domain", [q(task_type=t, domain=d) for d, t in families]),
        ("episodes, rare combination",
         [q(outcome="partial_success", domain="infra", task_type="testing")]),
        ("episodes, 3-day window", [q(since=since, until=until)]),
        ("episodes, full-text search", [q(q=s) for s in searches]),
        ("episodes, deep page (cursor)", [q(before=c) for c in targets.deep_cursors]),
        ("episodes, deep page + filter",
         [q(before=c, domain="data") for c in targets.deep_cursors]),
        ("one episode (recent)", [f"/episodes/{i}" for i in targets.recent_ids]),
        ("one episode (old)", [f"/episodes/{i}" for i in targets.old_ids]),
        ("patterns and heuristics", ["/patterns"]),
        ("patterns, unserved too", ["/patterns?all=1"]),
        ("one pattern", [f"/patterns/{i}" for i in targets.pattern_ids]),
        ("learning over time (charts reused for 30 s)", ["/learning"]),
        ("ask", ["/ask?" + urlencode({"task": t}) for t in tasks]),
        ("health", ["/health"]),
    ]


# -- the server -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def dashboard(path: Path, *options: str) -> Iterator[tuple[str, float]]:
    """``selfmem ui`` on a free port; yields its address and the seconds to a first answer."""
    import httpx

    port = _free_port()
    command = [sys.executable, "-m", "selfmem", "--path", str(path), "ui", "--port", str(port),
               *options]  # fmt: skip
    began = time.perf_counter()
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"selfmem ui exited: {server.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(base + "/health", timeout=60).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base, time.perf_counter() - began
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# -- timing -----------------------------------------------------------------------------------


@dataclass
class PageTimes:
    name: str
    example: str
    first_ms: float
    times_ms: list[float]

    def at(self, q: float) -> float:
        ordered = sorted(self.times_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def as_dict(self) -> dict[str, Any]:
        return {"page": self.name, "example": self.example, "first_ms": self.first_ms,
                "p50_ms": statistics.median(self.times_ms), "p95_ms": self.at(0.95),
                "max_ms": max(self.times_ms), "requests": len(self.times_ms)}  # fmt: skip


def time_page(
    get: Callable[[str], Any], name: str, addresses: Sequence[str], requests: int
) -> PageTimes:
    def once(address: str) -> float:
        began = time.perf_counter()
        response = get(address)
        elapsed = (time.perf_counter() - began) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{address}: HTTP {response.status_code}: {response.text[:300]}")
        return elapsed

    first = once(addresses[0])
    times = [once(addresses[(i + 1) % len(addresses)]) for i in range(requests)]
    return PageTimes(name, addresses[0], first, times)


def measure(path: Path, size: int, requests: int) -> dict[str, Any]:
    import httpx

    targets = find_targets(path, size)
    with dashboard(path) as (base, ready_s), httpx.Client(base_url=base, timeout=120) as client:
        progress(f"dashboard ready after {ready_s:.1f} s")
        results = []
        for name, addresses in pages(targets):
            results.append(time_page(client.get, name, addresses, requests))
            progress(f"  {name}: p95 {results[-1].at(0.95):.0f} ms")
    # the learning page reuses its charts for 30 s: time their computation on every view too
    with dashboard(path, "--charts-max-age", "0") as (base, _), \
            httpx.Client(base_url=base, timeout=120) as client:  # fmt: skip
        name = "learning over time, charts recomputed (--charts-max-age 0)"
        results.append(time_page(client.get, name, ["/learning"], requests))
        progress(f"  {name}: p95 {results[-1].at(0.95):.0f} ms")
    return {"ready_s": ready_s, "counts": targets.counts, "pages": [r.as_dict() for r in results]}


def render(report: dict[str, Any]) -> str:
    store, counts = report["store"], report["counts"]
    lines = [
        f"{counts['episodes']} episodes ({'reused' if store.get('reused') else 'written'}: "
        f"{store['write_s']:.0f} s write, {store['relearn_s']:.0f} s relearn); "
        f"{counts['patterns']} patterns ({counts['served']} served), "
        f"{counts['heuristics']} heuristics; "
        f"load average before {report['load_before']}, after {report['load_after']}",
        f"selfmem ui answered its first request {report['ready_s']:.1f} s after starting",
        "",
        f"| page | first (ms) | p50 (ms) | p95 (ms) | max (ms) | p95 <= {TARGET_P95_MS:.0f} ms |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for page in report["pages"]:
        ok = "yes" if page["p95_ms"] <= TARGET_P95_MS else "**no**"
        lines.append(f"| {page['page']} | {page['first_ms']:.0f} | {page['p50_ms']:.0f} | "
                     f"{page['p95_ms']:.0f} | {page['max_ms']:.0f} | {ok} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--episodes", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page")
    parser.add_argument("--store-dir", type=Path, help="keep (and reuse) the store here")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    scratch = None
    if args.store_dir is None:
        scratch = tempfile.mkdtemp(prefix="bench_ui_")
        args.store_dir = Path(scratch)
    try:
        path = args.store_dir / str(args.episodes)
        progress(f"store of {args.episodes} episodes in {path}")
        store = build_store(path, args.episodes)
        report: dict[str, Any] = {"store": store, "load_before": load_average()}
        report.update(measure(path, args.episodes, args.requests))
        report["load_after"] = load_average()
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(report, indent=2) if args.json else render(report))
    worst = max(page["p95_ms"] for page in report["pages"])
    return 0 if worst <= TARGET_P95_MS else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
