"""How far a task's runs got, looked for beyond its 8 nearest when those got nowhere: the
runs worded most like the task all failed at their first call, while runs worded less like
it got a step further."""

from __future__ import annotations

from pathlib import Path

from selfmem import SelfLearningMemory, TaskContext, TaskOutcome, ToolSequence

CTX = TaskContext(domain="reports", tags=["us"])
NOT_YET = "precondition not met"
TASK = "Produce a report of monthly usage for Initech"
CUSTOMERS = ["Globex", "Umbrella", "Stark", "Acme", "Hooli", "Wayne", "Cyberdyne", "Tyrell"]


def _run(memory: SelfLearningMemory, task: str, worked: list[str], failed: list[str]) -> None:
    eid = memory.start_episode(task, CTX)
    for tool in worked:
        memory.log_step(eid, tool=tool, observation=f"{tool}: ok")
    for tool in failed:
        memory.log_step(eid, tool=tool, error=NOT_YET)
    done = not failed
    memory.complete_episode(eid, TaskOutcome.success("sent") if done else TaskOutcome.failure("no"))


def _first_sequence(memory: SelfLearningMemory) -> ToolSequence | None:
    found = memory.recommend_patterns(TASK, CTX, include_partial=True)
    return next((s.pattern for s in found if isinstance(s.pattern, ToolSequence)), None)


def _history(memory: SelfLearningMemory) -> None:
    for customer in CUSTOMERS:  # worded like the task: nothing worked
        _run(memory, f"Produce a report of Q1 usage for {customer}", [], ["generate_report"])
    for customer in ("Initrode", "Soylent"):  # worded otherwise: the query worked
        _run(memory, f"Export the weekly report for {customer}", ["run_sql_query"],
             ["upload_file", "generate_report"])  # fmt: skip


def test_when_the_nearest_runs_got_nowhere_how_far_farther_runs_got_is_offered(
    tmp_path: Path,
) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True, flush_interval_s=None) as memory:
        _history(memory)
        first = _first_sequence(memory)
        assert first is not None and first.tools == ["run_sql_query"]
        assert first.successes == 0


def test_when_a_farther_run_succeeded_the_successful_runs_vote(tmp_path: Path) -> None:
    done = ["run_sql_query", "generate_report", "upload_file"]
    with SelfLearningMemory.open(tmp_path, learn_inline=True, flush_interval_s=None) as memory:
        _history(memory)
        for customer in ("Initrode", "Soylent"):
            _run(memory, f"Export the weekly report for {customer}", done, [])
        first = _first_sequence(memory)
        assert first is not None and first.tools == done
