"""Loop 3: a closed loop in a devops / software-engineering world, with and without memory.

`python -m benchmarks.bench_loop3 [--seeds 0 1 2] [--arms none plain selfmem selfmem-minilm]
[--tasks 300] [--json]`

Written from a fixed written spec without reading selfmem's learner, memory or retrieval code
(nor the earlier closed-loop benchmarks); the world is `loop3_world` (its data in
`loop3_catalog`), the policy and the memory arms are `loop3_agents` (their docstrings state
the spec). For each arm and seed, the same
`make_tasks(seed, n)` sequence is run by the same policy over a fresh memory. Reported per arm
and seed: the success rate over the last third (tasks 201-300 of 300), the overall success
rate, the last third's successes per family, and, for each family whose procedure changes at
task 2n/3, the attempt number (1 = its first task after the change) of its first success after
the change ("-" if none). Then one summary line per arm: the mean and the worst seed of the
last-third success rate. `--json` prints the same as JSON. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from statistics import mean
from typing import Any

from benchmarks.loop3_agents import ARMS, Agent, TaskResult, make_memory
from benchmarks.loop3_world import CHANGED_FAMILIES, FAMILIES, make_tasks

SHORT = {
    "fix_test": "fixT", "add_dependency": "dep", "upgrade_framework": "upg",
    "db_migration": "mig", "rotate_tls": "tls", "memory_leak": "leak", "setup_ci": "ci",
    "publish_release": "pub", "merge_conflict": "merge", "feature_flag": "flag",
    "restore_row": "rest", "flaky_e2e": "flaky",
}


def summarise(results: list[TaskResult], n: int) -> dict[str, Any]:
    last_from = n - n // 3
    change_at = (2 * n) // 3
    last = [r for r in results if r.index >= last_from]
    per_family = {}
    for family in FAMILIES:
        mine = [r for r in last if r.family == family.name]
        per_family[family.name] = [sum(r.success for r in mine), len(mine)]
    first_success: dict[str, int | None] = {}
    for name in CHANGED_FAMILIES:
        after = [r for r in results if r.family == name and r.index >= change_at]
        first_success[name] = next((i for i, r in enumerate(after, 1) if r.success), None)
    return {
        "last_third": sum(r.success for r in last) / len(last),
        "overall": sum(r.success for r in results) / len(results),
        "per_family_last_third": per_family,
        "first_success_after_change": first_success,
        "plans": sum(r.had_plan for r in results),
    }


def run_arm(arm: str, seed: int, n: int) -> dict[str, Any]:
    tasks = make_tasks(seed, n)
    memory = make_memory(arm)
    agent = Agent(memory, seed)
    started = time.perf_counter()
    try:
        results = []
        for task in tasks:
            results.append(agent.attempt(task))
            if (task.index + 1) % 50 == 0:
                done = sum(r.success for r in results)
                print(f"  {arm} seed {seed}: {task.index + 1}/{n} tasks, {done} successes",
                      file=sys.stderr, flush=True)
        sources = dict(getattr(memory, "plan_source", {}))
    finally:
        memory.close()
    summary = summarise(results, n)
    summary.update(arm=arm, seed=seed, seconds=round(time.perf_counter() - started, 1))
    if sources:
        summary["memory_use"] = sources
    return summary


def _row(s: dict[str, Any]) -> str:
    fams = " ".join(f"{k}/{n}".rjust(5) for k, n in s["per_family_last_third"].values())
    firsts = " ".join(str(v if v is not None else "-").rjust(5)
                      for v in s["first_success_after_change"].values())
    return (f"{s['arm']:<15} {s['seed']:>4} {s['last_third']:>6.2f} {s['overall']:>6.2f}  "
            f"{fams}  | {firsts} {s['seconds']:>7.1f}")


def print_table(rows: list[dict[str, Any]], arms: list[str]) -> None:
    fam_head = " ".join(SHORT[f.name].rjust(5) for f in FAMILIES)
    change_head = " ".join(SHORT[f].rjust(5) for f in CHANGED_FAMILIES)
    print("last3 = success rate over the last third; per family: last-third successes / tasks;")
    print("after change: attempt number of the family's first success after the change")
    print(f"{'arm':<15} {'seed':>4} {'last3':>6} {'all':>6}  {fam_head}  | {change_head} "
          f"{'secs':>7}")
    for row in rows:
        print(_row(row))
    print()
    for arm in arms:
        values = [r["last_third"] for r in rows if r["arm"] == arm]
        if values:
            print(f"{arm:<15} last-third success: mean {mean(values):.3f}, "
                  f"worst seed {min(values):.3f}  (seeds: "
                  + ", ".join(f"{v:.2f}" for v in values) + ")")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = [run_arm(arm, seed, args.tasks) for arm in args.arms for seed in args.seeds]
    total = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps({"tasks": args.tasks, "seeds": args.seeds, "results": rows,
                          "seconds": total}, indent=2))
    else:
        print_table(rows, args.arms)
        print(f"\ntotal time {total:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
