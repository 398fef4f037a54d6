"""Small helpers shared by tests."""

from __future__ import annotations

from selfmem import ExecutionStep, SelfLearningMemory, TaskContext, TaskOutcome, ToolSequence


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


def learned_summary(memory: SelfLearningMemory) -> set[tuple[str, str, int, int]]:
    """(kind, key, support, successes) of every learned pattern, with each task family named by
    its tools: a family is keyed by the episode that started it, which relearning without a
    deleted episode may name differently."""
    patterns = memory.list_patterns(include_unserved=True, limit=10_000)
    names = {p.key: "+".join(p.tools) for p in patterns if isinstance(p, ToolSequence)}
    found = set()
    for p in patterns:
        family, _, rest = p.key.partition("|")
        key = f"{names[family]}|{rest}" if family in names else p.key
        found.add((p.kind.value, key, p.support, p.successes))
    return found
