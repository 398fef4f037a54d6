"""The episode lifecycle through SelfLearningMemory on the embedded default."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from selfmem import (
    EpisodeStateError,
    ExecutionStep,
    InvalidInputError,
    LimitExceededError,
    Limits,
    MemoryConfig,
    NotFoundError,
    OutcomeStatus,
    SelfLearningMemory,
    StorageError,
    TaskContext,
    TaskOutcome,
    TaskType,
)

from .helpers import run_episode


def test_full_lifecycle_scores_and_reflects(memory: SelfLearningMemory) -> None:
    eid = memory.start_episode(
        "Fix the failing login test",
        TaskContext(domain="web", language="python", tags=["auth"]),
        TaskType.DEBUGGING,
    )
    memory.log_step(
        eid, ExecutionStep(tool="pytest", parameters={"path": "tests/"}, observation="1 failed")
    )
    memory.log_step(
        eid, tool="edit_file", parameters={"file": "login.py"}, error="permission denied"
    )
    memory.log_step(
        eid, tool="edit_file", parameters={"file": "login.py", "sudo": True}, observation="saved"
    )
    episode = memory.complete_episode(
        eid, TaskOutcome.success("tests pass", artifacts=["login.py"])
    )

    assert episode.is_complete and episode.end_time >= episode.start_time
    assert [s.step_number for s in episode.steps] == [1, 2, 3]
    assert [s.success for s in episode.steps] == [True, False, True]
    assert episode.reward is not None and episode.reward.base == 1.0
    assert episode.reward.learning_bonus > 0  # recovered from the edit_file error
    assert episode.reflection is not None
    assert any("pytest -> edit_file" in line for line in episode.reflection.what_worked)
    assert any("permission denied" in line for line in episode.reflection.what_failed)
    assert memory.get_episode(eid) == episode


def test_dict_inputs_are_accepted(memory: SelfLearningMemory) -> None:
    eid = memory.start_episode(
        "Summarise a report", {"domain": "docs", "tags": ["Q3"]}, "documentation"
    )
    memory.log_step(eid, {"tool": "read", "result": "text"})
    episode = memory.complete_episode(
        eid, {"status": "partial_success", "completed": ["a"], "failed": ["b"]}
    )
    assert episode.context.tags == ["q3"]
    assert episode.task_type is TaskType.DOCUMENTATION
    assert episode.steps[0].observation == "text"
    assert episode.outcome is not None and episode.outcome.status is OutcomeStatus.PARTIAL_SUCCESS
    assert episode.reward is not None and episode.reward.base == pytest.approx(0.5)


def test_explicit_step_numbers_are_kept_and_duplicates_rejected(memory: SelfLearningMemory) -> None:
    eid = memory.start_episode("Numbered steps")
    memory.log_step(eid, ExecutionStep(tool="a", step_number=5))
    assert memory.log_step(eid, ExecutionStep(tool="b")).step_number == 6
    with pytest.raises(InvalidInputError, match="already used"):
        memory.log_step(eid, ExecutionStep(tool="c", step_number=5))
    assert [s.tool for s in memory.get_episode(eid).steps] == ["a", "b"]


def test_steps_are_durable_after_flush(tmp_path: Path) -> None:
    memory = SelfLearningMemory.open(tmp_path, flush_interval_s=None)
    eid = memory.start_episode("Durable steps")
    memory.log_step(eid, tool="one")
    assert memory.flush() == 1
    reader = SelfLearningMemory.open(tmp_path, cache=False, flush_interval_s=None)
    assert [s.tool for s in reader.get_episode(eid).steps] == ["one"]
    reader.close()
    memory.close()


def test_buffer_flushes_when_full(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, flush_interval_s=None, flush_max_steps=3) as memory:
        eid = memory.start_episode("Many steps")
        for i in range(7):
            memory.log_step(eid, tool=f"t{i}")
        assert memory.stats().pending_steps == 1
        stored = memory._core.store.get_episode(memory.namespace, eid)
        assert stored is not None and len(stored.steps) == 6


def test_background_flusher_writes_on_interval(tmp_path: Path) -> None:
    import time

    with SelfLearningMemory.open(tmp_path, flush_interval_s=0.05) as memory:
        eid = memory.start_episode("Interval flush")
        memory.log_step(eid, tool="a")
        deadline = time.monotonic() + 5
        while memory.stats().pending_steps and time.monotonic() < deadline:
            time.sleep(0.02)
        stored = memory._core.store.get_episode(memory.namespace, eid)
        assert stored is not None and [s.tool for s in stored.steps] == ["a"]


def test_persists_across_reopen(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path) as memory:
        eid = run_episode(memory, "Persisted task", ["search", "write"])
    with SelfLearningMemory.open(tmp_path) as memory:
        episode = memory.get_episode(eid)
        assert [s.tool for s in episode.steps] == ["search", "write"]
        assert episode.outcome is not None and episode.outcome.is_success
        assert memory.stats().episodes == 1


def test_unknown_ids_raise_not_found(memory: SelfLearningMemory) -> None:
    for call in (
        lambda: memory.get_episode("nope"),
        lambda: memory.log_step("nope", tool="x"),
        lambda: memory.complete_episode("nope", TaskOutcome.success()),
        lambda: memory.delete_episode("nope"),
    ):
        with pytest.raises(NotFoundError, match="nope"):
            call()


def test_completed_episode_rejects_more_steps_and_completion(memory: SelfLearningMemory) -> None:
    eid = run_episode(memory, "Done already", ["a"])
    with pytest.raises(EpisodeStateError):
        memory.log_step(eid, tool="late")
    with pytest.raises(EpisodeStateError):
        memory.complete_episode(eid, TaskOutcome.success())


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda m: m.start_episode(""), "task_description"),
        (lambda m: m.start_episode("ok", task_type="Dancing!"), "task_type"),
        (lambda m: m.start_episode("ok", {"domain": ""}), "context.domain"),
        (lambda m: m.start_episode("ok", metadata="not a dict"), "metadata"),
        (lambda m: m.get_episode(""), "episode_id"),
        (lambda m: m.list_episodes(limit=0), "limit"),
        (lambda m: m.list_episodes(outcome="great"), "outcome"),
        (lambda m: m.retrieve_relevant_context("  "), "description"),
    ],
)
def test_bad_input_names_the_field(memory: SelfLearningMemory, call: object, field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        call(memory)  # type: ignore[operator]
    assert caught.value.field == field
    assert memory.stats().episodes == 0


def test_bad_step_is_rejected_and_episode_unharmed(memory: SelfLearningMemory) -> None:
    eid = memory.start_episode("Guarded")
    memory.log_step(eid, tool="good")
    with pytest.raises(InvalidInputError, match="step"):
        memory.log_step(eid, {"tool": ""})
    with pytest.raises(InvalidInputError):
        memory.log_step(eid, ExecutionStep(tool="x"), tool="y")
    episode = memory.complete_episode(eid, TaskOutcome.success())
    assert [s.tool for s in episode.steps] == ["good"]


def test_limits_are_enforced(tmp_path: Path) -> None:
    limits = Limits(max_description_chars=20, max_steps_per_episode=2, max_observation_chars=10)
    with SelfLearningMemory.open(
        tmp_path, config=MemoryConfig(limits=limits, flush_interval_s=None)
    ) as memory:
        with pytest.raises(
            LimitExceededError, match="task_description is 21 characters, over the limit of 20"
        ):
            memory.start_episode("x" * 21)
        eid = memory.start_episode("short")
        step = memory.log_step(eid, tool="a", observation="y" * 50)
        assert step.observation is not None and step.observation.startswith("y" * 10)
        assert step.metadata["truncated"] == ["observation"]
        memory.log_step(eid, tool="b")
        with pytest.raises(LimitExceededError, match="steps per episode"):
            memory.log_step(eid, tool="c")
        assert len(memory.complete_episode(eid, TaskOutcome.success()).steps) == 2


def test_secrets_are_redacted_before_storage(tmp_path: Path) -> None:
    secret = "sk-live1234567890abcdefghij"
    with SelfLearningMemory.open(tmp_path, flush_interval_s=None) as memory:
        eid = memory.start_episode(f"Call the API with key {secret}")
        headers = {"Authorization": f"Bearer {secret}"}
        memory.log_step(eid, tool="http", parameters={"headers": headers, "api_key": secret},
                        observation=f"connected to postgres://admin:{secret}@db/prod")  # fmt: skip
        memory.complete_episode(
            eid, TaskOutcome.failure(f"token {secret} rejected", error_details=f"password={secret}")
        )
    raw = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert secret.encode() not in raw
    with SelfLearningMemory.open(tmp_path) as memory:
        episode = memory.get_episode(eid)
        assert episode.steps[0].parameters["api_key"] == "[REDACTED]"
        assert "admin:[REDACTED]@db" in (episode.steps[0].observation or "")


def test_redaction_can_be_turned_off(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, redact_secrets=False) as memory:
        eid = memory.start_episode("uses password=hunter22")
        assert "hunter22" in memory.get_episode(eid).task_description


def test_list_filters_through_the_api(memory: SelfLearningMemory) -> None:
    ok = run_episode(memory, "Good one", ["a"])
    bad = run_episode(memory, "Bad one", ["a"], success=False)
    still_open = memory.start_episode("Open one")
    assert [e.id for e in memory.list_episodes(outcome="failure")] == [bad]
    assert [e.id for e in memory.list_episodes(open_only=True)] == [still_open]
    assert {e.id for e in memory.list_episodes(completed_only=True)} == {ok, bad}
    first = memory.get_episode(ok).start_time
    assert ok not in [
        e.id for e in memory.list_episodes(started_after=first + timedelta(microseconds=1))
    ]
    assert len(memory.list_episodes(limit=1)) == 1
    assert memory.list_episodes(limit=1, offset=1)[0].id != memory.list_episodes(limit=1)[0].id
    newest = memory.list_episodes(limit=1)
    assert memory.list_episodes(limit=2, after=newest[0]) == memory.list_episodes(offset=1)
    with pytest.raises(InvalidInputError, match="after must be Episode"):
        memory.list_episodes(after=ok)  # an id, not the episode


def test_closed_memory_refuses_work(tmp_path: Path) -> None:
    memory = SelfLearningMemory.open(tmp_path)
    memory.close()
    memory.close()  # idempotent
    with pytest.raises(StorageError, match="closed"):
        memory.start_episode("after close")


def test_open_rejects_a_file_as_directory(tmp_path: Path) -> None:
    from selfmem import ConfigError

    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(ConfigError, match="not a directory"):
        SelfLearningMemory.open(path)


def test_store_failure_on_completion_loses_nothing(tmp_path: Path) -> None:
    memory = SelfLearningMemory.open(tmp_path, flush_interval_s=None)
    eid = memory.start_episode("Will fail to complete once")
    memory.log_step(eid, tool="a")
    store = memory._core.store
    real_finish = store.finish_episode
    calls = {"n": 0}

    def flaky(*args: object) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise StorageError("disk full")
        return real_finish(*args)  # type: ignore[arg-type]

    store.finish_episode = flaky  # type: ignore[method-assign]
    with pytest.raises(StorageError, match="disk full"):
        memory.complete_episode(eid, TaskOutcome.success())
    assert memory.get_episode(eid).is_complete is False
    memory.log_step(eid, tool="b")
    episode = memory.complete_episode(eid, TaskOutcome.success())
    assert [s.tool for s in episode.steps] == ["a", "b"]
    memory.close()
    with SelfLearningMemory.open(tmp_path) as reopened:
        assert [s.tool for s in reopened.get_episode(eid).steps] == ["a", "b"]


def test_start_time_records_a_task_that_began_earlier(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    began = datetime.now(UTC) - timedelta(seconds=30)
    with SelfLearningMemory.open(tmp_path) as memory:
        eid = memory.start_episode("Backfill the report", start_time=began)
        episode = memory.complete_episode(eid, TaskOutcome.success())
        assert episode.start_time == began
        assert episode.duration_ms is not None and episode.duration_ms >= 30_000
        with pytest.raises(InvalidInputError, match="timezone-aware"):
            memory.start_episode("naive", start_time=datetime.now())
        with pytest.raises(InvalidInputError, match="future"):
            memory.start_episode("later", start_time=datetime.now(UTC) + timedelta(hours=1))
        assert memory.stats().episodes == 1
