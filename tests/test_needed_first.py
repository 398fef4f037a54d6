"""How far a task's runs got, when one of its steps now needs a new tool first: older runs
did ``write_ci_config`` straight away; a newer run called it, was told the call came out of
turn, ran ``register_ci_runner`` (a tool no run had used) and then ``write_ci_config``
worked. The older runs' progress is offered with the new tool before that step."""

from __future__ import annotations

from pathlib import Path

from selfmem import SelfLearningMemory, TaskContext, TaskOutcome, ToolSequence

CTX = TaskContext(domain="ci", tags=["staging"])
NOT_YET = "precondition not met"
#: Steps no run got to work: each says the call came out of turn (five tools raise it).
STUCK = ["trigger_pipeline", "deploy_service", "merge_pull_request", "tag_release", "notify_team"]
OLD_WAY = ["write_ci_config", "add_ci_secret", "open_pull_request"]


def _run(memory: SelfLearningMemory, service: str, calls: list[tuple[str, bool]]) -> None:
    eid = memory.start_episode(f"Set up continuous integration for the {service} service", CTX)
    for tool, ok in calls:
        if ok:
            memory.log_step(eid, tool=tool, observation=f"{tool}: ok")
        else:
            memory.log_step(eid, tool=tool, error=NOT_YET)
    memory.complete_episode(eid, TaskOutcome.failure("the pipeline never ran"))


def _offer(memory: SelfLearningMemory) -> list[str]:
    task = "Set up continuous integration for the ledger service"
    found = memory.recommend_patterns(task, CTX, include_partial=True)
    sequence = next((s.pattern for s in found if isinstance(s.pattern, ToolSequence)), None)
    assert sequence is not None and "partial" in next(
        s.signals for s in found if s.pattern is sequence
    )
    return sequence.tools


def _history(memory: SelfLearningMemory) -> None:
    for service in ("billing", "search", "orders", "catalog"):
        _run(memory, service, [(tool, True) for tool in OLD_WAY] + [(t, False) for t in STUCK])


NEWER = [  # the first step, out of turn now; a new tool; the first step again, which works
    ("write_ci_config", False),
    ("register_ci_runner", True),
    ("write_ci_config", True),
    ("add_ci_secret", False),
    ("deploy_service", False),
]


def test_a_step_that_now_needs_a_new_tool_first_gets_it_in_how_far_older_runs_got(
    tmp_path: Path,
) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True, flush_interval_s=None) as memory:
        _history(memory)
        assert _offer(memory) == OLD_WAY
        _run(memory, "payments", NEWER)
        assert _offer(memory) == ["register_ci_runner", *OLD_WAY]


def test_a_later_run_that_did_the_step_without_the_new_tool_undoes_it(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True, flush_interval_s=None) as memory:
        _history(memory)
        _run(memory, "payments", NEWER)
        # the step worked first again, never out of turn: the new tool is not needed
        _run(memory, "mail", [(tool, True) for tool in OLD_WAY] + [("tag_release", False)])
        assert _offer(memory) == OLD_WAY
