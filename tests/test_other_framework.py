"""A task in a framework whose runs never succeeded, in a language whose runs did: the
``nextjs`` upgrade is offered the way ``express`` upgrades were done (both node), not how far
the one ``nextjs`` run got, nor the way of ``gin`` upgrades worded exactly like it. Where no
run of the language succeeded either, how far its runs got is offered when those of the
task's framework got nowhere, or less far on the same first steps."""

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


FIX = ["checkout_branch", "search_code", "edit_source", "pytest", "open_pull_request"]


def _fix_offer(memory: SelfLearningMemory) -> tuple[list[str], dict[str, float]] | None:
    found = memory.recommend_patterns(
        "Fix the failing unit test test_refund in search",
        _ctx("python", "fastapi"),
        include_partial=True,
    )
    first = next((s for s in found if isinstance(s.pattern, ToolSequence)), None)
    if first is None:
        return None
    assert isinstance(first.pattern, ToolSequence)
    return first.pattern.tools, first.signals


def _django_fixes(memory: SelfLearningMemory) -> None:
    for test, service in (("test_login", "billing"), ("test_cart", "orders")):
        task = f"Fix the failing unit test {test} in {service}"
        _run(memory, task, _ctx("python", "django"), FIX[:2])


def test_how_far_runs_in_the_language_got_when_the_frameworks_runs_got_nowhere(
    tmp_path: Path,
) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True, flush_interval_s=None) as memory:
        assert _fix_offer(memory) is None
        _django_fixes(memory)
        offer = _fix_offer(memory)
        assert offer is not None
        tools, signals = offer
        assert tools == FIX[:2]
        assert signals["partial"] == 1.0 and signals["other_framework"] == 1.0


def test_how_far_runs_in_the_language_got_when_it_goes_further(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True, flush_interval_s=None) as memory:
        task = "Fix the failing unit test test_refund in ledger"
        _run(memory, task, _ctx("python", "fastapi"), FIX[:1])
        own = _fix_offer(memory)
        assert own is not None and own[0] == FIX[:1]  # how far its own run got
        _django_fixes(memory)
        offer = _fix_offer(memory)
        assert offer is not None and offer[0] == FIX[:2]
        assert offer[1]["other_framework"] == 1.0


def test_runs_in_the_language_that_went_another_way_do_not_replace_the_frameworks(
    tmp_path: Path,
) -> None:
    mine = ["checkout_branch", "pip_install"]
    with SelfLearningMemory.open(tmp_path, learn_inline=True, flush_interval_s=None) as memory:
        task = "Fix the failing unit test test_refund in ledger"
        _run(memory, task, _ctx("python", "fastapi"), mine)
        _django_fixes(memory)
        offer = _fix_offer(memory)
        assert offer is not None
        tools, signals = offer
        assert tools == mine and "other_framework" not in signals
