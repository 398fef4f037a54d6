"""Reward scoring and deterministic reflection: pure functions over completed episodes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selfmem import ComplexityLevel, Episode, ExecutionStep, TaskContext, TaskOutcome, TaskType
from selfmem.learning import RewardWeights, compute_reward, reflect
from selfmem.learning.reflection import tool_sequence
from selfmem.learning.reward import recovered_errors


def ok(tool: str, **fields: object) -> ExecutionStep:
    return ExecutionStep.model_validate({"tool": tool, "observation": f"{tool} ok", **fields})


def failed(tool: str, error: str = "boom", **fields: object) -> ExecutionStep:
    return ExecutionStep.model_validate({"tool": tool, "error": error, **fields})


def episode(
    steps: list[ExecutionStep],
    outcome: TaskOutcome | None = None,
    complexity: ComplexityLevel = ComplexityLevel.SIMPLE,
    task_type: TaskType = TaskType.DEBUGGING,
) -> Episode:
    numbered = [s.model_copy(update={"step_number": i}) for i, s in enumerate(steps, start=1)]
    return Episode(
        task_description="Fix the failing test",
        context=TaskContext(complexity=complexity),
        task_type=task_type,
        steps=numbered,
        outcome=outcome,
    )


# --- compute_reward --------------------------------------------------------------------


def test_simple_success_scores_one() -> None:
    reward = compute_reward(episode([ok("grep"), ok("edit")], TaskOutcome.success()))
    assert reward.base == 1.0
    assert reward.efficiency == 1.0
    assert reward.complexity_bonus == 1.0
    assert reward.quality_multiplier == 1.0
    assert reward.learning_bonus == 0.0
    assert reward.total == 1.0


def test_partial_success_scores_the_completed_fraction() -> None:
    outcome = TaskOutcome.partial(completed=["a", "b", "c"], failed=["d"])
    reward = compute_reward(episode([ok("edit")], outcome))
    assert reward.base == 0.75
    assert reward.total == 0.75


def test_failure_scores_zero() -> None:
    reward = compute_reward(episode([ok("grep"), failed("pytest")], TaskOutcome.failure("red")))
    assert reward.base == 0.0
    assert reward.total == 0.0


def test_success_outscores_partial_outscores_failure() -> None:
    steps = [ok("grep"), ok("edit")]
    totals = [
        compute_reward(episode(steps, outcome)).total
        for outcome in (
            TaskOutcome.success(),
            TaskOutcome.partial(completed=["a"], failed=["b"]),
            TaskOutcome.failure("no"),
        )
    ]
    assert totals[0] > totals[1] > totals[2]


@pytest.mark.parametrize(
    "count, efficiency", [(1, 1.0), (10, 1.0), (15, 0.6667), (20, 0.5), (100, 0.5)]
)
def test_efficiency_shrinks_beyond_the_expected_step_count(count: int, efficiency: float) -> None:
    steps = [ok(f"tool{i}") for i in range(count)]
    reward = compute_reward(episode(steps, TaskOutcome.success()))
    assert reward.efficiency == efficiency
    assert reward.total == efficiency


def test_efficiency_follows_custom_weights() -> None:
    weights = RewardWeights(expected_steps=2, min_efficiency=0.1)
    reward = compute_reward(
        episode([ok("a"), ok("b"), ok("c"), ok("d")], TaskOutcome.success()), weights
    )
    assert reward.efficiency == 0.5


@pytest.mark.parametrize(
    "complexity, bonus",
    [
        (ComplexityLevel.SIMPLE, 1.0),
        (ComplexityLevel.MODERATE, 1.1),
        (ComplexityLevel.COMPLEX, 1.25),
    ],
)
def test_harder_tasks_earn_more(complexity: ComplexityLevel, bonus: float) -> None:
    reward = compute_reward(episode([ok("edit")], TaskOutcome.success(), complexity=complexity))
    assert reward.complexity_bonus == bonus
    assert reward.total == pytest.approx(bonus)


def test_recovered_error_earns_a_learning_bonus_on_success() -> None:
    ep = episode([failed("pytest"), ok("edit"), ok("pytest")], TaskOutcome.success())
    assert recovered_errors(ep) == (1, 0)
    reward = compute_reward(ep)
    assert reward.quality_multiplier == 1.0
    assert reward.learning_bonus == 0.05
    assert reward.total == 1.05


def test_error_counts_as_recovered_only_when_the_same_tool_later_succeeds() -> None:
    ep = episode([ok("pytest"), failed("pytest"), ok("edit")], TaskOutcome.success())
    assert recovered_errors(ep) == (0, 1)


def test_unrecovered_error_costs_quality() -> None:
    reward = compute_reward(episode([failed("deploy"), ok("edit")], TaskOutcome.success()))
    assert reward.quality_multiplier == 0.9
    assert reward.learning_bonus == 0.0
    assert reward.total == 0.9


def test_quality_never_drops_below_its_floor() -> None:
    steps = [failed(f"tool{i}") for i in range(8)]
    reward = compute_reward(episode(steps, TaskOutcome.success()))
    assert reward.quality_multiplier == 0.5


def test_learning_bonus_is_capped() -> None:
    steps = [failed("pytest") for _ in range(6)] + [ok("pytest")]
    reward = compute_reward(episode(steps, TaskOutcome.success()))
    assert reward.learning_bonus == 0.2


@pytest.mark.parametrize(
    "outcome", [TaskOutcome.partial(completed=["a"], failed=["b"]), TaskOutcome.failure("no")]
)
def test_no_learning_bonus_without_success(outcome: TaskOutcome) -> None:
    reward = compute_reward(episode([failed("pytest"), ok("pytest")], outcome))
    assert reward.learning_bonus == 0.0


def test_explanation_names_every_component() -> None:
    steps = [failed("deploy")] + [ok(f"tool{i}") for i in range(19)]
    reward = compute_reward(
        episode(steps, TaskOutcome.success(), complexity=ComplexityLevel.COMPLEX)
    )
    assert reward.explanation == [
        "base 1.00 from success",
        "efficiency 0.50: 20 steps (expected at most 10)",
        "complexity x1.25 (complex)",
        "quality x0.90: 0 errors recovered, 1 error left, 0 identical retries",
    ]


def test_explanation_mentions_the_learning_bonus_when_there_is_one() -> None:
    reward = compute_reward(episode([failed("pytest"), ok("pytest")], TaskOutcome.success()))
    assert reward.explanation[-1] == "learning bonus +0.05: recovered from 1 error"
    quality = "quality x0.98: 1 error recovered, 0 errors left, 1 identical retry"
    assert quality in reward.explanation


def test_reward_needs_an_outcome() -> None:
    with pytest.raises(ValueError, match="without an outcome"):
        compute_reward(episode([ok("grep")]))


outcomes = st.sampled_from(
    [TaskOutcome.success(), TaskOutcome.partial(completed=["a"], failed=["b", "c"]),
     TaskOutcome.failure("no")]
)  # fmt: skip
step_lists = st.lists(
    st.builds(
        ExecutionStep, tool=st.sampled_from(["grep", "edit", "pytest"]), success=st.booleans()
    ),
    max_size=30,
)


@given(step_lists, outcomes, st.sampled_from(ComplexityLevel))
def test_total_is_the_product_of_its_components_plus_bonus(
    steps: list[ExecutionStep], outcome: TaskOutcome, complexity: ComplexityLevel
) -> None:
    r = compute_reward(episode(steps, outcome, complexity=complexity))
    expected = r.base * r.efficiency * r.complexity_bonus * r.quality_multiplier + r.learning_bonus
    assert r.total == pytest.approx(expected, abs=1e-3)
    assert 0.0 <= r.total <= 1.25 + 0.2
    assert 0.5 <= r.efficiency <= 1.0
    assert 0.5 <= r.quality_multiplier <= 1.0


# --- reflect ---------------------------------------------------------------------------


def test_success_reflection_names_the_tool_sequence() -> None:
    ep = episode(
        [ok("grep"), ok("grep", parameters={"q": "b"}), ok("edit"), ok("pytest")],
        TaskOutcome.success("tests pass"),
    )
    reflection = reflect(ep)
    assert reflection.what_worked == [
        "tool sequence grep -> edit -> pytest reached success",
        "successful tools: edit, grep, pytest",
    ]
    assert reflection.what_failed == []
    assert reflection.recommendations == [
        "for similar debugging tasks, try: grep -> edit -> pytest"
    ]
    assert reflection.insights == ["4 steps with 3 distinct tools"]
    assert reflection.generated_by == "deterministic"


def test_partial_success_reflection() -> None:
    outcome = TaskOutcome.partial(completed=["code"], failed=["docs", "changelog"])
    reflection = reflect(episode([ok("edit")], outcome))
    assert reflection.what_worked[0] == "tool sequence edit reached partial success"
    assert reflection.what_failed == ["not completed: docs", "not completed: changelog"]
    assert reflection.recommendations == []


def test_failure_reflection_lists_failed_steps_and_the_reason() -> None:
    ep = episode(
        [ok("grep"), failed("pytest", "AssertionError: 1 != 2"), failed("deploy", "timeout")],
        TaskOutcome.failure("tests still red"),
    )
    reflection = reflect(ep)
    assert reflection.what_failed == [
        "step 2 pytest failed: AssertionError: 1 != 2",
        "step 3 deploy failed: timeout",
        "task failed: tests still red",
    ]
    assert reflection.what_worked == ["successful tools: grep"]
    assert reflection.recommendations == ["avoid repeating deploy the same way; it failed last"]


def test_failed_step_without_error_text_says_so() -> None:
    ep = episode([ExecutionStep(tool="lint", success=False)], TaskOutcome.failure("lint"))
    assert reflect(ep).what_failed[0] == "step 1 lint failed: no detail"


def test_recovery_is_an_insight_on_success() -> None:
    ep = episode([failed("pytest"), ok("edit"), ok("pytest")], TaskOutcome.success())
    reflection = reflect(ep)
    assert reflection.what_failed == ["step 1 pytest failed: boom"]
    assert "recovered from 1 failed step and still succeeded" in reflection.insights


def test_slow_steps_are_suggested_as_improvements() -> None:
    ep = episode(
        [ok("pytest", latency_ms=6500), ok("grep", latency_ms=4999), ok("build", latency_ms=5000)],
        TaskOutcome.success(),
    )
    assert reflect(ep).improvements == ["pytest took 6.5s", "build took 5.0s"]


def test_repeated_identical_calls_are_suggested_as_improvements() -> None:
    ep = episode(
        [ok("search", parameters={"q": "x"}), ok("search", parameters={"q": "x"}),
         ok("search", parameters={"q": "y"})],
        TaskOutcome.success(),
    )  # fmt: skip
    assert reflect(ep).improvements == ["search was called more than once with the same arguments"]


def test_episode_without_steps_reflects_only_the_outcome() -> None:
    reflection = reflect(episode([], TaskOutcome.success()))
    assert reflection.what_worked == []
    assert reflection.recommendations == []
    assert reflection.insights == []


def test_reflect_needs_an_outcome() -> None:
    with pytest.raises(ValueError, match="without an outcome"):
        reflect(episode([ok("grep")]))


def test_tool_sequence_collapses_repeats_and_elides_long_runs() -> None:
    assert tool_sequence(episode([ok("a"), ok("a"), ok("b"), ok("a")])) == "a -> b -> a"
    long = episode([ok(f"t{i}") for i in range(5)])
    assert tool_sequence(long, max_len=3) == "t0 -> t1 -> t2 -> ..."
    assert tool_sequence(long, max_len=5) == "t0 -> t1 -> t2 -> t3 -> t4"
