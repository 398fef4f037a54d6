"""What learned patterns are used for: heuristics, reflection advice, reward baselines, ranking."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Literal

import pytest

from selfmem import (
    Episode,
    ExecutionStep,
    Reflection,
    TaskContext,
    TaskOutcome,
    TaskType,
)
from selfmem.learning import (
    AnyPattern,
    Baseline,
    ChoiceStats,
    ContextPattern,
    DecisionPoint,
    ErrorRecovery,
    HeuristicKind,
    PatternContext,
    RewardWeights,
    ToolSequence,
    compute_reward,
    derive_heuristic,
    derive_heuristics,
    reflect,
    reflect_safely,
)
from selfmem.records.episodes import utc_now
from selfmem.records.learned import stable_id
from selfmem.retrieval.pattern_ranking import rank_patterns

NS = "tests"
WEB = PatternContext(domain="web", language="python", task_type=TaskType.DEBUGGING)


def sequence(
    tools: list[str],
    *,
    context: PatternContext = WEB,
    support: int = 10,
    successes: int = 9,
    key: str | None = None,
) -> ToolSequence:
    key = key or f"{context.domain}|{'-'.join(tools)}"
    return ToolSequence(
        id=stable_id(NS, "tool_sequence", key),
        namespace=NS,
        key=key,
        tools=tools,
        support=support,
        successes=successes,
        context=context,
        episode_ids=[f"ep{i}" for i in range(support)],
    )


def decision_point() -> DecisionPoint:
    return DecisionPoint(
        id=stable_id(NS, "decision_point", "plan"),
        namespace=NS,
        key="plan",
        after_tool="plan",
        support=12,
        successes=7,
        choices={
            "edit": ChoiceStats(n=7, successes=7),
            "guess": ChoiceStats(n=5, successes=0),
        },
        best="edit",
        worst="guess",
        context=WEB,
    )


def error_recovery(best: str | None = "start_db") -> ErrorRecovery:
    recoveries = {} if best is None else {best: ChoiceStats(n=4, successes=4)}
    return ErrorRecovery(
        id=stable_id(NS, "error_recovery", "migrate|connection refused on port <n>"),
        namespace=NS,
        key="migrate|connection refused on port <n>",
        tool="migrate",
        error_class="connection refused on port <n>",
        support=6,
        successes=4,
        recoveries=recoveries,
        unrecovered=0 if best else 6,
        best_recovery=best,
        context=WEB,
    )


def context_pattern(association: Literal["success", "failure"] = "failure") -> ContextPattern:
    successes = 0 if association == "failure" else 8
    return ContextPattern(
        id=stable_id(NS, "context_pattern", f"language=rust|compile|{association}"),
        namespace=NS,
        key="language=rust|compile",
        feature="language=rust",
        tool="compile",
        association=association,
        support=8,
        successes=successes,
        baseline=ChoiceStats(n=10, successes=5),
    )


def step(tool: str, error: str | None = None) -> ExecutionStep:
    if error is None:
        return ExecutionStep(tool=tool, observation=f"{tool} ok")
    return ExecutionStep(tool=tool, error=error)


def episode(
    steps: list[ExecutionStep],
    *,
    success: bool = True,
    duration_s: float = 10.0,
    context: TaskContext | None = None,
) -> Episode:
    end = utc_now()
    return Episode(
        namespace=NS,
        task_description="Migrate the database",
        context=context or TaskContext(domain="web", language="python"),
        task_type=TaskType.DEBUGGING,
        start_time=end - timedelta(seconds=duration_s),
        end_time=end,
        steps=steps,
        outcome=TaskOutcome.success("done") if success else TaskOutcome.failure("broken"),
    )


# --- heuristics ------------------------------------------------------------------------


def test_sequence_becomes_a_follow_sequence_heuristic() -> None:
    pattern = sequence(["build", "migrate", "deploy"])
    heuristic = derive_heuristic(pattern)
    assert heuristic.kind is HeuristicKind.FOLLOW_SEQUENCE
    assert "domain web" in heuristic.condition and "language python" in heuristic.condition
    assert heuristic.action == "follow build -> migrate -> deploy"
    assert heuristic.tool == "build"
    assert (heuristic.evidence, heuristic.successes) == (10, 9)
    assert heuristic.confidence == pytest.approx(pattern.confidence, abs=1e-4)
    assert heuristic.source_pattern_ids == [pattern.id]
    assert heuristic.episode_ids == [f"ep{i}" for i in range(10)]
    assert heuristic.namespace == NS
    assert heuristic.context == pattern.context


def test_decision_point_becomes_a_prefer_heuristic_with_the_best_choice_evidence() -> None:
    heuristic = derive_heuristic(decision_point())
    assert heuristic.kind is HeuristicKind.PREFER
    assert heuristic.condition == "After plan"
    assert heuristic.action == "run edit rather than guess"
    assert heuristic.tool == "edit"
    assert (heuristic.evidence, heuristic.successes) == (7, 7)


def test_error_recovery_becomes_a_recover_heuristic() -> None:
    heuristic = derive_heuristic(error_recovery("start_db"))
    assert heuristic.kind is HeuristicKind.RECOVER
    assert heuristic.condition == "When migrate fails with 'connection refused on port <n>'"
    assert heuristic.action == "run start_db, then retry migrate"
    assert heuristic.tool == "start_db"
    assert (heuristic.evidence, heuristic.successes) == (4, 4)


def test_retry_recovery_becomes_a_plain_retry() -> None:
    heuristic = derive_heuristic(error_recovery("retry"))
    assert heuristic.kind is HeuristicKind.RECOVER
    assert heuristic.action == "retry migrate"
    assert heuristic.tool == "migrate"


def test_error_without_recovery_becomes_an_avoid_heuristic() -> None:
    pattern = error_recovery(None)
    heuristic = derive_heuristic(pattern)
    assert heuristic.kind is HeuristicKind.AVOID
    assert "migrate" in heuristic.condition
    assert "do not retry it blindly" in heuristic.action
    assert heuristic.tool == "migrate"
    assert (heuristic.evidence, heuristic.successes) == (6, 4)


@pytest.mark.parametrize(
    "association, kind, action",
    [
        ("failure", HeuristicKind.AVOID, "avoid compile"),
        ("success", HeuristicKind.PREFER, "use compile"),
    ],
)
def test_context_pattern_becomes_prefer_or_avoid(
    association: Literal["success", "failure"], kind: HeuristicKind, action: str
) -> None:
    heuristic = derive_heuristic(context_pattern(association))
    assert heuristic.kind is kind
    assert heuristic.condition == "When language is rust"
    assert heuristic.action == action
    assert heuristic.tool == "compile"
    assert heuristic.evidence == 8


def test_heuristic_ids_are_stable_and_distinct_per_pattern() -> None:
    patterns: list[AnyPattern] = [
        sequence(["a", "b"]),
        decision_point(),
        error_recovery(),
        context_pattern(),
    ]
    first = [derive_heuristic(p).id for p in patterns]
    again = [derive_heuristic(p.model_copy(deep=True)).id for p in patterns]
    assert first == again
    assert len(set(first)) == len(first)
    assert first[0] == stable_id(NS, "heuristic", patterns[0].id)


def test_explain_is_one_sentence_with_the_evidence() -> None:
    pattern = error_recovery("start_db")
    text = derive_heuristic(pattern).explain()
    assert text.startswith("When migrate fails with")
    assert "run start_db, then retry migrate" in text
    assert "seen in 4 episodes, 4 successful" in text
    assert f"confidence {pattern.confidence:.2f}" in text
    assert text.endswith(".")
    assert "\n" not in text
    assert ". " not in text  # a single sentence


def test_derive_heuristics_orders_by_confidence_then_evidence() -> None:
    weak = sequence(["a", "b"], support=3, successes=2, key="weak")
    strong = sequence(["c", "d"], support=40, successes=39, key="strong")
    middle = sequence(["e", "f"], support=10, successes=9, key="middle")
    heuristics = derive_heuristics([weak, strong, middle])
    assert [h.source_pattern_ids[0] for h in heuristics] == [strong.id, middle.id, weak.id]
    confidences = [h.confidence for h in heuristics]
    assert confidences == sorted(confidences, reverse=True)


def test_derive_heuristics_breaks_confidence_ties_by_evidence() -> None:
    # both confidences are the Wilson bound of 7/7, but the decision point's heuristic
    # rests on 5 episodes (its best choice) and two feedback uses
    point = decision_point()
    point.choices["edit"] = ChoiceStats(n=5, successes=5)
    point.feedback_uses = point.feedback_successes = 2
    seq = sequence(["a", "b"], support=7, successes=7)
    assert point.confidence == pytest.approx(seq.confidence)
    heuristics = derive_heuristics([point, seq])
    assert [(h.source_pattern_ids[0], h.evidence) for h in heuristics] == [
        (seq.id, 7),
        (point.id, 5),
    ]
    assert derive_heuristics([]) == []


# --- reflection with patterns ----------------------------------------------------------


def cites(reflection: Reflection, pattern: AnyPattern) -> list[str]:
    return [r for r in reflection.recommendations if f"[pattern {pattern.id}]" in r]


def test_reflection_cites_a_known_recovery_for_an_error_that_occurred() -> None:
    pattern = error_recovery("start_db")
    ep = episode([step("migrate", "Connection refused on port 5432")], success=False)
    (advice,) = cites(reflect(ep, [pattern]), pattern)
    assert "start_db" in advice and "migrate" in advice


def test_reflection_ignores_a_recovery_for_an_error_that_did_not_occur() -> None:
    pattern = error_recovery("start_db")
    ep = episode([step("migrate", "permission denied")], success=False)
    assert cites(reflect(ep, [pattern]), pattern) == []


def test_reflection_cites_a_decision_point_when_the_worse_choice_was_taken() -> None:
    pattern = decision_point()
    ep = episode([step("plan"), step("guess")], success=False)
    (advice,) = cites(reflect(ep, [pattern]), pattern)
    assert "after plan, prefer edit over guess" in advice
    took_best = episode([step("plan"), step("edit")])
    assert cites(reflect(took_best, [pattern]), pattern) == []


def test_reflection_cites_a_sequence_that_was_not_followed() -> None:
    pattern = sequence(["build", "migrate", "deploy"])
    skipped = episode([step("build"), step("deploy")], success=False)
    (advice,) = cites(reflect(skipped, [pattern]), pattern)
    assert "build -> migrate -> deploy" in advice
    followed = episode([step("build"), step("lint"), step("migrate"), step("deploy")])
    assert cites(reflect(followed, [pattern]), pattern) == []


def test_reflection_without_patterns_has_no_pattern_advice() -> None:
    ep = episode([step("migrate", "connection refused on port 1")], success=False)
    assert not any("[pattern " in r for r in reflect(ep).recommendations)


class WorkingReflector:
    def reflect(self, episode: Episode, patterns: Sequence[AnyPattern]) -> Reflection:
        return Reflection(
            what_worked=[f"{len(patterns)} patterns"],
            recommendations=["ask the model"],
            generated_by="llm",
        )


class RaisingReflector:
    def reflect(self, episode: Episode, patterns: Sequence[AnyPattern]) -> Reflection:
        raise RuntimeError("model unavailable")


class WrongTypeReflector:
    def reflect(self, episode: Episode, patterns: Sequence[AnyPattern]) -> object:
        return {"what_worked": ["not a Reflection"]}


def comparable(reflection: Reflection) -> dict[str, object]:
    return reflection.model_dump(exclude={"created_at"})


def test_reflect_safely_uses_a_working_custom_reflector() -> None:
    ep = episode([step("migrate")])
    reflection = reflect_safely(WorkingReflector(), ep, [error_recovery()])
    assert reflection.generated_by == "llm"
    assert reflection.what_worked == ["1 patterns"]
    assert reflection.recommendations == ["ask the model"]


@pytest.mark.parametrize("reflector", [RaisingReflector(), WrongTypeReflector()])
def test_reflect_safely_falls_back_to_the_deterministic_reflection(
    reflector: object, caplog: pytest.LogCaptureFixture
) -> None:
    pattern = error_recovery("start_db")
    ep = episode([step("migrate", "connection refused on port 9")], success=False)
    reflection = reflect_safely(reflector, ep, [pattern])  # type: ignore[arg-type]
    assert reflection.generated_by == "deterministic"
    assert comparable(reflection) == comparable(reflect(ep, [pattern]))
    assert cites(reflection, pattern)
    assert ep.id in caplog.text


def test_reflect_safely_without_a_reflector_is_deterministic() -> None:
    ep = episode([step("migrate")])
    assert comparable(reflect_safely(None, ep)) == comparable(reflect(ep))


# --- reward with a baseline ------------------------------------------------------------

TYPICAL = Baseline(
    runs=5,
    median_steps=4,
    median_duration_ms=20_000,
    known_paths=frozenset({("a", "b", "c", "d"), ("a", "c", "d")}),
)


def tools_episode(tools: list[str], *, seconds: float, success: bool = True) -> Episode:
    return episode([step(t) for t in tools], success=success, duration_s=seconds)


def test_slower_and_longer_than_typical_lowers_efficiency() -> None:
    ep = tools_episode(["a", "b", "c", "d", "a", "b", "c", "d"], seconds=40)
    reward = compute_reward(ep, baseline=TYPICAL)
    assert reward.efficiency == pytest.approx(0.5)  # half as fast on both counts
    assert reward.total < 1.0
    assert any("typical 4 steps" in line for line in reward.explanation)


def test_longer_only_lowers_efficiency_partly() -> None:
    ep = tools_episode(["a", "b", "c", "d", "a", "b", "c", "d"], seconds=20)
    assert compute_reward(ep, baseline=TYPICAL).efficiency == pytest.approx(0.75)


def test_faster_than_typical_raises_efficiency_up_to_the_cap() -> None:
    weights = RewardWeights()
    slightly = compute_reward(tools_episode(["a", "c", "d"], seconds=20), baseline=TYPICAL)
    assert 1.0 < slightly.efficiency < weights.max_efficiency
    much = compute_reward(tools_episode(["a", "d"], seconds=2), baseline=TYPICAL)
    assert much.efficiency == pytest.approx(weights.max_efficiency)
    custom = RewardWeights(max_efficiency=1.5)
    capped = compute_reward(tools_episode(["a", "d"], seconds=2), weights=custom, baseline=TYPICAL)
    assert capped.efficiency == pytest.approx(1.5)


def test_sub_second_typical_runs_are_judged_by_steps_alone() -> None:
    quick = Baseline(
        runs=5, median_steps=4, median_duration_ms=300, known_paths=frozenset({("a", "b")})
    )
    same_steps_but_slow = tools_episode(["a", "b", "c", "d"], seconds=30)
    assert compute_reward(same_steps_but_slow, baseline=quick).efficiency == pytest.approx(1.0)
    twice_the_steps = tools_episode(["a", "b", "c", "d"] * 2, seconds=0.3)
    assert compute_reward(twice_the_steps, baseline=quick).efficiency == pytest.approx(0.5)


def test_new_approach_bonus_for_a_successful_unseen_path() -> None:
    weights = RewardWeights()
    new = compute_reward(tools_episode(["a", "x", "d"], seconds=20), baseline=TYPICAL)
    assert new.learning_bonus == pytest.approx(weights.new_approach_bonus)
    assert any("new successful approach" in line for line in new.explanation)


def test_no_new_approach_bonus_for_a_known_path() -> None:
    known = compute_reward(tools_episode(["a", "a", "c", "d"], seconds=20), baseline=TYPICAL)
    assert known.learning_bonus == 0.0


def test_no_new_approach_bonus_on_failure() -> None:
    failed = compute_reward(
        tools_episode(["a", "x", "d"], seconds=20, success=False), baseline=TYPICAL
    )
    assert failed.learning_bonus == 0.0
    assert failed.total == 0.0


def test_no_new_approach_bonus_without_a_baseline() -> None:
    assert compute_reward(tools_episode(["a", "x"], seconds=20)).learning_bonus == 0.0


def test_default_expectation_without_a_baseline_ignores_duration() -> None:
    reward = compute_reward(tools_episode(["a", "b"], seconds=3_600))
    assert reward.efficiency == 1.0
    assert any("expected at most" in line for line in reward.explanation)


def test_a_baseline_with_too_few_runs_falls_back_to_the_default_expectation() -> None:
    thin = Baseline(runs=2, median_steps=1, median_duration_ms=1_000, known_paths=frozenset())
    reward = compute_reward(tools_episode(["a", "b", "c"], seconds=60), baseline=thin)
    assert reward.efficiency == 1.0
    assert any("expected at most" in line for line in reward.explanation)


# --- pattern ranking -------------------------------------------------------------------

TASK = TaskContext(domain="web", language="python")


def test_sequence_of_the_matching_family_outranks_one_from_another_domain() -> None:
    tools = ["run_migrations", "deploy"]
    ours = sequence(tools, context=WEB, key="ours")
    other = sequence(
        tools,
        context=PatternContext(domain="data", language="sql", task_type=TaskType.ANALYSIS),
        key="theirs",
    )
    ranked, _ = rank_patterns(
        [other, ours], "deploy and run migrations", TASK, TaskType.DEBUGGING, limit=5
    )
    assert [s.pattern.id for s in ranked] == [ours.id, other.id]
    assert ranked[0].score > ranked[1].score
    assert ranked[0].signals["context"] > ranked[1].signals["context"]


def test_lexical_overlap_with_tool_names_raises_the_score() -> None:
    named = sequence(["run_migrations", "deploy"], key="named")
    unrelated = sequence(["fetch_page", "summarize"], key="unrelated")
    ranked, _ = rank_patterns(
        [unrelated, named], "run the migrations, then deploy", TASK, TaskType.DEBUGGING, 5
    )
    # a pattern with no evidence of relevance to the task is not offered at all
    assert [s.pattern.id for s in ranked] == [named.id]
    assert ranked[0].signals["lexical"] > 0 and ranked[0].signals["relevance"] > 0


def test_a_task_is_matched_to_its_family_by_the_words_of_past_tasks() -> None:
    """A family's profile holds the words of its tasks, so a new task that names no tool
    still finds the family's sequence, and an unrelated family is not offered."""
    ours = sequence(["scaffold_service", "write_migration"], key="family:a")
    ours.members = ChoiceStats(n=10, successes=9)
    ours.terms = {"generate": 6, "service": 10, "endpoint": 4, "report": 3}
    ours.context_keys = {"web|debugging|python": 10}
    other = sequence(["load_dataset", "fit_model"], key="family:b")
    other.members = ChoiceStats(n=10, successes=9)
    other.terms = {"forecast": 10, "quarter": 7}
    ranked, _ = rank_patterns(
        [other, ours], "Generate a service for the inventory", TASK, TaskType.DEBUGGING, 5
    )
    assert [s.pattern.id for s in ranked] == [ours.id]
    assert ranked[0].signals["relevance"] > 0.5


