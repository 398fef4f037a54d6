"""PatternLearner: error recoveries, error classes, pattern identity and provenance."""

from __future__ import annotations

from datetime import timedelta

from selfmem import TaskContext, TaskType
from selfmem.config import LearningConfig
from selfmem.learning import (
    ChoiceStats,
    ErrorRecovery,
    HeuristicKind,
    PatternKind,
    PatternLearner,
    derive_heuristic,
)
from selfmem.learning.error_classes import normalize_error
from selfmem.records.learned import MAX_PROVENANCE, stable_id

from .test_learner import (
    BASE,
    NS,
    Step,
    episode,
    families,
    observe_all,
    recovery,
)

# --- error recovery --------------------------------------------------------------------


def test_error_recovery_learns_the_recovery_that_works() -> None:
    learner = PatternLearner(NS)
    for i in range(3):
        error = f"connection refused on port {5400 + i}"
        learner.observe(episode([("migrate", error), "start_db", "migrate"], minute=i))
    pattern = recovery(learner, "migrate")
    assert pattern.key == "migrate|connection refused on port <n>"
    assert pattern.error_class == "connection refused on port <n>"
    assert pattern.recoveries == {"start_db": ChoiceStats(n=3, successes=3)}
    assert (pattern.best_recovery, pattern.best_mode) == ("start_db", "fix")
    assert pattern.support == 3 and pattern.recovered == 3 and pattern.unrecovered == 0
    assert learner.is_served(pattern)
    heuristic = derive_heuristic(pattern)
    assert heuristic.action == "run start_db, then retry migrate"
    assert heuristic.tools == ["start_db", "migrate"]


def test_a_direct_rerun_that_works_is_a_retry() -> None:
    learner = PatternLearner(NS)
    for i in range(3):
        learner.observe(episode([("fetch", f"timeout after {i + 1}s"), "fetch"], minute=i))
    pattern = recovery(learner, "fetch")
    assert pattern.recoveries == {"retry": ChoiceStats(n=3, successes=3)}
    assert pattern.best_mode == "retry"
    assert derive_heuristic(pattern).action == "retry fetch"


def test_a_recovery_that_fixed_the_error_the_one_time_it_was_tried_is_a_first_lead() -> None:
    learner = PatternLearner(NS)
    learner.observe(episode([("migrate", "refused"), "start_db", "migrate"], minute=0))
    pattern = recovery(learner, "migrate")
    assert (pattern.best_recovery, pattern.best_mode) == ("start_db", "fix")
    assert learner.is_served(pattern)
    assert 0.2 < pattern.confidence < 0.3  # one fix in one use: Wilson bound 0.21
    assert "start_db recovered it 1 of 1 times" in pattern.describe()
    learner.observe(episode([("migrate", "refused"), "start_db", "migrate"], minute=1))
    pattern = recovery(learner, "migrate")
    assert (pattern.best_recovery, pattern.best_mode) == ("start_db", "fix")
    assert pattern.confidence > 0.3  # two of two: trusted


def test_without_first_leads_a_recovery_is_served_once_two_of_two_uses_fixed_the_error() -> None:
    learner = PatternLearner(NS, config=LearningConfig(recovery_first_use=False))
    learner.observe(episode([("migrate", "refused"), "start_db", "migrate"], minute=0))
    pattern = recovery(learner, "migrate")
    assert pattern.best_recovery is None
    assert not learner.is_served(pattern)
    learner.observe(episode([("migrate", "refused"), "start_db", "migrate"], minute=1))
    pattern = recovery(learner, "migrate")
    assert (pattern.best_recovery, pattern.best_mode) == ("start_db", "fix")
    assert learner.is_served(pattern)


