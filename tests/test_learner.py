"""PatternLearner: episodes built by hand in, patterns and serving decisions out (no storage)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from selfmem import Episode, ExecutionStep, RewardScore, TaskContext, TaskOutcome, TaskType
from selfmem.learning import (
    AnyPattern,
    ChoiceStats,
    ContextPattern,
    DecisionPoint,
    ErrorRecovery,
    LearningConfig,
    PatternKind,
    PatternLearner,
    ToolSequence,
)
from selfmem.records.episodes import utc_now
from selfmem.records.learned import MAX_PROVENANCE, pattern_adapter, stable_id
from selfmem.records.stats import two_proportion_z

NS = "tests"
BASE = utc_now() - timedelta(hours=1)
WEB = TaskContext(domain="web", language="python")

Step = str | tuple[str, str]  # a tool that succeeds, or (tool, error)


def episode(
    tools: list[Step],
    *,
    success: bool = True,
    context: TaskContext = WEB,
    task_type: TaskType = TaskType.DEBUGGING,
    minute: int = 0,
    duration_s: float = 10.0,
    reward: float | None = None,
    latency_ms: float = 0.0,
) -> Episode:
    """A completed episode ending ``minute`` minutes after BASE."""
    steps = [
        ExecutionStep(tool=t[0], error=t[1], latency_ms=latency_ms)
        if isinstance(t, tuple)
        else ExecutionStep(tool=t, observation=f"{t} ok", latency_ms=latency_ms)
        for t in tools
    ]
    end = BASE + timedelta(minutes=minute)
    return Episode(
        namespace=NS,
        task_description="Fix the failing build",
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


def sequences(learner: PatternLearner) -> list[ToolSequence]:
    return [p for p in learner.all_patterns() if isinstance(p, ToolSequence)]


def decision(learner: PatternLearner, after: str) -> DecisionPoint:
    found = [p for p in learner.all_patterns() if isinstance(p, DecisionPoint)]
    matches = [p for p in found if p.after_tool == after]
    assert len(matches) == 1
    return matches[0]


def recovery(learner: PatternLearner, tool: str) -> ErrorRecovery:
    found = [p for p in learner.all_patterns() if isinstance(p, ErrorRecovery) and p.tool == tool]
    assert len(found) == 1
    return found[0]


def context_pattern(learner: PatternLearner, feature: str, tool: str) -> ContextPattern:
    found = [
        p
        for p in learner.all_patterns()
        if isinstance(p, ContextPattern) and p.feature == feature and p.tool == tool
    ]
    assert len(found) == 1
    return found[0]


# --- tool sequences --------------------------------------------------------------------


def test_sequence_is_the_consensus_of_successful_runs_without_noise_tools() -> None:
    learner = PatternLearner(NS)
    observe_all(
        learner,
        [
            episode(["search", "read", "edit", "test"], minute=0),
            episode(["search", "browse", "read", "edit", "test"], minute=1),
            episode(["search", "read", "edit", "ask", "test"], minute=2),
            episode(["search", "read", "edit", "test", "commit"], minute=3),
            episode(["search", "read", "edit", "test"], minute=4),
        ],
    )
    (sequence,) = sequences(learner)
    assert sequence.tools == ["search", "read", "edit", "test"]
    assert sequence.key == "web|debugging|python"
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


def test_sequence_with_a_poor_success_rate_is_not_served() -> None:
    learner = PatternLearner(NS)
    observe_all(learner, [episode(["a", "b", "c"], minute=i) for i in range(3)])
    observe_all(learner, [episode(["a", "b", "c"], success=False, minute=5 + i) for i in range(2)])
    (sequence,) = sequences(learner)
    assert (sequence.support, sequence.successes) == (5, 3)
    assert sequence.confidence < learner.config.sequence_min_confidence
    assert not learner.is_served(sequence)
    assert learner.patterns(PatternKind.TOOL_SEQUENCE) == []
    assert learner.patterns(PatternKind.TOOL_SEQUENCE, served_only=False) == [sequence]


def test_single_tool_consensus_is_not_a_sequence() -> None:
    learner = PatternLearner(NS)
    observe_all(learner, [episode(["edit"], minute=i) for i in range(5)])
    assert sequences(learner) == []


def test_task_families_get_separate_sequences() -> None:
    learner = PatternLearner(NS)
    rust = TaskContext(domain="web", language="rust")
    observe_all(learner, [episode(["a", "b"], minute=i) for i in range(3)])
    observe_all(learner, [episode(["c", "d"], context=rust, minute=i) for i in range(3)])
    by_key = {s.key: s.tools for s in sequences(learner)}
    assert by_key == {"web|debugging|python": ["a", "b"], "web|debugging|rust": ["c", "d"]}


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


# --- decision points -------------------------------------------------------------------


def test_decision_point_names_best_and_worst_when_effect_and_z_are_met() -> None:
    learner = PatternLearner(NS)
    observe_all(learner, [episode(["plan", "edit", "test"], minute=i) for i in range(3)])
    observe_all(
        learner, [episode(["plan", "guess"], success=False, minute=5 + i) for i in range(3)]
    )
    point = decision(learner, "plan")
    assert point.choices == {
        "edit": ChoiceStats(n=3, successes=3),
        "guess": ChoiceStats(n=3, successes=0),
    }
    assert (point.best, point.worst) == ("edit", "guess")
    assert point.support == 6 and point.successes == 3
    assert learner.is_served(point)


def test_decision_point_needs_a_significant_difference() -> None:
    # 3/3 vs 1/3: a large effect (0.67) but z = 1.73 < 2
    learner = PatternLearner(NS)
    observe_all(learner, [episode(["plan", "edit"], minute=i) for i in range(3)])
    observe_all(
        learner, [episode(["plan", "guess"], success=i == 0, minute=5 + i) for i in range(3)]
    )
    point = decision(learner, "plan")
    assert point.choices["guess"] == ChoiceStats(n=3, successes=1)
    assert two_proportion_z(3, 3, 1, 3) < learner.config.decision_min_z
    assert point.best is None and point.worst is None
    assert not learner.is_served(point)


def test_decision_point_needs_a_large_enough_effect() -> None:
    # 36/40 vs 28/40: significant (z = 2.24) but only 0.2 apart
    learner = PatternLearner(NS)
    observe_all(learner, [episode(["plan", "edit"], success=i < 36, minute=i) for i in range(40)])
    observe_all(
        learner, [episode(["plan", "guess"], success=i < 28, minute=50 + i) for i in range(40)]
    )
    point = decision(learner, "plan")
    assert point.choices["edit"].n == 40 and point.choices["guess"].n == 40
    assert two_proportion_z(36, 40, 28, 40) >= learner.config.decision_min_z
    assert point.best is None
    assert not learner.is_served(point)


def test_decision_point_is_not_served_when_choices_are_similar() -> None:
    learner = PatternLearner(NS)
    observe_all(learner, [episode(["plan", "edit"], success=i < 4, minute=i) for i in range(5)])
    observe_all(
        learner, [episode(["plan", "guess"], success=i < 4, minute=10 + i) for i in range(5)]
    )
    point = decision(learner, "plan")
    assert point.best is None and point.worst is None
    assert not learner.is_served(point)


def test_decision_point_ignores_choices_below_min_support() -> None:
    learner = PatternLearner(NS)
    observe_all(learner, [episode(["plan", "edit"], minute=i) for i in range(5)])
    observe_all(
        learner, [episode(["plan", "guess"], success=False, minute=10 + i) for i in range(2)]
    )
    assert decision(learner, "plan").best is None
    learner.observe(episode(["plan", "guess"], success=False, minute=20))
    assert decision(learner, "plan").best == "edit"


# --- error recovery --------------------------------------------------------------------


def test_error_recovery_learns_the_recovery_that_works() -> None:
    learner = PatternLearner(NS)
    for i in range(3):
        error = f"connection refused on port {5400 + i}"
        learner.observe(episode([("migrate", error), "start_db", "migrate"], minute=i))
    pattern = recovery(learner, "migrate")
    assert pattern.error_class == "connection refused on port <n>"
    assert pattern.recoveries == {"start_db": ChoiceStats(n=3, successes=3)}
    assert pattern.best_recovery == "start_db"
    assert pattern.support == 3 and pattern.unrecovered == 0
    assert learner.is_served(pattern)


def test_error_recovery_needs_min_support() -> None:
    learner = PatternLearner(NS)
    for i in range(2):
        learner.observe(episode([("migrate", "refused"), "start_db", "migrate"], minute=i))
    pattern = recovery(learner, "migrate")
    assert pattern.best_recovery is None
    assert not learner.is_served(pattern)


def test_best_recovery_prefers_the_better_evidence_over_the_more_frequent_tool() -> None:
    # "lint" runs after every failure (noise) and recovers 6 of 10 episodes; "clean" is the
    # real fix: 5 of 5.
    learner = PatternLearner(NS)
    for i in range(10):
        tools: list[Step] = [("build", "linker error"), "lint"]
        if i < 5:
            tools.append("clean")
        tools.append("build")
        if i >= 6:
            tools.append(("test", "assertion failed"))
        learner.observe(episode(tools, success=i < 6, minute=i))
    pattern = recovery(learner, "build")
    assert pattern.recoveries["lint"] == ChoiceStats(n=10, successes=6)
    assert pattern.recoveries["clean"] == ChoiceStats(n=5, successes=5)
    assert pattern.best_recovery == "clean"


def test_an_error_never_recovered_is_served_as_having_no_known_recovery() -> None:
    learner = PatternLearner(NS)
    for i in range(3):
        learner.observe(
            episode(["build", ("deploy", "health check failed")], success=False, minute=i)
        )
    pattern = recovery(learner, "deploy")
    assert pattern.best_recovery is None
    assert pattern.recoveries == {}
    assert pattern.unrecovered == 3
    assert "no known recovery" in pattern.describe()
    assert learner.is_served(pattern)


def test_no_known_recovery_needs_min_support_unrecovered_failures() -> None:
    learner = PatternLearner(NS)
    for i in range(2):
        learner.observe(episode([("deploy", "health check failed")], success=False, minute=i))
    assert not learner.is_served(recovery(learner, "deploy"))


# --- context patterns ------------------------------------------------------------------


def rust_vs_python(
    learner: PatternLearner, rust_ok: int = 0, python_ok: int = 5, n: int = 5
) -> None:
    rust = TaskContext(domain="web", language="rust")
    observe_all(learner, [episode(["compile"], success=i < python_ok, minute=i) for i in range(n)])
    observe_all(
        learner,
        [episode(["compile"], context=rust, success=i < rust_ok, minute=20 + i) for i in range(n)],
    )


def test_context_pattern_failure_association_against_its_baseline() -> None:
    learner = PatternLearner(NS)
    rust_vs_python(learner)
    pattern = context_pattern(learner, "language=rust", "compile")
    assert learner.is_served(pattern)
    assert pattern.association == "failure"
    assert (pattern.support, pattern.successes) == (5, 0)
    assert pattern.baseline == ChoiceStats(n=5, successes=5)
    assert pattern.confidence == pytest.approx(0.5655, abs=1e-4)


def test_context_pattern_success_association() -> None:
    learner = PatternLearner(NS)
    rust_vs_python(learner)
    pattern = context_pattern(learner, "language=python", "compile")
    assert learner.is_served(pattern)
    assert pattern.association == "success"
    assert pattern.baseline == ChoiceStats(n=5, successes=0)


def test_features_shared_by_every_episode_have_no_baseline_and_are_not_served() -> None:
    learner = PatternLearner(NS)
    rust_vs_python(learner)
    pattern = context_pattern(learner, "domain=web", "compile")
    assert pattern.support == 10
    assert not learner.is_served(pattern)
    assert pattern.baseline.n == 0


def test_context_pattern_is_not_served_for_an_insignificant_difference() -> None:
    # 2/5 vs 4/5: a 0.4 effect, but z = 1.29
    learner = PatternLearner(NS)
    rust_vs_python(learner, rust_ok=2, python_ok=4)
    assert not learner.is_served(context_pattern(learner, "language=rust", "compile"))
    assert not learner.is_served(context_pattern(learner, "language=python", "compile"))


def test_context_pattern_is_not_served_for_a_small_sample() -> None:
    learner = PatternLearner(NS)
    rust_vs_python(learner, rust_ok=0, python_ok=4, n=4)
    pattern = context_pattern(learner, "language=rust", "compile")
    assert (pattern.support, pattern.successes) == (4, 0)
    assert not learner.is_served(pattern)


def test_context_pattern_is_not_served_for_a_small_difference() -> None:
    # 70/100 vs 90/100: significant (z = 3.54) but only 0.2 apart
    learner = PatternLearner(NS)
    rust_vs_python(learner, rust_ok=70, python_ok=90, n=100)
    assert two_proportion_z(70, 100, 90, 100) <= -learner.config.context_min_z
    pattern = context_pattern(learner, "language=rust", "compile")
    assert (pattern.support, pattern.successes) == (100, 70)
    assert not learner.is_served(pattern)
    assert pattern.baseline == ChoiceStats(n=100, successes=90)


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
    first, second, other = PatternLearner(NS), PatternLearner(NS), PatternLearner("elsewhere")
    for learner in (first, second, other):
        learner.observe(episode([("fetch", "timeout"), "fetch"]))
    assert {p.id for p in first.all_patterns()} == {p.id for p in second.all_patterns()}
    assert not {p.id for p in first.all_patterns()} & {p.id for p in other.all_patterns()}


def test_observe_returns_each_changed_pattern_once() -> None:
    learner = PatternLearner(NS)
    changed = learner.observe(episode(["a", "b", "a", "c", ("d", "x")]))
    ids = [p.id for p in changed]
    assert len(ids) == len(set(ids))
    kinds = {p.kind for p in changed}
    assert kinds == {
        PatternKind.DECISION_POINT,
        PatternKind.ERROR_RECOVERY,
        PatternKind.CONTEXT_PATTERN,
    }


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
    rust_vs_python(first)
    second = PatternLearner(NS)
    second.load(roundtrip(first.all_patterns()))
    assert {p.id for p in second.all_patterns()} == {p.id for p in first.all_patterns()}

    second.observe(episode([("migrate", "refused"), "start_db", "migrate"], minute=40))
    pattern = recovery(second, "migrate")
    assert pattern.support == 4
    assert pattern.recoveries["start_db"] == ChoiceStats(n=4, successes=4)

    rust = TaskContext(domain="web", language="rust")
    second.observe(episode(["compile"], context=rust, success=False, minute=41))
    ctx = context_pattern(second, "language=rust", "compile")
    assert (ctx.support, ctx.successes) == (6, 0)
    assert second.is_served(ctx)
    # the baseline (compile outside rust) comes from the loaded tool totals
    assert ctx.baseline == ChoiceStats(n=5, successes=5)


def test_loaded_patterns_are_served_alike() -> None:
    first = PatternLearner(NS)
    served_recovery(first)
    second = PatternLearner(NS)
    second.load(roundtrip(first.all_patterns()))
    assert [p.id for p in second.patterns()] == [p.id for p in first.patterns()]


def test_seeded_family_history_counts_towards_the_sequence() -> None:
    learner = PatternLearner(NS)
    history = [episode(["a", "b", "c"], minute=i) for i in range(2)]
    learner.seed_family("web|debugging|python", history)
    assert learner.knows_family("web|debugging|python")
    assert sequences(learner) == []
    learner.observe(episode(["a", "b", "c"], minute=3))
    (sequence,) = sequences(learner)
    assert sequence.support == 3


# --- baseline and guards ---------------------------------------------------------------


def test_baseline_medians_and_known_paths_of_successful_runs() -> None:
    learner = PatternLearner(NS)
    observe_all(
        learner,
        [
            episode(["a", "b"], duration_s=10, minute=0),
            episode(["a", "a", "b", "c"], duration_s=30, minute=1),
            episode(["a", "b", "c"], duration_s=20, minute=2),
            episode(["x"] * 9, success=False, duration_s=500, minute=3),
        ],
    )
    baseline = learner.baseline("web|debugging|python")
    assert baseline is not None
    assert baseline.runs == 3
    assert baseline.median_steps == 3  # steps counted with retries: 2, 4, 3
    assert baseline.median_duration_ms == pytest.approx(20_000)
    assert baseline.known_paths == frozenset({("a", "b"), ("a", "b", "c")})


def test_no_baseline_without_a_successful_run() -> None:
    learner = PatternLearner(NS)
    assert learner.baseline("web|debugging|python") is None
    learner.observe(episode(["a"], success=False))
    assert learner.baseline("web|debugging|python") is None


def test_observe_needs_an_outcome() -> None:
    learner = PatternLearner(NS)
    open_episode = Episode(task_description="still running", steps=[ExecutionStep(tool="a")])
    with pytest.raises(ValueError, match="completed episode"):
        learner.observe(open_episode)
    assert learner.all_patterns() == []


def test_patterns_are_listed_most_effective_first() -> None:
    learner = PatternLearner(NS)
    served_recovery(learner)
    observe_all(learner, [episode(["plan", "edit"], minute=i) for i in range(10)])
    observe_all(
        learner, [episode(["plan", "guess"], success=False, minute=20 + i) for i in range(10)]
    )
    served = learner.patterns()
    assert len(served) >= 2
    scores = [p.effectiveness() for p in served]
    assert scores == sorted(scores, reverse=True)
    assert all(learner.is_served(p) for p in served)


def test_patterns_filter_by_kind() -> None:
    learner = PatternLearner(NS)
    served_recovery(learner)
    found = learner.patterns(PatternKind.ERROR_RECOVERY)
    assert [p.kind for p in found] == [PatternKind.ERROR_RECOVERY]
    assert learner.patterns(PatternKind.DECISION_POINT) == []
