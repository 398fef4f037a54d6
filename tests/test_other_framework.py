"""A task in a framework whose runs never succeeded, in a language whose runs did: the
``nextjs`` upgrade is offered the way ``express`` upgrades were done (both node), not how far
the one ``nextjs`` run got, nor the way of ``gin`` upgrades worded exactly like it."""

from __future__ import annotations

from pathlib import Path

from selfmem import SelfLearningMemory, TaskContext, TaskOutcome, ToolSequence

NODE = ["checkout_branch", "npm_install", "edit_source", "jest", "open_pull_request"]
GO = ["checkout_branch", "go_get", "edit_source", "go_test", "open_pull_request"]


def _ctx(language: str, framework: str) -> TaskContext:
    return TaskContext(domain="codebase", language=language, framework=framework)


def _run(memory: SelfLearningMemory, task: str, ctx: TaskContext, worked: list[str]) -> None:
    eid = memory.start_episode(task, ctx)
    for tool in worked:
        memory.log_step(eid, tool=tool, observation=f"{tool}: ok")
    done = len(worked) == 5
    if not done:
        memory.log_step(eid, tool="jest", error="not applicable now")
    memory.complete_episode(
        eid, TaskOutcome.success("merged") if done else TaskOutcome.failure("no")
    )


def _offer(memory: SelfLearningMemory) -> tuple[list[str], dict[str, float]]:
    found = memory.recommend_patterns(
        "Upgrade nextjs to 9.1.0 in search", _ctx("node", "nextjs"), include_partial=True
    )
    first = next(s for s in found if isinstance(s.pattern, ToolSequence))
    assert isinstance(first.pattern, ToolSequence)
    return first.pattern.tools, first.signals


def test_runs_in_the_language_with_another_framework_show_the_way(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True, flush_interval_s=None) as memory:
        _run(memory, "Migrate checkout to the latest nextjs", _ctx("node", "nextjs"), NODE[:2])
        assert _offer(memory)[0] == NODE[:2]  # how far the one nextjs run got
        for service in ("billing", "search", "ledger"):
            _run(memory, f"Upgrade gin to 2.{len(service)}.0 in {service}", _ctx("go", "gin"), GO)
        for service in ("payments", "orders", "mail"):
            _run(memory, f"Bump express to 4.2.0 for {service}", _ctx("node", "express"), NODE)
        tools, signals = _offer(memory)
        assert tools == NODE
        assert signals["other_framework"] == 1.0


def test_a_success_in_the_tasks_own_framework_decides(tmp_path: Path) -> None:
    mine = ["checkout_branch", "npm_install", "edit_source", "run_next_build", "jest"]
    with SelfLearningMemory.open(tmp_path, learn_inline=True, flush_interval_s=None) as memory:
        for service in ("payments", "orders", "mail"):
            _run(memory, f"Bump express to 4.2.0 for {service}", _ctx("node", "express"), NODE)
        _run(memory, "Upgrade nextjs to 8.0.0 in checkout", _ctx("node", "nextjs"), mine)
        tools, signals = _offer(memory)
        assert tools == mine and "other_framework" not in signals