def test_of_steps_that_ran_together_before_the_fix_the_one_the_error_names_is_the_lead() -> None:
    learner = PatternLearner(NS)
    error = "precondition failed: build not signed"
    learner.observe(
        episode([("publish", error), "submit_review", "sign_build", "publish"], minute=0)
    )
    pattern = recovery(learner, "publish")
    assert (pattern.best_recovery, pattern.best_mode) == ("sign_build", "fix")
    assert learner.is_served(pattern)

    learner = PatternLearner(NS)
    error = "precondition failed: upstream not ready"
    learner.observe(
        episode([("publish", error), "submit_review", "sign_build", "publish"], minute=0)
    )
    pattern = recovery(learner, "publish")
    assert pattern.recoveries["submit_review"] == pattern.recoveries["sign_build"]
    assert pattern.confidence < 0.3  # a lead: one run can not tell which of the two fixed it


def test_a_first_lead_ranks_below_a_trusted_recovery_and_one_failed_use_takes_it_away() -> None:
    learner = PatternLearner(NS)
    for i in range(3):
        learner.observe(episode([("fetch", "timeout after 1s"), "fetch"], minute=i))
    learner.observe(episode([("fetch", "timeout after 2s"), "warm_cache", "fetch"], minute=3))
    pattern = recovery(learner, "fetch")
    assert pattern.recoveries["warm_cache"] == ChoiceStats(n=1, successes=1)
    assert pattern.best_mode == "retry"  # 3 of 3 is trusted, 1 of 1 only a lead

    learner = PatternLearner(NS)
    learner.observe(episode([("charge", "card declined"), "refresh_card", "charge"], minute=0))
    assert recovery(learner, "charge").best_recovery == "refresh_card"
    learner.observe(
        episode(
            [("charge", "card declined"), "refresh_card", ("charge", "card declined")],
            success=False,
            minute=1,
        )
    )
    pattern = recovery(learner, "charge")
    assert pattern.recoveries["refresh_card"] == ChoiceStats(n=2, successes=1)
    assert pattern.best_recovery is None


def test_recovery_confidence_counts_recoveries_not_episode_outcomes() -> None:
    learner = PatternLearner(NS)
    for i in range(28):
        tools: list[Step] = [("migrate", "connection refused"), "start_db", "migrate", "deploy"]
        learner.observe(episode(tools, success=i < 13, minute=i))
    pattern = recovery(learner, "migrate")
    assert (pattern.support, pattern.successes) == (28, 13)
    assert pattern.recoveries == {"start_db": ChoiceStats(n=28, successes=28)}
    assert pattern.best_recovery == "start_db"
    assert pattern.confidence > 0.85
    assert learner.is_served(pattern)
    assert "start_db recovered it 28 of 28 times" in pattern.describe()
    heuristic = derive_heuristic(pattern)
    assert (heuristic.evidence, heuristic.successes) == (28, 28)


def test_a_step_after_which_every_run_failed_is_no_fix_the_tool_worked_when_run_again() -> None:
    # a transient timeout: the agent ran a destructive step, then the charge went through,
    # and every such run failed at the end
    learner = PatternLearner(NS)
    destructive: list[Step] = [
        ("charge", "gateway timeout after 300 ms"), "wipe_ledger", "charge",
        ("verify", "12 records inconsistent"),
    ]  # fmt: skip
    for i in range(3):
        learner.observe(episode(destructive, success=False, minute=i))
    pattern = recovery(learner, "charge")
    assert pattern.recoveries == {"wipe_ledger": ChoiceStats(n=3, successes=3)}
    assert pattern.fix_runs == {"wipe_ledger": ChoiceStats(n=3, successes=0)}
    assert pattern.harmful == ["wipe_ledger"]
    assert (pattern.best_recovery, pattern.best_mode) == ("retry", "retry")
    assert learner.is_served(pattern)
    assert pattern.describe() == (
        "when charge fails with 'gateway timeout after <n> ms', retry recovered it 3 of 3 "
        "times; do not run wipe_ledger first: every run that did failed"
    )
    heuristic = derive_heuristic(pattern)
    assert heuristic.action == "retry charge"
    assert (heuristic.evidence, heuristic.successes) == (3, 3)

    # once a run that used it succeeds, it is a fix again
    learner.observe(episode([*destructive[:3], "verify"], minute=3))
    pattern = recovery(learner, "charge")
    assert pattern.harmful == []
    assert (pattern.best_recovery, pattern.best_mode) == ("wipe_ledger", "fix")


