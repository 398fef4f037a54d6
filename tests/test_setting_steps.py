"""Steps that a task's own setting needs: when the runs that vote for a task's sequence all
ran in other settings, the steps that every successful run of their family in the task's
setting took, and no run elsewhere did, are part of the offer there (an approval that
production needs, which staging runs never called)."""

from __future__ import annotations

from pathlib import Path

from selfmem import Episode, ExecutionStep, SelfLearningMemory, TaskContext, TaskOutcome
from selfmem.config import LearningConfig
from selfmem.learning.sequences import neighbour_sequence
from selfmem.memory.offers import with_own_steps

STAGING = ["read_logs", "query_metrics", "restart_service", "page_oncall"]
PROD = ["read_logs", "query_metrics", "request_approval", "restart_service", "page_oncall"]
TASK = "Users see 500 errors from checkout; handle the incident"


def _run(memory: SelfLearningMemory, task: str, tag: str, tools: list[str]) -> None:
    """A successful run; ``tag``: its tags, comma-separated."""
    ctx = TaskContext(domain="ops", language="go", tags=tag.split(","))
    eid = memory.start_episode(task, ctx)
    for tool in tools:
        memory.log_step(eid, tool=tool, observation=f"{tool} ok")
    memory.complete_episode(eid, TaskOutcome.success("done"))


def _first_sequence(memory: SelfLearningMemory, tag: str) -> list[str]:
    ctx = TaskContext(domain="ops", language="go", tags=tag.split(","))
    found = memory.recommend_patterns(TASK, ctx)
    return next(list(s.pattern.tools) for s in found if hasattr(s.pattern, "tools"))


def _memory(tmp_path: Path, prod_runs: int) -> SelfLearningMemory:
    memory = SelfLearningMemory.open(tmp_path / "m", learn_inline=True, flush_interval_s=None)
    for _ in range(prod_runs):
        _run(memory, "checkout is down, restore it", "prod", PROD)
    for _ in range(9):  # worded like the task: they are its nearest runs
        _run(memory, TASK, "staging", STAGING)
    return memory


def test_a_step_every_run_in_the_tasks_setting_took_is_offered_in_place(tmp_path: Path) -> None:
    with _memory(tmp_path, prod_runs=3) as memory:
        assert _first_sequence(memory, "prod") == PROD
        assert _first_sequence(memory, "staging") == STAGING


def test_the_step_is_offered_whatever_other_tags_the_runs_and_the_task_have(
    tmp_path: Path,
) -> None:
    """No two production runs had the same tags, nor any the task's: what they share is
    ``prod``, and every one of them took the approval that no staging run took."""
    with SelfLearningMemory.open(
        tmp_path / "m", learn_inline=True, flush_interval_s=None
    ) as memory:
        for tags in ("prod,hotfix", "prod,customer-facing", "prod,hotfix,customer-facing"):
            _run(memory, "checkout is down, restore it", tags, PROD)
        for tags in ("staging", "staging,hotfix", "staging,customer-facing") * 3:
            _run(memory, TASK, tags, STAGING)
        assert _first_sequence(memory, "prod") == PROD
        assert _first_sequence(memory, "prod,urgent") == PROD
        assert _first_sequence(memory, "staging,hotfix") == STAGING


def test_one_run_in_the_setting_is_no_evidence_of_a_step_it_needs(tmp_path: Path) -> None:
    with _memory(tmp_path, prod_runs=1) as memory:
        assert _first_sequence(memory, "prod") == STAGING


def _broke(memory: SelfLearningMemory, task: str, tag: str, before: list[str], then: str) -> None:
    """A run in which ``notify_team`` answered 403, then ``then`` (none: it gave up)."""
    eid = memory.start_episode(task, TaskContext(domain="ops", language="go", tags=[tag]))
    for tool in before:
        memory.log_step(eid, tool=tool, observation=f"{tool} ok")
    memory.log_step(eid, tool="notify_team", error="403 forbidden: notices moved to paging")
    if then:
        memory.log_step(eid, tool=then, observation=f"{then} ok")
    else:  # it looked for a way on, and found none
        memory.log_step(eid, tool="check_health", error="precondition failed: nothing to check")
    outcome = TaskOutcome.success("done") if then else TaskOutcome.failure("no notice")
    memory.complete_episode(eid, outcome)


def test_after_a_change_the_new_way_found_elsewhere_keeps_the_settings_step(
    tmp_path: Path,
) -> None:
    with SelfLearningMemory.open(
        tmp_path / "m", learn_inline=True, flush_interval_s=None
    ) as memory:
        for _ in range(3):
            _run(memory, "checkout is down, restore it", "prod", [*PROD[:4], "notify_team"])
            _run(memory, TASK, "staging", [*STAGING[:3], "notify_team"])
        # notify_team stops working in both settings; staging runs find the on-call page
        _broke(memory, "checkout is down, restore it", "prod", PROD[:4], "")
        for _ in range(2):
            _broke(memory, TASK, "staging", STAGING[:3], "page_oncall")
        assert _first_sequence(memory, "staging") == STAGING
        assert _first_sequence(memory, "prod") == PROD, "the approval stays, notify_team goes"


def test_the_rule_places_each_step_after_the_one_it_followed_and_leaves_the_rest_alone() -> None:
    new_way = neighbour_sequence(
        "default", TASK, [_episode(STAGING), _episode(STAGING)], LearningConfig()
    )
    assert new_way is not None and new_way.tools == STAGING
    prod = [*PROD[:4], "notify_team"]
    kept = with_own_steps(new_way, [prod, prod], [STAGING], {"notify_team"})
    assert kept.tools == PROD and kept.key == "similar:" + "|".join(PROD)
    assert kept.id != new_way.id, "feedback on it is feedback on what was offered"
    # a step one run here skipped, or that a run elsewhere took, is not this setting's
    assert with_own_steps(new_way, [prod, STAGING], [STAGING], set()) is new_way
    assert with_own_steps(new_way, [prod], [STAGING, prod], set()) is new_way
    # a gate goes before the step it guarded, whatever the new way does before that step
    flags = ["create_flag", "configure_rollout_rule", "deploy_service"]
    flag_way = neighbour_sequence(
        "default", TASK, [_episode(flags), _episode(flags)], LearningConfig()
    )
    assert flag_way is not None
    gated = ["create_flag", "set_flag_rollout", "request_change_approval", "deploy_service"]
    staging = ["create_flag", "set_flag_rollout", "deploy_service"]  # before the change
    assert with_own_steps(flag_way, [gated, gated], [flags, staging], set()).tools == [
        "create_flag",
        "configure_rollout_rule",
        "request_change_approval",
        "deploy_service",
    ]
    # a step that broke (a tool that stopped working) is never put back
    gone = [*STAGING[:2], "open_ticket", *STAGING[2:]]
    assert with_own_steps(new_way, [gone, gone], [], {"open_ticket"}) is new_way


def _episode(tools: list[str]) -> Episode:
    episode = Episode(namespace="default", task_description=TASK)
    for tool in tools:
        episode.steps.append(ExecutionStep(tool=tool, observation="ok"))
    episode.outcome = TaskOutcome.success("done")
    return episode