def test_rank_respects_the_limit_and_heuristics_parallel_patterns() -> None:
    patterns: list[AnyPattern] = [
        sequence(["run_migrations", "deploy"], key="one"),
        sequence(["deploy", "healthcheck"], key="two"),
        decision_point(),
        error_recovery("start_db"),
    ]
    ranked, heuristics = rank_patterns(
        patterns, "deploy after migrate", TASK, TaskType.DEBUGGING, limit=3
    )
    assert len(ranked) == 3
    assert len(heuristics) == 3
    assert [h.heuristic.source_pattern_ids for h in heuristics] == [[s.pattern.id] for s in ranked]
    assert [h.heuristic for h in heuristics] == [derive_heuristic(s.pattern) for s in ranked]
    assert [h.score for h in heuristics] == [s.score for s in ranked]
    scores = [s.score for s in ranked]
    assert scores == sorted(scores, reverse=True)
    everything, _ = rank_patterns(patterns, "deploy after migrate", TASK, TaskType.DEBUGGING, 10)
    assert [s.pattern.id for s in everything][:3] == [s.pattern.id for s in ranked]


def test_decayed_patterns_rank_below_fresh_ones() -> None:
    fresh = sequence(["run_migrations", "deploy"], key="fresh")
    stale = sequence(["run_migrations", "deploy"], key="stale")
    stale.last_seen = utc_now() - timedelta(days=90)
    ranked, _ = rank_patterns([stale, fresh], "deploy", TASK, TaskType.DEBUGGING, 5)
    assert [s.pattern.id for s in ranked] == [fresh.id, stale.id]



def test_a_query_in_plain_words_finds_the_pattern_of_its_tools() -> None:
    """"the login test fails" names no tool, but "test" meets ``run_tests``."""
    from selfmem import MemoryConfig, SelfLearningMemory, TaskContext

    from .helpers import run_episode

    with SelfLearningMemory(config=MemoryConfig(learn_inline=True)) as memory:
        for i in range(6):
            run_episode(memory, f"Fix flaky checkout {i}", ["run_tests", "edit_code", "run_tests"],
                        context=TaskContext(domain="web", language="python"))  # fmt: skip
        found = memory.retrieve_relevant_context("the login test fails with 401")
        assert found.patterns, "a pattern about run_tests should be offered"
        assert "run_tests" in found.patterns[0].pattern.describe()
        assert found.patterns[0].signals["lexical"] > 0