def test_best_recovery_prefers_the_better_fix_rate_over_the_more_frequent_tool() -> None:
    # "lint" runs after every failure and fixes nothing by itself; "clean" is the real fix
    learner = PatternLearner(NS)
    for i in range(10):
        if i < 5:
            tools: list[Step] = [("build", "linker error"), "lint", "clean", "build"]
        else:
            tools = [("build", "linker error"), "lint", ("build", "linker error")]
        learner.observe(episode(tools, success=i < 5, minute=i))
    pattern = recovery(learner, "build")
    assert pattern.recoveries["lint"] == ChoiceStats(n=10, successes=5)
    assert pattern.recoveries["clean"] == ChoiceStats(n=5, successes=5)
    assert pattern.recoveries["retry"] == ChoiceStats(n=5, successes=0)
    assert (pattern.recovered, pattern.unrecovered) == (5, 5)
    assert pattern.best_recovery == "clean"


def test_of_fixes_that_worked_as_well_the_one_the_error_names_is_the_best() -> None:
    """A page published before the build was signed: the agent then signed the build and
    submitted it for certification, and the page went through. Both steps came between the
    error and the call that worked, every time; the message says which one was missing."""
    learner = PatternLearner(NS)
    for i in range(4):
        early = ("publish_store_page", "precondition failed: build not signed")
        tools: list[Step] = ["fetch_build", early, "sign_build", "submit_certification"]
        learner.observe(episode([*tools, "publish_store_page"], minute=i))
    pattern = recovery(learner, "publish_store_page")
    assert pattern.recoveries["sign_build"] == pattern.recoveries["submit_certification"]
    assert (pattern.best_mode, pattern.best_recovery) == ("fix", "sign_build")


def test_a_replacement_is_learned_when_another_tool_takes_the_failing_ones_place() -> None:
    learner = PatternLearner(NS)
    for i in range(5):
        tools: list[Step] = ["build", ("deploy_service", "410 gone, use helm"), "helm_upgrade"]
        learner.observe(episode(tools, minute=i))
    pattern = recovery(learner, "deploy_service")
    assert pattern.replacements == {"helm_upgrade": ChoiceStats(n=5, successes=5)}
    assert pattern.recoveries == {}
    assert (pattern.best_recovery, pattern.best_mode) == ("helm_upgrade", "replace")
    assert learner.is_served(pattern)
    assert "using helm_upgrade instead got the task done in 5 runs" in pattern.describe()
    heuristic = derive_heuristic(pattern)
    assert heuristic.kind is HeuristicKind.RECOVER
    assert heuristic.action == "run helm_upgrade instead of deploy_service"
    assert heuristic.tools == ["helm_upgrade"]
    assert heuristic.trigger.tool == "deploy_service"
    assert heuristic.trigger.error_class == pattern.error_class


def test_a_tool_used_before_the_error_is_not_a_replacement() -> None:
    learner = PatternLearner(NS)
    for i in range(5):
        tools: list[Step] = ["status", ("deploy_service", "timeout"), "status"]
        learner.observe(episode(tools, minute=i))
    pattern = recovery(learner, "deploy_service")
    assert pattern.replacements == {}
    assert pattern.unrecovered == 5


def test_an_error_nothing_fixed_is_served_as_having_no_known_recovery() -> None:
    learner = PatternLearner(NS)
    for i in range(5):
        tools: list[Step] = ["build", ("deploy", "health check failed"), "restart_pod",
                             ("deploy", "health check failed")]  # fmt: skip
        learner.observe(episode(tools, success=False, minute=i))
    pattern = recovery(learner, "deploy")
    assert pattern.best_recovery is None
    assert pattern.recoveries == {
        "retry": ChoiceStats(n=5, successes=0), "restart_pod": ChoiceStats(n=5, successes=0)
    }
    assert pattern.unrecovered == 5
    assert "has no known recovery (5 of 5 episodes never got past it)" in pattern.describe()
    assert learner.is_served(pattern)
    heuristic = derive_heuristic(pattern)
    assert heuristic.kind is HeuristicKind.AVOID


