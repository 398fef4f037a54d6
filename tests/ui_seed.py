"""A store for the dashboard tests, recorded through the public API: a debugging family that
learns a tool sequence and an error, a documentation family whose task text carries markup,
and one episode in another namespace."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from selfmem import ExecutionStep, SelfLearningMemory, TaskContext, TaskOutcome, TaskType

HOSTILE = "<script>alert('x')</script>"


@dataclass
class Seeded:
    memory: SelfLearningMemory
    location: Path
    login_ids: list[str]
    docs_ids: list[str]
    failed_ids: list[str]
    other_namespace_id: str


def seed(path: Path) -> Seeded:
    memory = SelfLearningMemory.open(path, flush_interval_s=None, learn_inline=True)
    login, docs, failed = [], [], []
    ctx = TaskContext(domain="web", language="python", tags=["auth"])
    for i in range(16):
        eid = memory.start_episode(f"Fix the failing login test {i}", ctx, TaskType.DEBUGGING)
        memory.log_step(eid, ExecutionStep(tool="run_tests", observation="1 failed: 401",
                                           latency_ms=120, tokens=40))  # fmt: skip
        if i % 4 == 3:
            memory.log_step(eid, ExecutionStep(tool="edit_file", parameters={"path": "auth.py"},
                                               error="permission denied"))  # fmt: skip
            memory.complete_episode(eid, TaskOutcome.failure("could not edit auth.py"))
            failed.append(eid)
        else:
            memory.log_step(eid, ExecutionStep(tool="edit_file", parameters={"path": "auth.py"},
                                               observation="saved", latency_ms=15))  # fmt: skip
            memory.log_step(eid, ExecutionStep(tool="run_tests", observation="1 passed"))
            memory.complete_episode(eid, TaskOutcome.success("login test passes"))
            login.append(eid)
    for i in range(6):
        eid = memory.start_episode(f"Document the {HOSTILE} widget api {i}",
                                   TaskContext(domain="docs"), TaskType.DOCUMENTATION)  # fmt: skip
        memory.log_step(eid, tool="read_file", observation=f"<b>bold</b> {HOSTILE}")
        memory.log_step(eid, tool="write_file", observation="written")
        memory.complete_episode(eid, TaskOutcome.success("documented"))
        docs.append(eid)
    other = memory.scoped("team-b")
    oid = other.start_episode("Deploy the billing service", TaskContext(domain="ops"),
                              TaskType.DEPLOYMENT)  # fmt: skip
    other.log_step(oid, tool="deploy", observation="rolled out")
    other.complete_episode(oid, TaskOutcome.success("live"))
    memory.flush()
    return Seeded(memory, path, login, docs, failed, oid)
