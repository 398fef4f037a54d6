"""A child process for the multi-process tests and benchmark: writes episodes, reports back.

    python -m tests.multiprocess_worker LOCATION NAMESPACE WORKER EPISODES OUT [--steps N]
        [--cache DIR|off] [--retry-deadline S] [--start-at UNIX_TIME]

Each episode is started, gets ``--steps`` steps and is completed. The report (JSON, in OUT)
lists the ids whose completion returned (acknowledged), the ids whose start or completion
raised (with the error), and the time taken. A store error is reported and the worker goes
on, so the parent can tell "retried and written" from "reported as failed".
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from selfmem import SelfLearningMemory, StorageError, TaskContext, TaskOutcome


def _record(memory: SelfLearningMemory, worker: int, index: int, steps: int) -> str:
    eid = memory.start_episode(
        f"worker {worker} task {index}: deploy service {index % 17}",
        TaskContext(domain="ops", language="python", tags=[f"w{worker}"]),
    )
    for step in range(steps):
        memory.log_step(eid, tool=f"tool_{step}", observation=f"step {step} of task {index}")
    memory.complete_episode(eid, TaskOutcome.success("done"))
    return eid


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("location")
    parser.add_argument("namespace")
    parser.add_argument("worker", type=int)
    parser.add_argument("episodes", type=int)
    parser.add_argument("out")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--cache", default="off", help="off, on (the default place) or a dir")
    parser.add_argument("--retry-deadline", type=float, default=30.0)
    parser.add_argument("--start-at", type=float, default=0.0)
    args = parser.parse_args(argv)

    pause = args.start_at - time.time()
    if pause > 0:  # start together, so the processes really contend (migrations included)
        time.sleep(pause)
    began = time.perf_counter()
    memory = SelfLearningMemory.open(
        args.location,
        namespace=args.namespace,
        cache={"off": False, "on": True}.get(args.cache, args.cache),
        flush_interval_s=None,
        retry_deadline_s=args.retry_deadline,
    )
    opened = time.perf_counter() - began
    acknowledged: list[str] = []
    failed: list[dict[str, str]] = []
    for index in range(args.episodes):
        try:
            acknowledged.append(_record(memory, args.worker, index, args.steps))
        except StorageError as exc:
            failed.append({"index": str(index), "error": type(exc).__name__, "message": str(exc)})
    memory.flush()
    memory._core.learning.drain()
    learning_failures = memory.learning_failures
    elapsed = time.perf_counter() - began
    memory.close()
    report = {
        "learning_failures": learning_failures,
        "worker": args.worker,
        "acknowledged": acknowledged,
        "failed": failed,
        "open_s": opened,
        "write_s": elapsed - opened,
    }
    Path(args.out).write_text(json.dumps(report))


if __name__ == "__main__":
    main()