def _retried_in_vain(learner: PatternLearner, tools: list[str]) -> int:
    """Four failed episodes per tool in which it met "precondition not met" twice; returns
    the minute after the last."""
    minute = 0
    for tool in tools:
        for _ in range(4):
            error = (tool, "precondition not met")
            learner.observe(episode(["plan", error, error], success=False, minute=minute))
            minute += 1
    return minute


def test_an_error_many_tools_raise_says_no_known_recovery_for_none_of_them() -> None:
    """"precondition not met" from five different tools, each retried in vain, is the state
    of the task (a tool called out of turn), not five broken tools: none is served as
    having no known recovery, while "health check failed" of one tool still is. With four
    tools raising it, it is still each tool's own."""
    for count, served in ((4, True), (5, False)):
        learner = PatternLearner(NS)
        tools = ["deploy", "build", "migrate", "notify", "scale"][:count]
        minute = _retried_in_vain(learner, tools)
        for _ in range(4):
            failing = ("verify", "health check failed")
            learner.observe(episode(["plan", failing, failing], success=False, minute=minute))
            minute += 1
        assert learner.is_served(recovery(learner, "verify"))
        assert learner.is_served(recovery(learner, "deploy")) is served


def test_a_tool_called_out_of_turn_is_fixed_by_its_prerequisite_never_replaced() -> None:
    """Once "precondition not met" is known as a state error (five tools raised it: three
    others, ``refund`` and ``deploy``), a run that called ``refund`` too early, ran
    ``verify`` and then ``refund`` again shows a prerequisite (served as a fix); one that
    went on with ``notify`` instead of ``deploy`` does not show that ``notify`` replaces
    ``deploy`` (not served). With four tools raising it, the replacement is served."""
    for count, replaced in ((2, True), (3, False)):
        learner = PatternLearner(NS)
        minute = _retried_in_vain(learner, ["build", "migrate", "scale", "rotate", "page"][:count])
        for _ in range(3):
            early = ("refund", "precondition not met")
            learner.observe(episode(["plan", early, "verify", "refund"], minute=minute))
            out_of_turn = ("deploy", "precondition not met")
            learner.observe(episode(["plan", out_of_turn, "notify"], minute=minute + 1))
            minute += 2
        fix = recovery(learner, "refund")
        assert (fix.best_mode, fix.best_recovery) == ("fix", "verify") and learner.is_served(fix)
        replacement = recovery(learner, "deploy")
        assert (replacement.best_mode, replacement.best_recovery) == ("replace", "notify")
        assert learner.is_served(replacement) is replaced


def test_calls_that_failed_themselves_get_no_credit_for_a_recovery() -> None:
    # An agent looking for a way out tries tools that do not apply (they fail) before the
    # one that fixes the error: only the call that worked is the recovery.
    learner = PatternLearner(NS)
    for i in range(5):
        tools: list[Step] = [
            ("pip_install", "ResolutionImpossible: numpy==2.1 requires Python>=3.12"),
            ("read_file", "precondition failed"), ("run_linter", "precondition failed"),
            "pin_versions", "pip_install", "run_tests",
        ]  # fmt: skip
        learner.observe(episode(tools, minute=i))
    pattern = recovery(learner, "pip_install")
    assert pattern.recoveries == {"pin_versions": ChoiceStats(n=5, successes=5)}
    assert pattern.best_recovery == "pin_versions"


