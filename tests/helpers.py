"""Small helpers shared by tests."""

from __future__ import annotations

from selfmem import ExecutionStep, SelfLearningMemory, TaskContext, TaskOutcome


def run_episode(
    memory: SelfLearningMemory,
    description: str,
    tools: list[str],
    *,
    context: TaskContext | None = None,
    fail_at: int | None = None,
    success: bool = True,
) -> str:
    """Record one episode with the given tool calls; returns its id."""
    eid = memory.start_episode(description, context or TaskContext(domain="web"))
    for index, tool in enumerate(tools):
        if index == fail_at:
            memory.log_step(eid, ExecutionStep(tool=tool, error=f"{tool} crashed"))
        else:
            memory.log_step(eid, ExecutionStep(tool=tool, observation=f"{tool} ok"))
    outcome = TaskOutcome.success("done") if success else TaskOutcome.failure("did not work")
    memory.complete_episode(eid, outcome)
    return eid
