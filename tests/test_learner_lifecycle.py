"""PatternLearner: forgetting, feedback, decay, reloading, and the guards and listing."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from selfmem import Episode, ExecutionStep
from selfmem.learning import (
    AnyPattern,
    ChoiceStats,
    ErrorRecovery,
    PatternKind,
    PatternLearner,
)
from selfmem.records.learned import pattern_adapter, stable_id

from .test_learner import (
    BASE,
    NS,
    Step,
    backup_under_legacy,
    context_pattern,
    episode,
    families,
    observe_all,
    plan_then,
    recovery,
    sequences,
)

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


def test_a_forgotten_episodes_words_leave_its_family() -> None:
    # the family's example task came from the first run; deleting that run must not leave
    # its text in what the memory shows (a deleted episode may be deleted for its words)
    first = episode(["read_file", "edit_file", "run_tests"], task="Fix the login bug for ACME-7731")
    rest = [
        episode(["read_file", "edit_file", "run_tests"], task=f"Fix the login bug {i}", minute=i)
        for i in range(1, 6)
    ]
    learner = PatternLearner(NS)
    observe_all(learner, [first, *rest])
    (family,) = families(learner)
    assert family.sample_task == first.task_description
    learner.forget(first)
    (family,) = families(learner)
    assert family.sample_task == rest[0].task_description
    assert "ACME-7731" not in family.describe()


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


YEAR_AGO = -365 * 24 * 60  # minutes before BASE


def _a_year_ago_recovery(learner: PatternLearner) -> ErrorRecovery:
    for i in range(3):
        learner.observe(
            episode([("migrate", "refused"), "start_db", "migrate"], minute=YEAR_AGO + i)
        )
    return recovery(learner, "migrate")


def test_a_history_from_last_year_serves_what_it_taught() -> None:
    """Age is not taken at the wall clock: a memory left alone for a year, or a history
    imported from then, still serves, and goes on serving when new episodes of other tasks
    come in."""
    learner = PatternLearner(NS)
    pattern = _a_year_ago_recovery(learner)
    assert learner.is_served(pattern) and pattern in learner.patterns()
    learner.observe(episode(["read_file", "edit_file"], task="Rename a config key", minute=0))
    assert learner.is_served(pattern) and pattern in learner.patterns()
    assert learner.effectiveness(pattern) == pytest.approx(pattern.confidence)


def test_a_recovery_ages_while_its_tool_works_without_the_error() -> None:
    learner = PatternLearner(NS)
    pattern = _a_year_ago_recovery(learner)
    learner.observe(episode(["start_db", "migrate"], task="Migrate the orders table", minute=0))
    assert not learner.is_served(pattern) and pattern not in learner.patterns()


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