def test_no_known_recovery_needs_most_of_enough_episodes_unrecovered() -> None:
    learner = PatternLearner(NS)
    for i in range(3):
        tools: list[Step] = [("deploy", "health check failed"), ("deploy", "health check failed")]
        learner.observe(episode(tools, success=False, minute=i))
    assert recovery(learner, "deploy").unrecovered == 3
    # 3 of 3 is too few to say "most" with confidence
    assert not learner.is_served(recovery(learner, "deploy"))


def test_runs_that_stopped_at_an_error_do_not_make_it_unrecoverable() -> None:
    # Nothing was tried after the error: the runs gave up, which says nothing about whether
    # a retry or another tool would work. Rare errors a few runs stopped at stay unserved.
    learner = PatternLearner(NS)
    for i in range(8):
        learner.observe(
            episode(["build", ("deploy", "health check failed")], success=False, minute=i)
        )
    pattern = recovery(learner, "deploy")
    assert pattern.unrecovered == 8 and pattern.recoveries == {}
    assert not learner.is_served(pattern)


def test_failed_retries_count_against_retrying() -> None:
    learner = PatternLearner(NS)
    for i in range(5):
        tools: list[Step] = [("deploy", "quota exceeded"), ("deploy", "quota exceeded")]
        learner.observe(episode(tools, success=False, minute=i))
    pattern = recovery(learner, "deploy")
    assert pattern.recoveries == {"retry": ChoiceStats(n=5, successes=0)}
    assert pattern.best_recovery is None
    assert learner.is_served(pattern)  # as "no known recovery"


# --- error classes ---------------------------------------------------------------------


def test_pinned_packages_in_one_message_template_give_one_error_class() -> None:
    first = normalize_error("Could not install requests==2.4.1: no matching distribution")
    second = normalize_error("Could not install pydantic==5.0: no matching distribution")
    assert first == second
    assert "requests" not in first and "2.4.1" not in first


def test_versions_of_different_lengths_normalise_the_same() -> None:
    forms = [
        normalize_error(f"node version {v} is not supported")
        for v in ("1.2", "1.2.3", "v10.24.1", "2.0.0-rc1", "1.2.3.4")
    ]
    assert len(set(forms)) == 1
    assert normalize_error("Timeout after 30s reading '/tmp/x'") == (
        "timeout after <n> reading <str>"
    )


def test_errors_that_differ_only_in_packages_share_one_recovery() -> None:
    learner = PatternLearner(NS)
    for i, pin in enumerate(["requests==2.4.1", "pydantic==5.0", "left-pad@1.3.0"]):
        tools: list[Step] = [("install", f"could not resolve {pin}"), "update_lockfile", "install"]
        learner.observe(episode(tools, minute=i))
    pattern = recovery(learner, "install")
    assert pattern.support == 3
    assert learner.is_served(pattern)


# --- identity, provenance and context --------------------------------------------------


def test_identical_situations_merge_into_one_record() -> None:
    learner = PatternLearner(NS)
    ids: set[str] = set()
    for i in range(4):
        error = f"timeout after {i + 1}s"
        changed = learner.observe(episode([("fetch", error), "fetch"], minute=i))
        ids.update(p.id for p in changed if isinstance(p, ErrorRecovery))
    expected = stable_id(NS, "error_recovery", "fetch|timeout after <n>")
    assert ids == {expected}
    pattern = learner.get(expected)
    assert isinstance(pattern, ErrorRecovery)
    assert pattern.support == 4
    assert pattern.recoveries == {"retry": ChoiceStats(n=4, successes=4)}
    all_ids = [p.id for p in learner.all_patterns()]
    assert len(all_ids) == len(set(all_ids))


def test_pattern_ids_are_stable_across_learners_and_differ_by_namespace() -> None:
    episodes = [episode(["plan", ("fetch", "timeout"), "fetch"], minute=i) for i in range(3)]
    first, second, other = PatternLearner(NS), PatternLearner(NS), PatternLearner("elsewhere")
    for learner in (first, second, other):
        observe_all(learner, episodes)
    assert {p.id for p in first.all_patterns()} == {p.id for p in second.all_patterns()}
    assert {p.key for p in first.all_patterns()} == {p.key for p in other.all_patterns()}
    assert not {p.id for p in first.all_patterns()} & {p.id for p in other.all_patterns()}


