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
    derive_heuristic,
)
from selfmem.records.episodes import utc_now

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


def plan_then(learner: PatternLearner, edit: tuple[int, int], guess: tuple[int, int]) -> None:
    """``plan`` followed by ``edit`` (successes, runs) and by ``guess`` (successes, runs)."""
    ok, n = edit
    observe_all(learner, [episode(["plan", "edit"], success=i < ok, minute=i) for i in range(n)])
    ok, n = guess
    observe_all(
        learner, [episode(["plan", "guess"], success=i < ok, minute=100 + i) for i in range(n)]
    )


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
    # the answer is remembered only while the learner is unchanged: once runs like it are
    # learned, it is theirs
    notes = TaskContext(domain="docs")
    observe_all(learner, [episode(["x", "y"], task="Write release notes", context=notes,
                                  minute=20 + i) for i in range(3)])  # fmt: skip
    assert learner.family_of(unrelated) not in (None, family.key)


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


def _paged(counts: list[int], minute: int) -> Episode:
    """A run that calls ``search`` once per page (``counts[0]`` pages), then
    ``fetch`` ``counts[1]`` times on different ids, then ``answer``."""
    run = episode(["answer"], minute=minute)
    steps = [
        ExecutionStep(tool=tool, parameters={"page": page}, observation="ok")
        for tool, count in zip(("search", "fetch"), counts, strict=True)
        for page in range(count)
    ]
    return run.model_copy(update={"steps": [*steps, *run.steps]})


def test_a_run_that_repeated_a_call_fewer_times_still_follows_the_sequence() -> None:
    learner = PatternLearner(NS)
    # eight of the ten runs page through search three times or more, two only twice
    counts = [[3, 1], [5, 3], [3, 2], [6, 1], [2, 4], [4, 2], [3, 3], [2, 1], [5, 2], [4, 1]]
    observe_all(learner, [_paged(c, minute=i) for i, c in enumerate(counts)])
    (sequence,) = sequences(learner)
    assert sequence.tools == ["search", "search", "search", "fetch", "answer"]
    assert sequence.support == sequence.successes == len(counts)  # every run follows it
    assert learner.is_served(sequence)


def test_a_call_every_run_repeats_as_often_stays_repeated() -> None:
    learner = PatternLearner(NS)
    observe_all(learner, [_paged([2, 3], minute=i) for i in range(4)])
    (sequence,) = sequences(learner)
    assert sequence.tools == ["search", "search", "fetch", "fetch", "fetch", "answer"]


def test_an_abandoned_episode_teaches_the_learner_nothing() -> None:
    learner = PatternLearner(NS)
    observe_all(learner, [episode(["lint", "test"], minute=i) for i in range(3)])
    before = [p.model_copy() for p in learner.all_patterns()]
    stopped = episode(["lint", ("test", "killed")], minute=4)
    stopped = stopped.model_copy(update={"outcome": TaskOutcome.abandoned("user closed it")})
    assert learner.observe(stopped) == []
    assert learner.all_patterns() == before
    (sequence,) = sequences(learner)
    assert (sequence.support, sequence.successes) == (3, 3)
    assert learner.forget(stopped) == ([], [])  # nor does forgetting it change anything
    assert learner.all_patterns() == before


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
