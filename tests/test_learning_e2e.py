"""Learning end to end through SelfLearningMemory: episodes in, patterns and heuristics out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from selfmem import ExecutionStep, NotFoundError, SelfLearningMemory, TaskContext, TaskOutcome
from selfmem.learning import (
    DecisionPoint,
    ErrorRecovery,
    HeuristicKind,
    PatternKind,
    ToolSequence,
)

OPS = TaskContext(domain="ops", language="python", tags=["deploy"])
SEQUENCE = ["build_image", "run_migrations", "deploy", "healthcheck"]


def deploy_episode(
    memory: SelfLearningMemory, i: int, *, db_down: bool = False, shortcut: bool = False
) -> str:
    """One deploy: optionally the database is down first (recovered with start_db), or the
    agent takes a shortcut after migrations (deploy_fast), which usually fails."""
    eid = memory.start_episode(f"Deploy service {i} to staging", OPS)
    for tool in SEQUENCE:
        if tool == "run_migrations" and db_down:
            memory.log_step(eid, tool=tool, error=f"connection refused on port {5400 + i}")
            memory.log_step(eid, tool="start_db", observation="db up")
        if tool == "deploy" and shortcut:
            memory.log_step(eid, tool="deploy_fast", error="health check failed")
            memory.complete_episode(eid, TaskOutcome.failure("deploy_fast broke staging"))
            return eid
        memory.log_step(eid, ExecutionStep(tool=tool, observation=f"{tool} ok", latency_ms=50))
    memory.complete_episode(eid, TaskOutcome.success("staging healthy"))
    return eid


def train(memory: SelfLearningMemory, n: int = 30) -> None:
    for i in range(n):
        deploy_episode(memory, i, db_down=i % 4 == 0, shortcut=i % 5 == 4)
    memory.flush()  # waits for the background learner


def test_learns_sequence_recovery_decision_and_heuristics(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path) as memory:
        train(memory)
        sequences = memory.list_patterns(PatternKind.TOOL_SEQUENCE)
        assert len(sequences) == 1
        sequence = sequences[0]
        assert isinstance(sequence, ToolSequence) and sequence.tools == SEQUENCE
        assert sequence.context.domain == "ops" and sequence.context.language == "python"
        assert sequence.support >= 15 and sequence.success_rate == 1.0

        recoveries = {
            (r.tool, r.error_class): r.best_recovery
            for r in memory.list_patterns("error_recovery")
            if isinstance(r, ErrorRecovery)
        }
        # deploy_fast's error is not served as "no known recovery": every run stopped at
        # it, nothing was tried, so the memory has nothing to say about recovering from it
        assert recoveries == {("run_migrations", "connection refused on port <n>"): "start_db"}

        decisions = [
            p for p in memory.list_patterns("decision_point") if isinstance(p, DecisionPoint)
        ]
        assert [(d.after_tool, d.best, d.worst) for d in decisions] == [
            ("run_migrations", "deploy", "deploy_fast")
        ]

        kinds = {h.kind for h in memory.list_heuristics()}
        assert {HeuristicKind.FOLLOW_SEQUENCE, HeuristicKind.RECOVER, HeuristicKind.PREFER} <= kinds
        rule = next(h for h in memory.list_heuristics() if h.kind is HeuristicKind.RECOVER)
        assert rule.explain().startswith("When run_migrations fails with")
        assert "start_db" in rule.action
        assert memory.get_pattern(sequence.id) == sequence
        with pytest.raises(NotFoundError):
            memory.get_pattern("nope")
        assert memory.stats().patterns == len(memory.list_patterns(limit=1000))


def test_patterns_survive_reopen_and_keep_counting(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path) as memory:
        train(memory, 12)
        before = memory.list_patterns(PatternKind.TOOL_SEQUENCE)[0].support
    with SelfLearningMemory.open(tmp_path) as memory:
        assert memory.list_patterns(PatternKind.TOOL_SEQUENCE)[0].support == before
        deploy_episode(memory, 99)
        memory.flush()
        assert memory.list_patterns(PatternKind.TOOL_SEQUENCE)[0].support == before + 1
        assert memory.list_heuristics()  # heuristics are stored too


def test_a_family_longer_than_its_provenance_counts_the_same_runs_after_reopen(
    tmp_path: Path,
) -> None:
    """A family of 80 runs (more than the 50 ids a pattern keeps as provenance): after a
    reopen and one more run, its sequence counts the same runs as a store never closed."""
    kept, reopened = tmp_path / "kept", tmp_path / "reopened"
    with SelfLearningMemory.open(kept, learn_inline=True) as memory:
        for i in range(81):
            deploy_episode(memory, i)
        expected = memory.list_patterns(PatternKind.TOOL_SEQUENCE)[0]
    with SelfLearningMemory.open(reopened, learn_inline=True) as memory:
        for i in range(80):
            deploy_episode(memory, i)
    with SelfLearningMemory.open(reopened, learn_inline=True) as memory:
        deploy_episode(memory, 80)
        (sequence,) = memory.list_patterns(PatternKind.TOOL_SEQUENCE)
    assert isinstance(sequence, ToolSequence) and isinstance(expected, ToolSequence)
    assert (sequence.support, sequence.successes) == (expected.support, expected.successes)
    assert sequence.support == 81 and len(sequence.recent) == 81


def test_a_recovery_ages_the_same_after_a_reopen(tmp_path: Path) -> None:
    """Deploys push an image, then the registry answers "410 Gone" in four runs (each
    tries again), then the family goes on for months with ``publish_artifact`` and never
    calls ``push_image`` again. The error's pattern ages from when the tool was last called,
    not from the family's newest run: the same in a reopened store as in the one that
    learned it."""
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    gone = "410 Gone: use publish_artifact"
    runs: list[tuple[list[tuple[str, str | None]], bool, int]] = [
        *[([(t, None) for t in ("build", "push_image", "deploy")], True, 1)] * 10,
        *[([("build", None), ("push_image", gone), ("push_image", gone)], False, 1)] * 4,
        *[([(t, None) for t in ("build", "publish_artifact", "deploy")], True, 12)] * 8,
    ]
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        day = 0
        for i, (steps, success, gap) in enumerate(runs):
            day += gap
            when = start + timedelta(days=day)
            eid = memory.start_episode(f"Deploy service {i} to staging", OPS, start_time=when)
            for tool, error in steps:
                memory.log_step(eid, tool=tool, error=error, observation=None if error else "ok")
            outcome = TaskOutcome.success() if success else TaskOutcome.failure("registry")
            memory.complete_episode(eid, outcome, end_time=when + timedelta(minutes=5))
        found = memory.find_recovery("push_image", gone)
        assert found is not None
        learned = memory.pattern_effectiveness([found.id])
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        assert memory.pattern_effectiveness([found.id]) == learned
        again = memory.find_recovery("push_image", gone)
        assert again is not None and again.describe() == found.describe()


def test_retrieval_serves_learned_experience(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path) as memory:
        train(memory)
        result = memory.retrieve_relevant_context("Deploy the billing service to staging", OPS)
        assert isinstance(result.patterns[0].pattern, ToolSequence)
        text = result.render(max_tokens=600)
        assert (
            "Suggested tool sequence: build_image -> run_migrations -> deploy -> healthcheck"
            in text
        )
        assert "Learned rules:" in text and "start_db" in text
        recommended = memory.recommend_patterns("deploy to staging", OPS, limit=2)
        assert len(recommended) == 2 and recommended[0].score >= recommended[1].score
        assert "effectiveness" in recommended[0].signals


def test_reflection_and_reward_use_what_was_learned(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        train(memory)
        eid = deploy_episode(memory, 100, shortcut=True)
        episode = memory.get_episode(eid)
        assert episode.reflection is not None
        advice = [r for r in episode.reflection.recommendations if r.startswith("[pattern ")]
        assert any("prefer deploy over deploy_fast" in r for r in advice)
        assert "expected at most 10" in episode.reward.explanation[1]


def test_the_same_episode_gets_the_same_reward_whatever_was_learned(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        first = memory.get_episode(deploy_episode(memory, 500, db_down=True)).reward
        train(memory)  # the learner now knows this family well
        again = memory.get_episode(deploy_episode(memory, 500, db_down=True)).reward
        assert first is not None and again is not None
        assert again.model_dump() == first.model_dump()


def test_feedback_lowers_confidence_and_retires_failing_patterns(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        train(memory)
        sequence = memory.list_patterns(PatternKind.TOOL_SEQUENCE)[0]
        confidence = sequence.confidence
        served = memory.retrieve_relevant_context("Deploy service 7 to staging", OPS)
        assert sequence.id in served.pattern_ids()
        for i in range(8):
            eid = memory.start_episode(f"Deploy attempt {i}", OPS)
            memory.record_feedback(eid, pattern_ids=[sequence.id])
            memory.log_step(eid, tool="build_image", error="registry unavailable")
            memory.complete_episode(eid, TaskOutcome.failure("registry down"))
            if i == 0:
                assert memory.get_pattern(sequence.id).confidence < confidence
        retired = memory.get_pattern(sequence.id)
        assert retired.feedback_uses == 8 and retired.feedback_successes == 0
        assert retired.retired is True
        assert sequence.id not in [p.id for p in memory.list_patterns()]
        # retrieval sees the change at once (its pattern catalog is rebuilt on any change)
        after = memory.retrieve_relevant_context("Deploy service 7 to staging", OPS)
        assert sequence.id not in after.pattern_ids()


def test_feedback_via_heuristic_ids_on_a_completed_episode(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        train(memory)
        heuristic = next(h for h in memory.list_heuristics() if h.kind is HeuristicKind.RECOVER)
        eid = deploy_episode(memory, 200, db_down=True)
        memory.record_feedback(eid, heuristic_ids=[heuristic.id])
        pattern = memory.get_pattern(heuristic.source_pattern_ids[0])
        assert pattern.feedback_uses == 1 and pattern.feedback_successes == 1


def test_relearn_rebuilds_the_same_patterns(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path) as memory:
        train(memory)
        before = {(p.kind, p.key, p.support, p.successes) for p in memory.list_patterns(limit=1000)}
        seen: list[tuple[int, int]] = []
        assert memory.relearn(progress=lambda done, total: seen.append((done, total))) == 30
        after = {(p.kind, p.key, p.support, p.successes) for p in memory.list_patterns(limit=1000)}
        assert after == before
        assert seen[-1] == (30, 30)


def test_learning_stays_in_its_namespace(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, namespace="alice") as alice:
        train(alice)
        bob = alice.scoped("bob")
        assert bob.list_patterns() == [] and bob.list_heuristics() == []
        assert bob.retrieve_relevant_context("deploy to staging", OPS).patterns == []
        with pytest.raises(NotFoundError):
            bob.get_pattern(alice.list_patterns()[0].id)


async def test_async_learning_api(tmp_path: Path) -> None:
    async with SelfLearningMemory.open(tmp_path) as memory:
        for i in range(6):
            deploy_episode(memory, i)
        await memory.aflush()
        patterns = await memory.alist_patterns()
        assert patterns and (await memory.aget_pattern(patterns[0].id)).id == patterns[0].id
        assert await memory.alist_heuristics()
        assert await memory.arecommend_patterns("deploy", OPS)
        assert await memory.arelearn() == 6


def test_deleting_episodes_unlearns_them(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path) as memory:
        train(memory)
        haunted = []
        for i in range(4):  # a rare error whose text must not outlive its episodes
            eid = memory.start_episode(f"Deploy ghost {i}", OPS)
            memory.log_step(eid, tool="build_image", error="zanzibarquux registry exploded")
            memory.log_step(eid, tool="build_image", observation="ok")
            memory.complete_episode(eid, TaskOutcome.success())
            haunted.append(eid)
        memory.flush()
        classes = [r.error_class for r in memory.list_patterns("error_recovery")]
        assert "zanzibarquux registry exploded" in classes
        oldest = memory.list_episodes(limit=1000)[-1]
        assert oldest.task_description == "Deploy service 0 to staging"
        for eid in [*haunted, oldest.id]:
            memory.delete_episode(eid)

        def summary() -> set[tuple[str, str, int, int]]:
            # a family is keyed by the episode that started it, which relearning without the
            # deleted episodes may be another one: name families by their tools instead
            patterns = memory.list_patterns(include_unserved=True, limit=10_000)
            names = {p.key: "+".join(p.tools) for p in patterns if isinstance(p, ToolSequence)}
            renamed = []
            for p in patterns:
                family, _, rest = p.key.partition("|")
                key = f"{names[family]}|{rest}" if family in names else p.key
                renamed.append((p.kind.value, key, p.support, p.successes))
            return set(renamed)

        after_delete = summary()
        assert all("zanzibarquux" not in key for _, key, _, _ in after_delete)
        assert all("zanzibarquux" not in h.explain() for h in memory.list_heuristics())
        shown = [p.describe() for p in memory.list_patterns(include_unserved=True, limit=10_000)]
        shown += [h.explain() for h in memory.list_heuristics()]
        assert shown and all(oldest.task_description not in text for text in shown)
        assert all(
            eid not in p.episode_ids
            for p in memory.list_patterns(include_unserved=True, limit=10_000)
            for eid in haunted
        )
        memory.relearn()
        assert summary() == after_delete  # forgetting is the exact inverse of learning
    files = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert b"zanzibarquux" not in files


def test_listed_and_retrieved_patterns_are_snapshots(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        train(memory)
        listed = memory.list_patterns(PatternKind.TOOL_SEQUENCE)[0]
        served = memory.retrieve_relevant_context("Deploy service 3 to staging", OPS).patterns[0]
        support = listed.support
        listed.support = 10_000  # a caller's change does not reach the learner
        assert memory.get_pattern(listed.id).support == support
        deploy_episode(memory, 300)  # the learner's later change does not reach the caller
        assert memory.get_pattern(listed.id).support == support + 1
        assert served.pattern.support == support


def test_listed_patterns_page_and_filter_by_evidence(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        train(memory)
        every = memory.list_patterns(include_unserved=True, limit=1000)
        assert len(every) >= 3
        pages = [memory.list_patterns(include_unserved=True, limit=2, offset=start)
                 for start in range(0, len(every), 2)]  # fmt: skip
        assert [p.id for page in pages for p in page] == [p.id for p in every]
        assert memory.list_patterns(include_unserved=True, offset=len(every)) == []

        shortcut = deploy_episode(memory, 400, shortcut=True)
        found = memory.list_patterns(include_unserved=True, limit=1000, episode_id=shortcut)
        assert found and all(shortcut in p.episode_ids for p in found)
        expected = [p.id for p in memory.list_patterns(include_unserved=True, limit=1000)
                    if shortcut in p.episode_ids]  # fmt: skip
        assert [p.id for p in found] == expected
        assert memory.list_patterns(include_unserved=True, episode_id="never-seen") == []
        with pytest.raises(ValueError, match="offset"):
            memory.list_patterns(offset=-1)
