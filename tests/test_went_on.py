"""How far a task's nearest runs got, carried on by a run of their family that took those
steps and succeeded: the nearest runs (worded like the task) all failed after two steps,
while runs of the same task, worded otherwise, did the whole procedure."""

from __future__ import annotations

from pathlib import Path

from selfmem import SelfLearningMemory, TaskContext, TaskOutcome, ToolSequence
from selfmem.learning import PatternLearner

from .test_learner import episode

PYTHON = ["checkout_branch", "pip_install", "edit_source", "pytest", "open_pull_request"]
NODE = ["checkout_branch", "npm_install", "edit_source", "jest", "open_pull_request"]
TASK = "Move the {} service onto the 5.2 release of Django"
OUT_OF_TURN = "not applicable now"


def _run(
    memory: SelfLearningMemory, task: str, language: str, worked: list[str], failed: list[str]
) -> None:
    ctx = TaskContext(domain="dependencies", language=language, tags=["staging"])
    eid = memory.start_episode(task, ctx)
    for tool in worked:
        memory.log_step(eid, tool=tool, observation=f"{tool}: ok")
    for tool in failed:  # tools called out of turn: each fails and does nothing
        memory.log_step(eid, tool=tool, error=OUT_OF_TURN)
    done = not failed
    memory.complete_episode(
        eid, TaskOutcome.success("merged") if done else TaskOutcome.failure("budget spent")
    )


def _offer(memory: SelfLearningMemory, language: str) -> tuple[list[str], dict[str, float]]:
    ctx = TaskContext(domain="dependencies", language=language, tags=["staging"])
    found = memory.recommend_patterns(TASK.format("orders"), ctx, include_partial=True)
    first = next(s for s in found if isinstance(s.pattern, ToolSequence))
    return list(first.pattern.tools), first.signals


def test_how_far_the_nearest_runs_got_is_carried_on_by_a_run_that_went_further(
    tmp_path: Path,
) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True, flush_interval_s=None) as memory:
        failed = ["payments", "catalog", "auth", "orders", "users", "mail", "cart", "tax"]
        for i, service in enumerate(("billing", "search", "ledger")):
            _run(memory, f"Upgrade Django to 5.{i} in {service}", "python", PYTHON, [])
            _run(memory, f"Upgrade Django to 5.{i} in {service}", "node", NODE, [])
            for name in failed[3 * i : 3 * i + 3]:  # worded like the task, gave up early
                _run(memory, TASK.format(name), "python", PYTHON[:2], ["pytest", "jest", "go_test"])
        tools, signals = _offer(memory, "python")
        assert tools == PYTHON
        assert signals.get("went_on") == 1.0 and signals.get("partial") == 1.0


def test_the_run_that_goes_on_is_of_the_tasks_language_and_closest_setting() -> None:
    learner = PatternLearner("tests")
    python = TaskContext(domain="dependencies", language="python")
    node = TaskContext(domain="dependencies", language="node")
    runs = [
        (PYTHON, python, ["staging"]),
        (NODE, node, ["staging"]),
        ([*PYTHON[:3], "request_approval", *PYTHON[3:]], python, ["prod"]),
        (NODE, node, ["prod"]),
    ]
    for minute, (tools, ctx, tags) in enumerate(runs * 2):
        learner.observe(
            episode(list(tools), context=ctx, tags=tags, task="Upgrade Django", minute=minute)
        )
    keys = list(learner.families.families)
    assert learner.went_on(keys, ["checkout_branch"], node) == tuple(NODE)
    prod = python.model_copy(update={"tags": ["prod"]})
    assert learner.went_on(keys, PYTHON[:2], prod) == (*PYTHON[:3], "request_approval", *PYTHON[3:])
    staging = python.model_copy(update={"tags": ["staging"]})
    assert learner.went_on(keys, PYTHON[:2], staging) == tuple(PYTHON)
    # none took all three: one that took the first two carries them on, the third kept
    joined = learner.went_on(keys, [*PYTHON[:2], "jest"], staging)
    assert joined == (*PYTHON[:2], "jest", *PYTHON[2:])
    # one step in common is too little to say the runs were on that way
    assert learner.went_on(keys, ["pip_install", "jest"], staging) is None
    assert learner.went_on(keys, ["jest", "go_test", "pytest"], staging) is None