def test_error_recoveries_are_global_across_families() -> None:
    learner = PatternLearner(NS)
    learner.observe(episode([("fetch", "timeout"), "fetch", "parse"], task="Scrape the prices"))
    learner.observe(
        episode(
            ["plan", ("fetch", "timeout"), "fetch"],
            task="Download the weekly report",
            context=TaskContext(domain="reports"),
        )
    )
    assert len(families(learner)) == 2
    assert recovery(learner, "fetch").support == 2


def test_observe_returns_each_changed_pattern_once() -> None:
    learner = PatternLearner(NS)
    changed = learner.observe(episode(["a", "b", "a", "c", ("d", "x")]))
    ids = [p.id for p in changed]
    assert len(ids) == len(set(ids))
    assert {p.kind for p in changed} == set(PatternKind)


def test_provenance_is_capped_to_the_most_recent_episodes() -> None:
    learner = PatternLearner(NS)
    episodes = [
        episode([("fetch", "timeout"), "fetch"], minute=i) for i in range(MAX_PROVENANCE + 7)
    ]
    observe_all(learner, episodes)
    pattern = recovery(learner, "fetch")
    assert pattern.support == MAX_PROVENANCE + 7
    assert pattern.episode_ids == [ep.id for ep in episodes[-MAX_PROVENANCE:]]


def test_pattern_context_is_the_intersection_of_its_episodes() -> None:
    learner = PatternLearner(NS)
    first = TaskContext(domain="web", language="python", tags=["api", "auth"])
    second = TaskContext(domain="cli", language="python", tags=["auth", "db"])
    learner.observe(episode([("fetch", "timeout"), "fetch"], context=first, minute=0))
    pattern = recovery(learner, "fetch")
    assert pattern.context.domain == "web" and pattern.context.tags == ["api", "auth"]
    learner.observe(
        episode(
            [("fetch", "timeout"), "fetch"], context=second, task_type=TaskType.TESTING, minute=1
        )
    )
    assert pattern.context.domain is None
    assert pattern.context.language == "python"
    assert pattern.context.task_type is None
    assert pattern.context.tags == ["auth"]


def test_first_and_last_seen_follow_episode_end_times() -> None:
    learner = PatternLearner(NS)
    learner.observe(episode([("fetch", "timeout"), "fetch"], minute=5))
    learner.observe(episode([("fetch", "timeout"), "fetch"], minute=2))  # arrives late
    pattern = recovery(learner, "fetch")
    assert pattern.first_seen == BASE + timedelta(minutes=5)
    assert pattern.last_seen == BASE + timedelta(minutes=5)
    learner.observe(episode([("fetch", "timeout"), "fetch"], minute=9))
    assert pattern.last_seen == BASE + timedelta(minutes=9)


def test_a_step_after_which_the_tool_failed_again_fixed_nothing() -> None:
    # refresh_token used to fix the expired token; now the deploy fails again after it and
    # only rotate_key fixes it. refresh_token is counted as tried in vain, not as a fix
    # (both used to be credited), so rotate_key takes its place.
    learner = PatternLearner(NS)
    expired = ("deploy", "token expired")
    for i in range(6):
        learner.observe(episode(["build", expired, "refresh_token", "deploy"], minute=i))
    pattern = recovery(learner, "deploy")
    assert pattern.best_recovery == "refresh_token"
    for i in range(6, 12):
        learner.observe(episode(
            ["build", expired, "refresh_token", expired, "rotate_key", "deploy"], minute=i
        ))  # fmt: skip
    stats = pattern.recoveries["refresh_token"]
    assert (stats.n, stats.successes) == (12, 6)
    assert (pattern.best_recovery, pattern.best_mode) == ("rotate_key", "fix")
    assert learner.is_served(pattern)
