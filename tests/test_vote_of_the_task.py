"""The nearest successful runs vote for a task's sequence, those whose stated context fits
the task's best; a run of another task that shares a name with the task and fits its tags
better does not vote: an onboarding task naming Carla Diaz is not offered the way her
password was reset."""

from __future__ import annotations

from pathlib import Path

from selfmem import SelfLearningMemory, TaskContext, TaskOutcome, ToolSequence

ONBOARD = ["create_account", "assign_role", "check_gdpr_consent", "notify_customer"]
RESET = ["lookup_customer", "verify_identity", "send_sms_code"]


def _run(memory: SelfLearningMemory, task: str, tags: list[str], tools: list[str]) -> None:
    eid = memory.start_episode(task, TaskContext(domain="accounts", tags=tags))
    for tool in tools:
        memory.log_step(eid, tool=tool, observation=f"{tool}: ok")
    memory.complete_episode(eid, TaskOutcome.success("done"))


def test_a_run_of_another_task_that_fits_the_tags_better_does_not_vote(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True, flush_interval_s=None) as memory:
        _run(memory, "Onboard new hire Eva Novak to the payments team", ["eu", "internal"], ONBOARD)
        for user in ("lee@globex.net", "jo@acme.io", "max@umbrella.org"):
            _run(memory, f"Set up access for a new user, {user}", ["eu"], ONBOARD)
        _run(memory, "Restore account access for Carla Diaz", ["eu"], RESET)
        _run(memory, "Reset the password of Carla Diaz", ["eu", "internal"], RESET)
        found = memory.recommend_patterns(
            "Onboard new hire Carla Diaz to the design team",
            TaskContext(domain="accounts", tags=["eu", "vip"]),
        )
        first = next(s.pattern for s in found if isinstance(s.pattern, ToolSequence))
        assert first.tools == ONBOARD
