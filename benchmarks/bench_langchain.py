"""What recording costs a LangChain agent: a 10-tool-call ``create_agent`` run, with and
without ``SelfMemCallbackHandler``.

Run from the repository root (needs ``integrations/langchain[test]``)::

    python -m benchmarks.bench_langchain            # 200 runs per variant
    python -m benchmarks.bench_langchain --quick    # 40 runs per variant
    python -m benchmarks.bench_langchain --json

The agent is real (``langchain.agents.create_agent``, its LangGraph loop and ``ToolNode``);
the model is the scripted fake, so a run takes milliseconds and any overhead shows. The
memory is a libSQL file with the LMDB cache in a temporary directory.

* **run latency**: the wall time of one ``agent.invoke`` as its caller sees it. The
  variants are interleaved run by run; between timed runs the handler's writer and
  selfmem's background learning are drained (untimed), as they are while a real agent
  waits on its model.
* **back to back**: runs with no pause at all, the final flush and learning included, per
  run. This counts every millisecond memory spends (libSQL holds the GIL), so it is the
  worst case: the cost of recording and learning from an episode, not a slowdown of the run.
* ``background=False`` writes inside the callbacks: the cost without the writer thread.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain_core.tools import BaseTool, tool
from langchain_selfmem import ScriptedChatModel, SelfMemCallbackHandler

from selfmem import SelfLearningMemory

from .machine import STORE_PACKAGES, summary
from .progress import progress
from .results import Result, render_table

TOOL_CALLS = 10
OVERHEAD_TARGET_PCT = 5.0


@tool
def lookup(key: str) -> str:
    """Look a key up in a small table."""
    return f"{key}={len(key) * 7}"


def make_agent() -> Any:
    turns: list[Any] = [("lookup", {"key": f"item-{i}"}) for i in range(TOOL_CALLS)]
    tools: list[BaseTool] = [lookup]
    return create_agent(ScriptedChatModel(turns=turns), tools, system_prompt="Look things up.")


def timed_run(agent: Any, config: dict[str, Any] | None, n: int) -> int:
    inputs = {"messages": [("user", f"Look up ten items, batch {n}")]}
    start = time.perf_counter_ns()
    output = agent.invoke(inputs, config=config)
    elapsed = time.perf_counter_ns() - start
    assert len(output["messages"]) == 2 + 2 * TOOL_CALLS
    return elapsed


def latency(agent: Any, memory: SelfLearningMemory, runs: int) -> dict[str, list[int]]:
    """Interleaved single runs: no handler, background writer, inline writes."""
    background = SelfMemCallbackHandler(memory)
    inline = SelfMemCallbackHandler(memory, background=False)

    def settle() -> None:  # the writer, then selfmem's own background learning
        background.flush()
        memory.flush()

    variants: dict[str, tuple[dict[str, Any] | None, Callable[[], object]]] = {
        "none": (None, lambda: None),
        "background": ({"callbacks": [background]}, settle),
        "inline": ({"callbacks": [inline]}, settle),
    }
    samples: dict[str, list[int]] = {name: [] for name in variants}
    names = list(variants)
    for n in range(runs):
        for name in names[n % 3 :] + names[: n % 3]:  # rotate the order every round
            config, settle = variants[name]
            samples[name].append(timed_run(agent, config, n))
            settle()
    return samples


def back_to_back(agent: Any, memory: SelfLearningMemory, runs: int) -> dict[str, float]:
    """Mean ms per run over ``runs`` runs without pauses, flush included."""
    handler = SelfMemCallbackHandler(memory)
    means: dict[str, list[float]] = {"none": [], "background": []}
    for _ in range(3):
        for name, config in (("none", None), ("background", {"callbacks": [handler]})):
            start = time.perf_counter_ns()
            for n in range(runs):
                timed_run(agent, config, n)
            handler.flush()
            memory.flush()
            means[name].append((time.perf_counter_ns() - start) / runs / 1e6)
    return {name: statistics.median(values) for name, values in means.items()}


def measure(runs: int) -> tuple[list[Result], dict[str, Any]]:
    agent = make_agent()
    with (
        tempfile.TemporaryDirectory(prefix="bench-langchain-") as scratch,
        SelfLearningMemory.open(Path(scratch) / "mem") as memory,
    ):
        progress("warming up")
        latency(agent, memory, 10)
        progress(f"run latency: {runs} runs per variant, interleaved")
        samples = latency(agent, memory, runs)
        progress(f"back to back: 3 x {runs // 2} runs per variant")
        sustained = back_to_back(agent, memory, max(10, runs // 2))
        episodes = memory.stats().episodes
    med = {name: statistics.median(values) / 1e6 for name, values in samples.items()}
    pct = {name: (med[name] / med["none"] - 1) * 100 for name in med}
    sustained_pct = (sustained["background"] / sustained["none"] - 1) * 100
    results = [
        Result("agent_ms", f"agent run, {TOOL_CALLS} tool calls, no callback (median)",
               med["none"], "ms"),
        Result("agent_with_handler_ms", "same run with SelfMemCallbackHandler (median)",
               med["background"], "ms"),
        Result("handler_overhead_pct", "handler overhead on run latency",
               pct["background"], "%", target=OVERHEAD_TARGET_PCT),
        Result("inline_overhead_pct", "overhead with background=False (writes inline)",
               pct["inline"], "%", note="episode written before invoke returns"),
        Result("back_to_back_overhead_pct", "overhead back to back, writes included",
               sustained_pct, "%", note="no idle time at all: every write counted"),
    ]  # fmt: skip
    raw = {"runs": runs, "median_ms": med, "overhead_pct": pct,
           "back_to_back_ms_per_run": sustained, "episodes_recorded": episodes}  # fmt: skip
    return results, raw


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_langchain",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("--runs", type=int, default=200, help="timed runs per variant")
    parser.add_argument("--quick", action="store_true", help="40 runs per variant")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    runs = 40 if args.quick else args.runs
    results, raw = measure(runs)
    if args.json:
        report = {"machine": summary(STORE_PACKAGES), "results": [r.as_dict() for r in results],
                  "raw": raw}  # fmt: skip
        print(json.dumps(report, indent=2))
    else:
        print(render_table(results))
    return 0 if all(r.status != "miss" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
