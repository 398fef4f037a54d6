"""What a memory that remembers its own runs perfectly would reach in the second and third
closed loops, with their policies unchanged.

The closed-loop target asks for 0.85 success over the last third. These worlds are hard to
explore (without memory their policies complete 2-23% of tasks), and a memory can only pass
on what its own runs showed. This benchmark runs each loop's policy (``loop2_agents.Policy``,
``loop3_agents.Agent``, as written) over a reference memory that knows each task's family and
procedure variant exactly, the world's own labels, which no real memory has:

- **plan**: the steps of the task's exact procedure as far as any earlier run of that same
  procedure got (all of them once one succeeded): "how far runs got", never wrong, always
  the furthest;
- **recovery**: a rule's remedy once an earlier run of the family, in the same condition,
  showed it working (the tool worked when called again, or after the fix, or the
  replacement did the step).

``--without partial`` plans only procedures a run completed; ``--without recoveries`` gives
none. The figures bound what learning from one's own runs can give these policies from
above in the ways that matter here (perfect family identification and recall); a memory
could still do better only by knowing what no run showed.

Run from the repository root::

    python -m benchmarks.bench_ceiling                    # loops 2 and 3, seeds 0-2
    python -m benchmarks.bench_ceiling --loops 3 --without partial
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Sequence
from typing import Any

from benchmarks import loop2_agents, loop2_world, loop3_agents, loop3_world

TASKS = 300


class _Known:
    """Progress per (family, procedure) and the recoveries seen to work."""

    def __init__(self, without: str | None) -> None:
        self.without = without
        self.best: dict[tuple[str, tuple[str, ...]], int] = {}
        self.recoveries: set[tuple[str, str, str]] = set()

    def plan(self, family: str, procedure: tuple[str, ...]) -> list[str]:
        got = self.best.get((family, procedure), 0)
        if self.without == "partial" and got < len(procedure):
            got = 0
        return list(procedure[:got])

    def knows(self, family: str, tool: str, condition: str) -> bool:
        return self.without != "recoveries" and (family, tool, condition) in self.recoveries

    def learn(self, family: str, procedure: tuple[str, ...], progress: int) -> None:
        key = (family, procedure)
        self.best[key] = max(self.best.get(key, 0), progress)

    def learn_recovery(
        self, family: str, tool: str, condition: str, mode: str, remedy: str | None,
        calls: Sequence[tuple[str, bool, str]],
    ) -> None:  # fmt: skip
        """``calls``: (tool, ok, message) of one run, in order."""
        failed = [i for i, (t, ok, message) in enumerate(calls) if t == tool and not ok
                  and not _not_yet(message)]  # fmt: skip
        if not failed:
            return
        later = calls[failed[0] + 1:]
        tool_ok = any(t == tool and ok for t, ok, _ in later)
        remedy_ok = any(t == remedy and ok for t, ok, _ in later)
        if (mode == "retry" and tool_ok) or (mode == "fix" and remedy_ok and tool_ok) or (
            mode == "replace" and remedy_ok
        ):
            self.recoveries.add((family, tool, condition))


def _not_yet(message: str) -> bool:
    """An error that says only that the call came out of turn."""
    text = (message or "").lower()
    return text.startswith(("precondition not met", "budget exhausted", "not applicable"))


# -- loop 2 -------------------------------------------------------------------------------


class Loop2Reference:
    name = "reference"

    def __init__(self, known: _Known) -> None:
        self.known = known

    def begin(self, task: loop2_world.Task) -> list[str]:
        return self.known.plan(task.family, task.procedure)

    def recovery(self, task: loop2_world.Task, tool: str,
                 error: str) -> loop2_agents.Recovery | None:  # fmt: skip
        if _not_yet(error):
            return None
        for rule in loop2_world.FAMILY_BY_NAME[task.family].failures:
            if rule.tool == tool and rule.tag in task.tags and self.known.knows(
                task.family, tool, rule.tag
            ):
                return loop2_agents.Recovery(rule.mode, rule.remedy)
        return None

    def end(self, task: loop2_world.Task, calls: Sequence[loop2_agents.Call],
            success: bool) -> None:  # fmt: skip
        seen = [(c.tool, c.ok, c.error or "") for c in calls]
        for rule in loop2_world.FAMILY_BY_NAME[task.family].failures:
            if rule.tag in task.tags:
                self.known.learn_recovery(task.family, rule.tool, rule.tag, rule.mode,
                                          rule.remedy, seen)  # fmt: skip

    def close(self) -> None:
        pass


def loop2(seed: int, without: str | None) -> dict[str, Any]:
    known = _Known(without)
    memory = Loop2Reference(known)
    results = []
    for task in loop2_world.make_tasks(seed, TASKS):
        rng = random.Random(f"loop2-policy-{seed}-{task.index}")
        policy = loop2_agents.Policy(loop2_world.start(task, seed), memory, rng)
        success = policy.execute()
        run = policy.run
        progress = len(task.procedure) if success else run.progress
        known.learn(task.family, task.procedure, progress)
        results.append((task, success))
    return _summary(results)


# -- loop 3 -------------------------------------------------------------------------------


class Loop3Reference:
    name = "reference"

    def __init__(self, known: _Known) -> None:
        self.known = known
        self.task: loop3_world.Task | None = None
        self.calls: list[loop3_world.Call] = []

    def begin(self, task: loop3_world.Task) -> list[str] | None:
        self.task, self.calls = task, []
        return self.known.plan(task.family, task.procedure) or None

    def record(self, call: loop3_world.Call) -> None:
        self.calls.append(call)

    def recovery(self, tool: str, error: str) -> list[loop3_agents.Recovery]:
        assert self.task is not None
        if _not_yet(error):
            return []
        for rule in self.task.rules:
            if rule.tool == tool and self.known.knows(self.task.family, tool, rule.condition):
                return [loop3_agents.Recovery(rule.mode, rule.remedy)]
        return []

    def end(self, task: loop3_world.Task, success: bool) -> None:
        advanced = sum(1 for c in self.calls if c.ok and c.message == f"{c.tool}: ok")
        self.known.learn(task.family, task.procedure,
                         len(task.procedure) if success else advanced)  # fmt: skip
        seen = [(c.tool, c.ok, c.message) for c in self.calls]
        for rule in task.rules:
            self.known.learn_recovery(task.family, rule.tool, rule.condition, rule.mode,
                                      rule.remedy, seen)  # fmt: skip

    def close(self) -> None:
        pass


def loop3(seed: int, without: str | None) -> dict[str, Any]:
    agent = loop3_agents.Agent(Loop3Reference(_Known(without)), seed)
    results = []
    for task in loop3_world.make_tasks(seed, TASKS):
        results.append((task, agent.attempt(task).success))
    return _summary(results)


def _summary(results: list[tuple[Any, bool]]) -> dict[str, Any]:
    last = [(task, ok) for task, ok in results if task.index >= 2 * TASKS // 3]
    families: dict[str, list[int]] = {}
    for task, ok in last:
        families.setdefault(task.family, [0, 0])
        families[task.family][0] += ok
        families[task.family][1] += 1
    return {
        "last_third": sum(ok for _, ok in last) / len(last),
        "per_family_last_third": dict(sorted(families.items())),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loops", nargs="+", type=int, default=[2, 3], choices=[2, 3])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--without", choices=["partial", "recoveries"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    run = {2: loop2, 3: loop3}
    rows = [
        {"loop": loop, "seed": seed, "without": args.without, **run[loop](seed, args.without)}
        for loop in args.loops
        for seed in args.seeds
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    label = f"without {args.without}" if args.without else "full"
    for loop in args.loops:
        mine = [r for r in rows if r["loop"] == loop]
        figures = " / ".join(f"{r['last_third']:.2f}" for r in mine)
        worst = min(r["last_third"] for r in mine)
        seeds = " / ".join(str(r["seed"]) for r in mine)
        print(f"loop {loop}, reference memory ({label}), last third, seeds {seeds}: "
              f"{figures} (worst {worst:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
