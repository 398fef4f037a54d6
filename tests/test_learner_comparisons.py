"""PatternLearner: decision points and context patterns, from episodes built by hand."""

from __future__ import annotations

import random

import pytest

from selfmem.learning import (
    ChoiceStats,
    ContextPattern,
    DecisionPoint,
    HeuristicKind,
    PatternKind,
    PatternLearner,
    derive_heuristic,
)
from selfmem.learning.serving import conditional_tools
from selfmem.learning.significance import difference_p
from selfmem.records.learned import ToolSequence

from .test_learner import (
    NS,
    OPS,
    Step,
    backup_under_legacy,
    context_pattern,
    decision,
    episode,
    families,
    plan_then,
    served_comparisons,
)

# --- decision points -------------------------------------------------------------------


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


def test_context_pattern_is_not_served_when_the_tool_helps_much_without_the_feature_too() -> None:
    # under legacy 16/16 with backup against 0/16 without; elsewhere 14/16 against 4/16:
    # backup is a step of the family, if a bigger one under legacy
    learner = PatternLearner(NS)
    backup_under_legacy(learner, legacy=(16, 16, 0, 16), modern=(14, 16, 4, 16))
    assert not learner.is_served(context_pattern(learner, "tag=legacy", "backup"))
    # without legacy 0.3 (less than half the effect under it): the effect is legacy's
    learner = PatternLearner(NS)
    backup_under_legacy(learner, legacy=(16, 16, 0, 16), modern=(30, 60, 12, 60))
    assert learner.is_served(context_pattern(learner, "tag=legacy", "backup"))


def test_a_tool_that_fails_the_few_runs_without_the_feature_too_is_not_the_features() -> None:
    """``backup`` fails every run that calls it, and nearly only runs tagged ``legacy`` did:
    too few others to compare, and those few failed as well. Nothing says the effect is
    legacy's; had they succeeded, it would be."""
    learner = PatternLearner(NS)
    backup_under_legacy(learner, legacy=(0, 14, 12, 16), modern=(0, 3, 40, 50))
    pattern = context_pattern(learner, "tag=legacy", "backup")
    assert not learner.is_served(pattern)
    assert pattern.association == "failure" and pattern.other_with == ChoiceStats(n=3)
    learner = PatternLearner(NS)
    backup_under_legacy(learner, legacy=(0, 14, 12, 16), modern=(3, 3, 40, 50))
    assert learner.is_served(context_pattern(learner, "tag=legacy", "backup"))


def test_a_tool_conditional_on_two_features_takes_the_better_evidenced_one() -> None:
    """Two served context patterns say ``translate`` helps under a tag and under a language:
    the family's sequence holds it under the one with the smaller p-value, whatever order
    the patterns come in."""
    family = ToolSequence(id="f1", namespace=NS, key="family:1", tools=["read", "reply"])

    def finding(feature: str, p_value: float) -> ContextPattern:
        key = f"family:1|{feature}|translate"
        return ContextPattern(
            id=key, namespace=NS, key=key, family="family:1", feature=feature,
            tool="translate", p_value=p_value, support=30,
        )  # fmt: skip

    tag, language = finding("tag=repeat-customer", 0.004), finding("language=japanese", 0.0001)
    for served in ([tag, language], [language, tag]):
        wanted = conditional_tools(served, {"family:1": family})
        assert wanted == {"family:1": {"translate": "language=japanese"}}


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


# --- the false-discovery control -------------------------------------------------------


def test_benjamini_hochberg_serves_the_p_values_up_to_the_last_that_passes() -> None:
    from selfmem.learning.significance import benjamini_hochberg, bh_threshold

    # q = 0.05 over 10 tests: rank k passes at p <= 0.005 k. The first two pass; 0.039 at
    # rank 3 needs 0.015, and no later rank catches up.
    p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216]
    tests = {f"t{i}": value for i, value in enumerate(p)}
    assert benjamini_hochberg(tests, 0.05) == {"t0", "t1"}
    assert bh_threshold(p, 0.05) == 0.008
    # a later rank that passes takes every smaller p-value with it (step-up)
    late = {"a": 0.02, "b": 0.03, "c": 0.03, "d": 0.04}
    assert benjamini_hochberg(late, 0.05) == {"a", "b", "c", "d"}
    assert bh_threshold(late.values(), 0.05) == 0.04
    assert bh_threshold([0.5, 0.9], 0.05) is None and bh_threshold([], 0.05) is None

    def step_up(values: dict[str, float], q: float) -> set[str]:
        """The procedure as written: rank, find the last rank that passes, take all before."""
        ranked = sorted(values.items(), key=lambda item: (item[1], item[0]))
        last = max((k for k, (_, p) in enumerate(ranked, 1) if p <= q * k / len(ranked)),
                   default=0)  # fmt: skip
        return {key for key, _ in ranked[:last]}

    rng = random.Random(3)
    for _ in range(200):
        values = {str(i): round(rng.random() ** 3, 3) for i in range(rng.randrange(1, 40))}
        assert benjamini_hochberg(values, 0.05) == step_up(values, 0.05)


def test_serving_passes_that_test_only_changed_families_find_what_a_full_pass_finds() -> None:
    """A learner asked what it serves after every episode tests again only the families
    the episode changed; its answers (and the p-values and aliases its tests set) equal
    those of a learner that learns the same episodes and deletions and is asked once."""
    rng = random.Random(11)
    tasks = [
        ("Migrate the orders schema", ["checkout", "backup", "migrate"], "backup"),
        ("Deploy the api service", ["build", "push_image", "deploy"], "push_image"),
        ("Rotate the api keys", ["list_keys", "revoke", "issue"], "revoke"),
    ]
    runs = []
    for i in range(600):
        task, tools, optional = tasks[i % 3]
        legacy = rng.random() < 0.5
        path = [t for t in tools if t != optional or rng.random() < 0.5]
        rate = 0.85 if (optional in path) == legacy else 0.45
        tags = ["legacy"] if legacy else []
        runs.append(episode(path, task=task, success=rng.random() < rate, tags=tags, minute=i))
    asked, once = PatternLearner(NS), PatternLearner(NS)
    for i, run in enumerate(runs):
        for learner in (asked, once):
            learner.observe(run)
            if i % 50 == 49:
                learner.forget(runs[i - 25])
        asked.patterns()

    def findings(learner: PatternLearner) -> list[tuple[str, ...]]:
        return sorted(
            (p.id, str(p.p_value), ",".join(getattr(p, "aliases", [])))
            for p in learner.patterns()
            if isinstance(p, DecisionPoint | ContextPattern)
        )

    found = findings(asked)
    assert found and found == findings(once)
