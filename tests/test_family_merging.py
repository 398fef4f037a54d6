"""Two task families that turn out to be one kind of task are merged, and their counts add up;
a decision's best choice is chosen by a confidence bound; a family states the context nearly
all of its runs share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from selfmem import Episode, ExecutionStep, SelfLearningMemory, TaskContext, TaskOutcome, TaskType
from selfmem.learning import PatternLearner
from selfmem.records.learned import ContextPattern, DecisionPoint, ToolSequence

BASE = datetime.now(UTC) - timedelta(days=1)  # recent: learned patterns decay with age
DATA = TaskContext(domain="data", language="sql")
PROCEDURE = ["fetch_dataset", "clean_data", "run_query", "export_csv"]
# the first paraphrase run is noisy enough to start a family of its own; later runs are not
NOISE = [["grep_code", "think", "list_dir"], ["web_search"], ["read_docs"], ["git_status"],
         ["grep_code"], ["think"]]  # fmt: skip


def _episode(minute: int, text: str, tools: list[str], *, ok: bool = True) -> Episode:
    end = BASE + timedelta(minutes=minute)
    return Episode(
        task_description=text,
        context=DATA,
        task_type=TaskType.ANALYSIS,
        steps=[ExecutionStep(tool=t, observation="ok") for t in tools],
        start_time=end - timedelta(seconds=30),
        end_time=end,
        outcome=TaskOutcome.success("done") if ok else TaskOutcome.failure("no"),
    )


def _history() -> list[Episode]:
    runs = [_episode(i, "Refresh the revenue report", PROCEDURE) for i in range(3)]
    for i, noise in enumerate(NOISE):
        tools = [PROCEDURE[0], *noise[:1], PROCEDURE[1], *noise[1:2], PROCEDURE[2], *noise[2:],
                 PROCEDURE[3]]  # fmt: skip
        runs.append(_episode(10 + i, "Export weekly churn figures to a spreadsheet", tools))
    return runs


def _families(learner: PatternLearner) -> list[ToolSequence]:
    return list(learner.families.families.values())


def test_a_family_split_off_by_a_paraphrase_is_merged_back_and_its_counts_add_up() -> None:
    learner = PatternLearner("default")
    history = _history()
    seen = []
    for episode in history[:4]:
        learner.observe(episode)
    seen.append(len(_families(learner)))
    for episode in history[4:]:
        learner.observe(episode)
    assert seen == [2]  # the noisy paraphrase started a second family ...
    (family,) = _families(learner)  # ... which was merged back
    assert family.members.n == len(history)
    assert family.tool_stats["fetch_dataset"].n == len(history)
    assert family.terms["churn"] == len(NOISE) and family.terms["revenue"] == 3
    assert family.tools == PROCEDURE
    removed = set(learner.take_removed())
    assert removed and not removed & {p.id for p in learner.all_patterns()}
    assert learner.take_removed() == []
    for pattern in learner.all_patterns():
        if isinstance(pattern, DecisionPoint | ContextPattern):
            assert pattern.family == family.key and pattern.key.startswith(family.key + "|")
    assert all(learner.family_of(episode) == family.key for episode in history)


def test_the_store_keeps_only_the_merged_family(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for episode in _history():
            eid = memory.start_episode(episode.task_description, DATA, TaskType.ANALYSIS)
            for step in episode.steps:
                memory.log_step(eid, tool=step.tool, observation="ok")
            memory.complete_episode(eid, TaskOutcome.success("done"))
        memory.flush()
        listed = memory.list_patterns(kind="tool_sequence", include_unserved=True)
        assert len(listed) == 1 and listed[0].support == len(NOISE) + 3
    with SelfLearningMemory.open(tmp_path) as memory:
        again = memory.list_patterns(kind="tool_sequence", include_unserved=True)
        assert [p.id for p in again] == [listed[0].id]
        families = {p.family for p in memory.list_patterns(include_unserved=True, limit=500)
                    if isinstance(p, DecisionPoint | ContextPattern)}  # fmt: skip
        assert families <= {listed[0].key}


def test_the_best_choice_is_not_a_rare_step_that_happened_to_work() -> None:
    """After ``plan``: ``edit`` 27/30, ``guess`` 5/15, and a noise step 6/6. The decision is
    edit over guess; 6/6 is too few runs to be the best choice."""
    learner = PatternLearner("default")
    minute = 0
    for choice, ok, n in (("edit", 27, 30), ("guess", 5, 15), ("think", 6, 6)):
        for i in range(n):
            learner.observe(_episode(minute, "Fix the flaky test", ["plan", choice], ok=i < ok))
            minute += 1
    (point,) = [p for p in learner.all_patterns() if isinstance(p, DecisionPoint)]
    assert learner.is_served(point)
    assert (point.best, point.worst) == ("edit", "guess")


def test_one_stray_run_does_not_erase_the_familys_context() -> None:
    learner = PatternLearner("default")
    for i in range(20):
        learner.observe(_episode(i, "Refresh the revenue report", PROCEDURE))
    stray = _episode(30, "Refresh the revenue report", PROCEDURE).model_copy(
        update={"task_type": TaskType.RESEARCH}
    )
    learner.observe(stray)
    (family,) = _families(learner)
    assert family.members.n == 21
    assert family.context.task_type is TaskType.ANALYSIS
    assert (family.context.domain, family.context.language) == ("data", "sql")


def test_a_run_that_gave_up_after_its_first_step_joins_its_family() -> None:
    """Under ``legacy`` the first step fails and the agent gives up: those runs did only part
    of the task, so the family's tools they never reached do not count against them, and the
    effect of the tag is measured inside the family."""
    learner = PatternLearner("default")
    for i in range(12):
        learner.observe(_episode(i, f"Refresh the revenue report {i}", PROCEDURE))
    gave_up = _episode(20, "Rebuild the churn dashboard numbers", ["fetch_dataset"], ok=False)
    learner.observe(gave_up)
    (family,) = _families(learner)
    assert family.members.n == 13 and learner.family_of(gave_up) == family.key


def test_tasks_worded_alike_in_one_context_whose_work_differs_stay_two_families() -> None:
    # Both are support tickets about a customer's order, in one domain, task type and
    # language, and share two of their tools; what the successful runs do differs.
    support = TaskContext(domain="support", language="english")
    refund = ["read_ticket", "lookup_order", "check_refund_policy", "issue_refund",
              "reply_customer"]  # fmt: skip
    reset = ["read_ticket", "verify_identity", "reset_password", "reply_customer"]
    learner = PatternLearner("default")
    for i in range(8):
        for j, (text, tools) in enumerate((
            (f"Customer asks for a refund on order {1000 + i}", refund),
            (f"Password reset request from the customer of order {2000 + i}", reset),
        )):  # fmt: skip
            end = BASE + timedelta(minutes=2 * i + j)
            learner.observe(Episode(
                task_description=text, context=support, task_type=TaskType.OTHER,
                steps=[ExecutionStep(tool=t, observation="ok") for t in tools],
                start_time=end - timedelta(seconds=30), end_time=end,
                outcome=TaskOutcome.success("done"),
            ))  # fmt: skip
    families = sorted(_families(learner), key=lambda f: f.tools)
    assert [f.tools for f in families] == [refund, reset]
    assert [f.members.n for f in families] == [8, 8]
