"""PatternLearner: episodes built by hand in, patterns and serving decisions out (no storage)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from selfmem import Episode, ExecutionStep, RewardScore, TaskContext, TaskOutcome, TaskType
from selfmem.learning import (
    AnyPattern,
    ChoiceStats,
    ContextPattern,
    DecisionPoint,
    ErrorRecovery,
    HeuristicKind,
    LearningConfig,
    PatternKind,
    PatternLearner,
    ToolSequence,
    derive_heuristic,
)
from selfmem.learning.error_classes import normalize_error
from selfmem.learning.significance import difference_p
from selfmem.records.episodes import utc_now
from selfmem.records.learned import MAX_PROVENANCE, pattern_adapter, stable_id

NS = "tests"
BASE = utc_now() - timedelta(hours=1)
WEB = TaskContext(domain="web", language="python")
OPS = TaskContext(domain="ops")
TASK = "Fix the failing build"

Step = str | tuple[str, str]  # a tool that succeeds, or (tool, error)


def episode(
    tools: list[Step],
    *,
    success: bool = True,
    context: TaskContext = WEB,
    task: str = TASK,
    task_type: TaskType = TaskType.DEBUGGING,
    minute: int = 0,
    duration_s: float = 10.0,
    reward: float | None = None,
    latency_ms: float = 0.0,
    tags: list[str] | None = None,
) -> Episode:
    """A completed episode ending ``minute`` minutes after BASE."""
    steps = [
        ExecutionStep(tool=t[0], error=t[1], latency_ms=latency_ms)
        if isinstance(t, tuple)
        else ExecutionStep(tool=t, observation=f"{t} ok", latency_ms=latency_ms)
        for t in tools
    ]
    if tags is not None:
        context = context.model_copy(update={"tags": tags})
    end = BASE + timedelta(minutes=minute)
    return Episode(
        namespace=NS,
        task_description=task,
        context=context,
        task_type=task_type,
        start_time=end - timedelta(seconds=duration_s),
        end_time=end,
        steps=steps,
        outcome=TaskOutcome.success("ok") if success else TaskOutcome.failure("broken"),
        reward=None if reward is None else RewardScore(total=reward, base=1.0 if success else 0),
    )


def observe_all(learner: PatternLearner, episodes: list[Episode]) -> None:
    for ep in episodes:
        learner.observe(ep)


def families(learner: PatternLearner) -> list[ToolSequence]:
    return [p for p in learner.all_patterns() if isinstance(p, ToolSequence)]


def sequences(learner: PatternLearner) -> list[ToolSequence]:
    """Families that have a shared tool sequence."""
    return [p for p in families(learner) if p.tools]


def decision(learner: PatternLearner, after: str) -> DecisionPoint:
    found = [p for p in learner.all_patterns() if isinstance(p, DecisionPoint)]
    matches = [p for p in found if p.after_tool == after]
    assert len(matches) == 1
    return matches[0]


def recovery(learner: PatternLearner, tool: str) -> ErrorRecovery:
    found = [p for p in learner.all_patterns() if isinstance(p, ErrorRecovery) and p.tool == tool]
    assert len(found) == 1
    return found[0]


def context_pattern(
    learner: PatternLearner, feature: str, tool: str, measure: str = "outcome"
) -> ContextPattern:
    found = [
        p
        for p in learner.all_patterns()
        if isinstance(p, ContextPattern)
        and p.feature == feature
        and p.tool == tool
        and p.measure == measure
    ]
    assert len(found) == 1
    return found[0]


def served_comparisons(learner: PatternLearner) -> list[AnyPattern]:
    return [
        *learner.patterns(PatternKind.DECISION_POINT),
        *learner.patterns(PatternKind.CONTEXT_PATTERN),
    ]


# --- task families ---------------------------------------------------------------------


def test_an_episode_starts_a_family_keyed_by_its_id_and_alike_tasks_join_it() -> None:
    learner = PatternLearner(NS)
    first = episode(["search", "read", "edit"], minute=0)
    learner.observe(first)
    (family,) = families(learner)
    assert family.key == f"family:{first.id}"
    assert family.sample_task == TASK
    later = [episode(["search", "read", "edit"], minute=i) for i in range(1, 4)]
    observe_all(learner, later)
    assert families(learner) == [family]
    assert family.members == ChoiceStats(n=4, successes=4)
    assert learner.family_of(later[-1]) == family.key
    assert learner.family_episode_ids(family.key) == [first.id, *(ep.id for ep in later)]


def test_two_kinds_of_task_in_one_context_become_two_families_with_their_own_sequences() -> None:
    learner = PatternLearner(NS)
    deploy = ["build", "push_image", "deploy"]
    fix = ["read_file", "edit_file", "run_tests"]
    for i in range(4):
        learner.observe(episode(deploy, task="Deploy the api service to staging", minute=i))
        learner.observe(episode(fix, task="Fix the failing unit test in the parser", minute=i))
    found = sequences(learner)
    assert len(found) == 2
    assert sorted(s.tools for s in found) == sorted([deploy, fix])
    assert all(learner.is_served(s) for s in found)
    assert {s.sample_task for s in found} == {
        "Deploy the api service to staging",
        "Fix the failing unit test in the parser",
    }


def test_paraphrases_of_one_task_with_the_same_tools_join_one_family() -> None:
    learner = PatternLearner(NS)
    paraphrases = [
        "Fix the failing login test",
        "The login test fails, repair it",
        "Repair the broken test for login",
        "login test is red: fix it",
        "Make the failing login tests pass again",
    ]
    tools = ["read_file", "edit_file", "run_tests"]
    observe_all(learner, [episode(tools, task=t, minute=i) for i, t in enumerate(paraphrases)])
    (family,) = families(learner)
    assert family.members.n == len(paraphrases)
    assert family.tools == tools
    assert learner.is_served(family)


def test_family_of_finds_the_family_without_learning_from_the_episode() -> None:
    learner = PatternLearner(NS)
    observe_all(learner, [episode(["a", "b", "c"], minute=i) for i in range(3)])
    (family,) = families(learner)
    before = family.model_dump()
    probe = episode(["a", "b", "c"], minute=10)
    assert learner.family_of(probe) == family.key
    assert family.model_dump() == before
    unrelated = episode(["x", "y"], task="Write release notes", context=TaskContext(domain="docs"))
    assert learner.family_of(unrelated) is None


# --- tool sequences --------------------------------------------------------------------


def test_sequence_is_the_consensus_of_successful_runs_without_noise_tools() -> None:
    learner = PatternLearner(NS)
    first = episode(["search", "read", "edit", "test"], minute=0)
    observe_all(
        learner,
        [
            first,
            episode(["search", "browse", "read", "edit", "test"], minute=1),
            episode(["search", "read", "edit", "ask", "test"], minute=2),
            episode(["search", "read", "edit", "test", "commit"], minute=3),
            episode(["search", "read", "edit", "test"], minute=4),
        ],
    )
    (sequence,) = sequences(learner)
    assert sequence.tools == ["search", "read", "edit", "test"]
    assert sequence.key == f"family:{first.id}"
    assert sequence.support == 5 and sequence.successes == 5
    assert learner.is_served(sequence)


def test_sequence_order_comes_from_mean_positions_not_first_appearance() -> None:
    learner = PatternLearner(NS)
    observe_all(
        learner,
        [
            episode(["lint", "test"], minute=0),  # fmt missing here, so seen last
            episode(["fmt", "lint", "test"], minute=1),
            episode(["fmt", "lint", "test"], minute=2),
            episode(["fmt", "lint", "test"], minute=3),
            episode(["fmt", "lint", "test"], minute=4),
        ],
    )
    (sequence,) = sequences(learner)
    assert sequence.tools == ["fmt", "lint", "test"]


def test_tools_below_the_frequency_threshold_are_left_out() -> None:
    # "fmt" is in 2 of 4 successful runs: below the 0.6 frequency threshold
    learner = PatternLearner(NS)
    observe_all(
        learner,
        [
            episode(["fmt", "lint", "test"], minute=0),
            episode(["fmt", "lint", "test"], minute=1),
            episode(["lint", "test"], minute=2),
            episode(["lint", "test"], minute=3),
        ],
    )
    (sequence,) = sequences(learner)
    assert sequence.tools == ["lint", "test"]


def test_a_tool_used_twice_in_every_run_appears_twice_in_the_sequence() -> None:
    learner = PatternLearner(NS)
    observe_all(learner, [episode(["test", "edit", "test"], minute=i) for i in range(3)])
    (sequence,) = sequences(learner)
    assert sequence.tools == ["test", "edit", "test"]


def test_a_sequence_needs_min_support_successful_runs() -> None:
    learner = PatternLearner(NS)
    failures = [episode(["a", "b", "c"], success=False, minute=i) for i in range(5)]
    observe_all(learner, failures)
    observe_all(learner, [episode(["a", "b", "c"], minute=10), episode(["a", "b", "c"], minute=11)])
    assert sequences(learner) == []
    changed = learner.observe(episode(["a", "b", "c"], minute=12))
    (sequence,) = sequences(learner)
    assert sequence in changed
    assert sequence.tools == ["a", "b", "c"]
    # failures that followed the same sequence count against it
    assert sequence.support == 8 and sequence.successes == 3
    assert not learner.is_served(sequence)


def test_sequence_threshold_follows_config() -> None:
    learner = PatternLearner(NS, LearningConfig(min_support=5))
    observe_all(learner, [episode(["a", "b"], minute=i) for i in range(4)])
    assert sequences(learner) == []
    learner.observe(episode(["a", "b"], minute=5))
    assert len(sequences(learner)) == 1


def test_sequence_is_served_with_enough_support_and_confidence() -> None:
    learner = PatternLearner(NS)
    observe_all(learner, [episode(["a", "b", "c"], minute=i) for i in range(3)])
    (sequence,) = sequences(learner)
    assert sequence.confidence == pytest.approx(0.4385, abs=1e-4)
    assert learner.is_served(sequence)
    assert learner.patterns(PatternKind.TOOL_SEQUENCE) == [sequence]
    assert "a -> b -> c" in sequence.describe()
    assert derive_heuristic(sequence).action == "follow a -> b -> c"


def test_sequence_that_fails_in_most_runs_is_not_served() -> None:
    learner = PatternLearner(NS)
    observe_all(learner, [episode(["a", "b", "c"], minute=i) for i in range(3)])
    observe_all(learner, [episode(["a", "b", "c"], success=False, minute=5 + i) for i in range(7)])
    (sequence,) = sequences(learner)
    assert (sequence.support, sequence.successes) == (10, 3)
    assert sequence.confidence < learner.config.sequence_min_confidence
    assert not learner.is_served(sequence)
    assert learner.patterns(PatternKind.TOOL_SEQUENCE) == []
    assert learner.patterns(PatternKind.TOOL_SEQUENCE, served_only=False) == [sequence]


def test_the_way_a_hard_task_is_done_is_served_though_it_works_half_the_time() -> None:
    # every run follows the procedure and half of them fail for reasons of their own: the
    # procedure is still the one to follow, shown with its success rate
    learner = PatternLearner(NS)
    runs = [episode(["a", "b", "c"], success=i % 2 == 0, minute=i) for i in range(20)]
    observe_all(learner, runs)
    (sequence,) = sequences(learner)
    assert (sequence.support, sequence.successes) == (20, 10)
    assert learner.is_served(sequence)
    assert sequence.tools == ["a", "b", "c"]


def test_single_tool_consensus_is_not_a_sequence() -> None:
    learner = PatternLearner(NS)
    observe_all(learner, [episode(["edit"], minute=i) for i in range(5)])
    (family,) = families(learner)
    assert family.tools == [] and family.members.n == 5
    assert not learner.is_served(family)


def test_sequence_averages_cover_every_supporting_episode() -> None:
    learner = PatternLearner(NS)
    observe_all(
        learner,
        [episode(["a", "b", "c"], minute=i, reward=1.0, latency_ms=100.0) for i in range(3)],
    )
    (sequence,) = sequences(learner)
    assert sequence.support == 3
    assert sequence.avg_reward == pytest.approx(1.0)
    assert sequence.avg_latency_ms == pytest.approx(300.0)


def test_after_a_procedure_change_the_old_sequence_stops_and_the_new_one_is_served() -> None:
    learner = PatternLearner(NS)
    cfg = learner.config
    old, new = ["checkout", "deploy_service", "verify"], ["checkout", "helm_upgrade", "verify"]
    observe_all(learner, [episode(old, minute=i) for i in range(10)])
    (family,) = families(learner)
    assert family.tools == old and learner.is_served(family)

    # the served sequence's runs start failing: no longer served within change_min_failures
    stopped_after = None
    for i in range(cfg.change_min_failures):
        learner.observe(episode(old, success=False, minute=20 + i))
        if not learner.is_served(family):
            stopped_after = i + 1
            break
    assert stopped_after is not None and stopped_after <= cfg.change_min_failures
    assert families(learner) == [family]

    # a new procedure succeeds: served after min_support successes, and it is the new one
    for i in range(cfg.min_support):
        assert not (learner.is_served(family) and family.tools == old)
        learner.observe(episode(new, minute=30 + i))
    assert families(learner) == [family]
    assert family.tools == new
    assert not family.stale
    assert (family.support, family.successes) == (cfg.min_support, cfg.min_support)
    assert learner.is_served(family)


def test_a_single_failure_of_a_working_sequence_is_not_a_procedure_change() -> None:
    learner = PatternLearner(NS)
    observe_all(learner, [episode(["a", "b", "c"], minute=i) for i in range(10)])
    learner.observe(episode(["a", "b", "c"], success=False, minute=10))
    learner.observe(episode(["a", "b", "c"], minute=11))
    (sequence,) = sequences(learner)
    assert not sequence.stale
    assert (sequence.support, sequence.successes) == (12, 11)
    assert learner.is_served(sequence)


# --- decision points -------------------------------------------------------------------


def plan_then(learner: PatternLearner, edit: tuple[int, int], guess: tuple[int, int]) -> None:
    """``plan`` followed by ``edit`` (successes, runs) and by ``guess`` (successes, runs)."""
    ok, n = edit
    observe_all(learner, [episode(["plan", "edit"], success=i < ok, minute=i) for i in range(n)])
    ok, n = guess
    observe_all(
        learner, [episode(["plan", "guess"], success=i < ok, minute=100 + i) for i in range(n)]
    )


def test_decision_point_names_best_and_worst_when_the_difference_is_a_discovery() -> None:
    learner = PatternLearner(NS)
    plan_then(learner, edit=(6, 6), guess=(0, 6))
    point = decision(learner, "plan")
    (family,) = families(learner)
    assert point.key == f"{family.key}|plan" and point.family == family.key
    assert point.choices == {
        "edit": ChoiceStats(n=6, successes=6),
        "guess": ChoiceStats(n=6, successes=0),
    }
    assert learner.is_served(point)
    assert (point.best, point.worst) == ("edit", "guess")
    assert point.support == 12 and point.successes == 6
    assert point.p_value == pytest.approx(difference_p(6, 6, 0, 6))
    assert derive_heuristic(point).action == "run edit rather than guess"


def test_decision_point_needs_a_significant_difference() -> None:
    # 5/5 vs 2/5: a large effect (0.6), but Fisher's p = 0.17
    learner = PatternLearner(NS)
    plan_then(learner, edit=(5, 5), guess=(2, 5))
    point = decision(learner, "plan")
    assert point.choices["guess"] == ChoiceStats(n=5, successes=2)
    assert difference_p(5, 5, 2, 5) > learner.config.fdr_q
    assert not learner.is_served(point)


def test_decision_point_needs_a_large_enough_effect() -> None:
    # 95/100 vs 80/100: significant (p < 0.05) but only 0.15 apart (the minimum is 0.2)
    learner = PatternLearner(NS)
    plan_then(learner, edit=(95, 100), guess=(80, 100))
    point = decision(learner, "plan")
    assert point.choices["edit"].n == 100 and point.choices["guess"].n == 100
    assert difference_p(95, 100, 80, 100) < learner.config.fdr_q
    assert not learner.is_served(point)
    assert point.p_value < learner.config.fdr_q  # tested, counted, but too small to serve


def test_decision_point_is_not_served_when_choices_are_similar() -> None:
    learner = PatternLearner(NS)
    plan_then(learner, edit=(8, 10), guess=(8, 10))
    assert not learner.is_served(decision(learner, "plan"))


def test_decision_point_needs_min_arm_support_runs_per_choice() -> None:
    learner = PatternLearner(NS)
    arm = learner.config.min_arm_support
    plan_then(learner, edit=(arm, arm), guess=(0, arm - 1))
    point = decision(learner, "plan")
    assert not learner.is_served(point)
    assert point.best is None
    learner.observe(episode(["plan", "guess"], success=False, minute=200))
    assert learner.is_served(point)
    assert (point.best, point.worst) == ("edit", "guess")


def test_a_step_after_a_failed_call_is_a_recovery_not_a_choice() -> None:
    learner = PatternLearner(NS)
    learner.observe(episode([("plan", "timeout"), "guess", "edit"]))
    assert [p for p in learner.all_patterns() if isinstance(p, DecisionPoint)] == [
        decision(learner, "guess")
    ]


def test_a_real_choice_effect_of_0_3_is_found_at_500_episodes() -> None:
    rng = random.Random(11)
    learner = PatternLearner(NS)
    for i in range(500):
        choice = "edit" if rng.random() < 0.5 else "guess"
        rate = 0.8 if choice == "edit" else 0.5
        tools = ["plan", choice, "run_tests"]
        learner.observe(episode(tools, success=rng.random() < rate, minute=i))
    point = decision(learner, "plan")
    assert learner.is_served(point)
    assert (point.best, point.worst) == ("edit", "guess")
    assert point in learner.patterns(PatternKind.DECISION_POINT)


# --- context patterns ------------------------------------------------------------------


def backup_under_legacy(
    learner: PatternLearner,
    *,
    legacy: tuple[int, int, int, int] = (8, 8, 0, 8),
    modern: tuple[int, int, int, int] = (6, 8, 6, 8),
) -> None:
    """One family; counts are (successes, runs) with ``backup`` then without it, for runs
    tagged ``legacy`` and for untagged runs."""
    minute = 0
    for tags, (ok_with, n_with, ok_without, n_without) in ((["legacy"], legacy), ([], modern)):
        for with_backup, ok, n in ((True, ok_with, n_with), (False, ok_without, n_without)):
            tools = ["checkout", "backup", "migrate"] if with_backup else ["checkout", "migrate"]
            for i in range(n):
                learner.observe(episode(tools, success=i < ok, tags=tags, minute=minute))
                minute += 1


def test_context_pattern_a_tool_that_helps_under_a_feature() -> None:
    learner = PatternLearner(NS)
    backup_under_legacy(learner)
    (family,) = families(learner)
    pattern = context_pattern(learner, "tag=legacy", "backup")
    assert pattern.key == f"{family.key}|tag=legacy|backup"
    assert learner.is_served(pattern)
    assert pattern.association == "success"
    assert (pattern.support, pattern.successes) == (8, 8)
    assert pattern.baseline == ChoiceStats(n=8, successes=0)
    assert pattern.other_with == ChoiceStats(n=8, successes=6)
    assert pattern.other_without == ChoiceStats(n=8, successes=6)
    assert "backup succeeded 8/8 times versus 0/8 without it" in pattern.describe()
    heuristic = derive_heuristic(pattern)
    assert heuristic.kind is HeuristicKind.PREFER
    assert heuristic.action == "use backup"
    assert heuristic.trigger.feature == "tag=legacy"


def test_context_pattern_is_not_served_when_the_tool_helps_as_much_without_the_feature() -> None:
    learner = PatternLearner(NS)
    backup_under_legacy(learner, legacy=(8, 8, 0, 8), modern=(8, 8, 0, 8))
    pattern = context_pattern(learner, "tag=legacy", "backup")
    assert not learner.is_served(pattern)  # the effect is the tool's, not the feature's
    assert pattern.baseline == ChoiceStats(n=8, successes=0)
    assert pattern.other_with == ChoiceStats(n=8, successes=8)


def test_features_shared_by_every_run_are_not_compared() -> None:
    learner = PatternLearner(NS)
    backup_under_legacy(learner)
    pattern = context_pattern(learner, "domain=web", "backup")
    assert pattern.support == 16
    assert not learner.is_served(pattern)


def test_context_pattern_is_not_served_for_an_insignificant_difference() -> None:
    learner = PatternLearner(NS)
    backup_under_legacy(learner, legacy=(4, 6, 2, 6), modern=(3, 6, 3, 6))
    assert not learner.is_served(context_pattern(learner, "tag=legacy", "backup"))


def test_context_pattern_is_not_served_for_a_small_sample() -> None:
    learner = PatternLearner(NS)
    backup_under_legacy(learner, legacy=(4, 4, 0, 4), modern=(3, 4, 3, 4))
    pattern = context_pattern(learner, "tag=legacy", "backup")
    assert (pattern.support, pattern.successes) == (4, 4)
    assert not learner.is_served(pattern)


def test_context_pattern_is_not_served_for_a_small_difference() -> None:
    # 95/100 vs 75/100 under the feature: significant, but only 0.2 apart
    learner = PatternLearner(NS)
    backup_under_legacy(learner, legacy=(95, 100, 75, 100), modern=(20, 40, 20, 40))
    pattern = context_pattern(learner, "tag=legacy", "backup")
    assert (pattern.support, pattern.successes) == (100, 95)
    assert not learner.is_served(pattern)
    assert pattern.baseline == ChoiceStats(n=100, successes=75)
    assert difference_p(95, 100, 75, 100) < learner.config.fdr_q  # significant, yet small


def test_features_that_select_the_same_runs_are_merged_into_one_pattern() -> None:
    learner = PatternLearner(NS)
    minute = 0
    for tags, (ok_with, ok_without) in ((["legacy", "oracle"], (8, 0)), ([], (6, 6))):
        with_backup = (["checkout", "backup", "migrate"], ok_with)
        for tools, ok in (with_backup, (["checkout", "migrate"], ok_without)):
            for i in range(8):
                learner.observe(episode(tools, success=i < ok, tags=tags, minute=minute))
                minute += 1
    served = [p for p in learner.patterns(PatternKind.CONTEXT_PATTERN) if p.tool == "backup"]
    assert len(served) == 1
    (pattern,) = served
    assert pattern.feature == "tag=legacy"
    assert pattern.aliases == ["tag=oracle"]
    assert "(also tag=oracle)" in pattern.describe()
    assert not learner.is_served(context_pattern(learner, "tag=oracle", "backup"))


def test_calls_measure_finds_a_tool_that_fails_under_a_feature() -> None:
    learner = PatternLearner(NS)
    for i in range(16):
        arm = i % 2 == 0
        compile_step: Step = ("compile", "linker error") if arm else "compile"
        tags = ["arm64"] if arm else []
        tools: list[Step] = ["checkout", compile_step, "compile", "test"]
        learner.observe(episode(tools, tags=tags, minute=i))
    pattern = context_pattern(learner, "tag=arm64", "compile", measure="calls")
    assert pattern.key.endswith("|tag=arm64|compile|calls")
    assert (pattern.support, pattern.successes) == (8, 0)
    assert learner.is_served(pattern)
    assert pattern.baseline == ChoiceStats(n=8, successes=8)
    assert pattern.association == "failure"
    assert "compile ran without failing in 0/8 runs versus 8/8" in pattern.describe()
    assert derive_heuristic(pattern).kind is HeuristicKind.AVOID


def test_a_real_context_effect_of_0_3_is_found_at_500_episodes() -> None:
    # under tag "legacy" running backup raises success from 0.5 to 0.8; elsewhere it does
    # nothing (0.65 either way)
    rng = random.Random(7)
    learner = PatternLearner(NS)
    for i in range(500):
        legacy = rng.random() < 0.5
        backup = rng.random() < 0.5
        rate = (0.8 if backup else 0.5) if legacy else 0.65
        tools = ["checkout", "backup", "migrate"] if backup else ["checkout", "migrate"]
        tags = ["legacy"] if legacy else []
        learner.observe(episode(tools, success=rng.random() < rate, tags=tags, minute=i))
    assert len(families(learner)) == 1
    served = learner.patterns(PatternKind.CONTEXT_PATTERN)
    found = [(p.feature, p.tool, p.measure, p.association) for p in served]
    assert found == [("tag=legacy", "backup", "outcome", "success")]
    assert learner.patterns(PatternKind.DECISION_POINT) == []


def test_a_noise_tool_never_becomes_a_served_comparison() -> None:
    """10,000 runs of two tasks with a noise step at random positions, independent of
    success, and an unrelated random tag: no decision point or context pattern is ever
    served, and the noise does not split the families."""
    rng = random.Random(2024)
    learner = PatternLearner(NS)
    kinds = [
        ("Fix the failing unit test in the parser", ["read_file", "edit_file", "run_tests"], 0.7),
        ("Deploy the api service to staging", ["build", "push_image", "deploy"], 0.5),
    ]
    checkpoints = {200, 500, 1_000, 2_000, 5_000, 10_000}
    for i in range(1, 10_001):
        task, tools, rate = kinds[rng.random() < 0.5]
        path = list(tools)
        if rng.random() < 0.5:
            path.insert(rng.randrange(len(path) + 1), "web_search")
        tags = ["urgent"] if rng.random() < 0.5 else []
        run = episode(
            path, task=task, success=rng.random() < rate, context=OPS, tags=tags, minute=i
        )
        learner.observe(run, defer_sequences=True)  # sequences are settled at checkpoints
        if i in checkpoints:
            learner.settle_sequences()
            assert served_comparisons(learner) == [], i
    assert len(families(learner)) == 2
    assert sorted(s.tools for s in learner.patterns(PatternKind.TOOL_SEQUENCE)) == sorted(
        tools for _, tools, _ in kinds
    )
    tested = [
        p
        for p in learner.all_patterns()
        if isinstance(p, DecisionPoint | ContextPattern) and p.p_value < 1.0
    ]
    assert tested  # comparisons were made; none survived


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


def test_error_recovery_needs_min_support() -> None:
    learner = PatternLearner(NS)
    for i in range(2):
        learner.observe(episode([("migrate", "refused"), "start_db", "migrate"], minute=i))
    pattern = recovery(learner, "migrate")
    assert pattern.best_recovery is None
    assert not learner.is_served(pattern)


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
    assert "using helm_upgrade instead worked 5 of 5 times" in pattern.describe()
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


# --- forgetting ------------------------------------------------------------------------

_COUNTS = {
    "support", "successes", "reward_sum", "latency_ms_sum", "tools", "members", "terms",
    "tool_stats", "tool_calls", "feature_stats", "context_keys", "stale", "choices",
    "recoveries", "replacements", "recovered", "unrecovered", "best_recovery", "best_mode",
}  # fmt: skip


def counts(learner: PatternLearner) -> dict[str, dict[str, object]]:
    return {
        p.id: p.model_dump(include=_COUNTS)
        for p in sorted(learner.all_patterns(), key=lambda p: p.id)
    }


def mixed_episodes(n: int, seed: int = 3) -> list[Episode]:
    """Episodes of two tasks with errors, recoveries, replacements, tags and rewards."""
    rng = random.Random(seed)
    found = []
    for i in range(n):
        if rng.random() < 0.5:
            task = "Fix the failing unit test in the parser"
            tools: list[Step] = ["read_file", rng.choice(["edit_file", "patch"]), "run_tests"]
            if rng.random() < 0.3:
                tools[2:2] = [("run_tests", "assertion failed at line 12"), "edit_file"]
        else:
            task = "Deploy the api service to staging"
            tools = ["build", ("deploy_service", "410 gone, use helm"), "helm_upgrade"]
            if rng.random() < 0.4:
                tools = ["build", ("push_image", f"timeout after {i}s"), "push_image", "deploy"]
        found.append(
            episode(
                tools,
                task=task,
                success=rng.random() < 0.7,
                tags=["urgent"] if rng.random() < 0.5 else [],
                reward=rng.choice([0.25, 0.5, 1.0]),
                latency_ms=float(rng.randrange(1, 50)),
                minute=i,
            )
        )
    return found


def test_forgetting_the_last_episode_restores_every_count_exactly() -> None:
    episodes = mixed_episodes(40)
    full, reference = PatternLearner(NS), PatternLearner(NS)
    observe_all(full, episodes)
    observe_all(reference, episodes[:-1])
    changed, removed = full.forget(episodes[-1])
    assert changed or removed
    assert counts(full) == counts(reference)
    assert {p.id for p in full.patterns()} == {p.id for p in reference.patterns()}
    for pattern in full.all_patterns():
        assert episodes[-1].id not in pattern.episode_ids


def test_forgetting_the_only_episode_of_a_family_removes_the_family() -> None:
    learner = PatternLearner(NS)
    observe_all(learner, [episode(["a", "b"], minute=i) for i in range(3)])
    loner = episode(["x", ("y", "boom"), "z"], task="Write release notes", minute=9)
    learner.observe(loner)
    assert len(families(learner)) == 2
    _, removed = learner.forget(loner)
    assert len(families(learner)) == 1
    assert stable_id(NS, "tool_sequence", f"family:{loner.id}") in removed
    assert stable_id(NS, "error_recovery", "y|boom") in removed
    assert learner.get(stable_id(NS, "error_recovery", "y|boom")) is None


def test_forgetting_every_episode_leaves_no_patterns() -> None:
    episodes = mixed_episodes(30, seed=5)
    learner = PatternLearner(NS)
    observe_all(learner, episodes)
    for ep in reversed(episodes):
        learner.forget(ep)
    assert learner.all_patterns() == []
    assert learner.families.families == {}
    assert learner.patterns(served_only=False) == []


def test_forgetting_an_unknown_episode_changes_nothing() -> None:
    learner = PatternLearner(NS)
    observe_all(learner, [episode(["a", "b"], minute=i) for i in range(3)])
    before = counts(learner)
    assert learner.forget(episode(["q"], task="Something else entirely")) == ([], [])
    assert counts(learner) == before


# --- feedback, decay, load -------------------------------------------------------------


def served_recovery(learner: PatternLearner) -> ErrorRecovery:
    for i in range(3):
        learner.observe(episode([("migrate", "refused"), "start_db", "migrate"], minute=i))
    pattern = recovery(learner, "migrate")
    assert learner.is_served(pattern)
    return pattern


def test_feedback_counts_uses_and_successes() -> None:
    learner = PatternLearner(NS)
    pattern = served_recovery(learner)
    before = pattern.confidence
    changed = learner.record_feedback([pattern.id, pattern.id, "no-such-pattern"], success=True)
    assert changed == [pattern]
    assert (pattern.feedback_uses, pattern.feedback_successes) == (1, 1)
    assert pattern.confidence > before
    learner.record_feedback([pattern.id], success=False)
    assert (pattern.feedback_uses, pattern.feedback_successes) == (2, 1)
    assert not pattern.retired


def test_repeated_failures_in_use_retire_a_pattern() -> None:
    learner = PatternLearner(NS)
    pattern = served_recovery(learner)
    for _ in range(learner.config.retire_min_uses - 1):
        learner.record_feedback([pattern.id], success=False)
    assert not pattern.retired  # too few uses to judge
    learner.record_feedback([pattern.id], success=False)
    assert pattern.retired
    assert not learner.is_served(pattern)
    assert pattern.effectiveness() == 0.0
    assert pattern not in learner.patterns()


def test_successful_uses_never_retire_a_pattern() -> None:
    learner = PatternLearner(NS)
    pattern = served_recovery(learner)
    for _ in range(20):
        learner.record_feedback([pattern.id], success=True)
    assert not pattern.retired
    assert learner.is_served(pattern)


def test_old_evidence_decays_until_the_pattern_is_not_served() -> None:
    learner = PatternLearner(NS)
    pattern = served_recovery(learner)
    now = pattern.last_seen
    assert learner.is_served(pattern, now=now)
    assert learner.is_served(pattern, now=now + timedelta(days=10))
    assert not learner.is_served(pattern, now=now + timedelta(days=365))
    half_life = learner.config.half_life_days
    assert pattern.effectiveness(now + timedelta(days=half_life), half_life) == pytest.approx(
        pattern.confidence / 2
    )


def test_fresh_evidence_revives_a_decayed_pattern() -> None:
    learner = PatternLearner(NS)
    pattern = served_recovery(learner)
    later = BASE + timedelta(days=365)
    assert not learner.is_served(pattern, now=later)
    learner.observe(episode([("migrate", "refused"), "start_db", "migrate"], minute=365 * 24 * 60))
    assert learner.is_served(pattern, now=later)


def roundtrip(patterns: list[AnyPattern]) -> list[AnyPattern]:
    return [pattern_adapter.validate_json(pattern_adapter.dump_json(p)) for p in patterns]


def test_load_continues_counting_from_stored_patterns() -> None:
    first = PatternLearner(NS)
    served_recovery(first)
    backup_under_legacy(first)
    second = PatternLearner(NS)
    second.load(roundtrip(first.all_patterns()))
    assert {p.id for p in second.all_patterns()} == {p.id for p in first.all_patterns()}
    assert {p.id for p in second.patterns()} == {p.id for p in first.patterns()}

    second.observe(episode([("migrate", "refused"), "start_db", "migrate"], minute=40))
    pattern = recovery(second, "migrate")
    assert pattern.support == 4
    assert pattern.recoveries["start_db"] == ChoiceStats(n=4, successes=4)

    # a new run joins the loaded family and adds to its comparisons
    loaded = {f.key for f in families(first) if "backup" in f.tool_stats}
    run = episode(["checkout", "backup", "migrate"], tags=["legacy"], minute=41)
    second.observe(run)
    assert second.family_of(run) in loaded
    ctx = context_pattern(second, "tag=legacy", "backup")
    assert (ctx.support, ctx.successes) == (9, 9)
    assert second.is_served(ctx)
    assert ctx.baseline == ChoiceStats(n=8, successes=0)


def test_seeded_family_history_counts_towards_the_sequence() -> None:
    history = [episode(["a", "b", "c"], minute=i) for i in range(2)]
    first = PatternLearner(NS)
    observe_all(first, history)
    (family,) = families(first)
    second = PatternLearner(NS)
    second.load(roundtrip(first.all_patterns()))
    assert not second.knows_family(family.key)
    second.seed_family(family.key, history)
    assert second.knows_family(family.key)
    assert sequences(second) == []
    second.observe(episode(["a", "b", "c"], minute=3))
    (sequence,) = sequences(second)
    assert sequence.key == family.key
    assert sequence.support == 3
    assert second.is_served(sequence)


def test_windows_carry_a_familys_recent_runs_into_a_reloaded_learner() -> None:
    first = PatternLearner(NS)
    observe_all(first, [episode(["a", "b", "c"], minute=i) for i in range(2)])
    second = PatternLearner(NS)
    second.load(roundtrip(first.all_patterns()))
    second.adopt_windows(first.windows())
    second.observe(episode(["a", "b", "c"], minute=3))
    (sequence,) = sequences(second)
    assert sequence.support == 3


# --- guards and listing ----------------------------------------------------------------


def test_observe_needs_an_outcome() -> None:
    learner = PatternLearner(NS)
    open_episode = Episode(task_description="still running", steps=[ExecutionStep(tool="a")])
    with pytest.raises(ValueError, match="completed episode"):
        learner.observe(open_episode)
    assert learner.all_patterns() == []


def test_patterns_are_listed_most_effective_first() -> None:
    learner = PatternLearner(NS)
    served_recovery(learner)
    plan_then(learner, edit=(10, 10), guess=(0, 10))
    served = learner.patterns()
    assert {p.kind for p in served} >= {PatternKind.ERROR_RECOVERY, PatternKind.DECISION_POINT}
    scores = [p.effectiveness() for p in served]
    assert scores == sorted(scores, reverse=True)
    assert all(learner.is_served(p) for p in served)


def test_patterns_filter_by_kind() -> None:
    learner = PatternLearner(NS)
    served_recovery(learner)
    found = learner.patterns(PatternKind.ERROR_RECOVERY)
    assert [p.kind for p in found] == [PatternKind.ERROR_RECOVERY]
    assert learner.patterns(PatternKind.DECISION_POINT) == []
