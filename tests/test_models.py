"""The records: defaults, normalisation, helpers, ids, and exact JSON round-trips."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from selfmem import (
    ComplexityLevel,
    Episode,
    ExecutionStep,
    OutcomeStatus,
    Reflection,
    RewardScore,
    TaskContext,
    TaskOutcome,
    TaskType,
)
from selfmem.records.episodes import new_id

# --- ExecutionStep ---------------------------------------------------------------------


def test_step_defaults() -> None:
    step = ExecutionStep(tool="search")
    assert step.success is True
    assert step.action == ""
    assert step.parameters == {}
    assert step.observation is None
    assert step.error is None
    assert step.latency_ms == 0.0
    assert step.tokens is None
    assert step.step_number is None
    assert step.metadata == {}
    assert step.timestamp.tzinfo is not None


def test_step_with_error_is_a_failure() -> None:
    assert ExecutionStep(tool="bash", error="exit 1").success is False


def test_step_explicit_success_wins_over_error() -> None:
    # A tool may report a warning in ``error`` and still have worked.
    assert ExecutionStep(tool="bash", error="warning: deprecated", success=True).success is True


def test_step_with_empty_error_stays_successful() -> None:
    assert ExecutionStep(tool="bash", error="").success is True


def test_step_accepts_result_as_alias_for_observation() -> None:
    step = ExecutionStep(tool="search", result="3 hits")
    assert step.observation == "3 hits"
    assert step.result == "3 hits"
    assert ExecutionStep.model_validate({"tool": "search", "result": "x"}).observation == "x"


def test_step_requires_a_tool_name() -> None:
    with pytest.raises(pydantic.ValidationError):
        ExecutionStep(tool="")


@pytest.mark.parametrize("field, value", [("latency_ms", -1.0), ("tokens", -1), ("step_number", 0)])
def test_step_rejects_negative_numbers(field: str, value: float) -> None:
    with pytest.raises(pydantic.ValidationError):
        ExecutionStep.model_validate({"tool": "t", field: value})


def test_naive_step_timestamp_is_taken_as_utc() -> None:
    step = ExecutionStep(tool="t", timestamp=datetime(2024, 5, 1, 12, 0))
    assert step.timestamp == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert step.timestamp.utcoffset() == timedelta(0)


def test_aware_timestamps_are_converted_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    episode = Episode(
        task_description="x",
        start_time=datetime(2024, 5, 1, 14, 0, tzinfo=plus_two),
        end_time=datetime(2024, 5, 1, 14, 30, tzinfo=plus_two),
    )
    assert episode.start_time.utcoffset() == timedelta(0)
    assert episode.start_time.hour == 12
    assert episode.end_time is not None
    assert episode.end_time.hour == 12
    assert episode.end_time.minute == 30


def test_assignment_is_validated_too() -> None:
    episode = Episode(task_description="x")
    episode.end_time = datetime(2024, 1, 1)  # naive
    assert episode.end_time.tzinfo is not None
    episode.task_type = "cooking"  # type: ignore[assignment]  # a custom task type
    assert episode.task_type == "cooking" and isinstance(episode.task_type, TaskType)
    with pytest.raises(pydantic.ValidationError):
        episode.task_type = "Not A Type"  # type: ignore[assignment]


# --- TaskContext -----------------------------------------------------------------------


def test_context_defaults() -> None:
    ctx = TaskContext()
    assert ctx.domain == "general"
    assert ctx.language is None
    assert ctx.framework is None
    assert ctx.tags == []
    assert ctx.complexity is ComplexityLevel.MODERATE


def test_context_tags_are_stripped_lowercased_and_deduplicated_in_order() -> None:
    ctx = TaskContext(tags=[" API ", "api", "Bug", "", "   ", "bug", "perf"])
    assert ctx.tags == ["api", "bug", "perf"]


def test_context_domain_is_stripped() -> None:
    assert TaskContext(domain="  web  ").domain == "web"


@pytest.mark.parametrize("domain", ["", "   ", "\t\n"])
def test_context_rejects_blank_domain(domain: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="domain must not be blank"):
        TaskContext(domain=domain)


def test_context_complexity_accepts_its_string_value() -> None:
    assert TaskContext(complexity="complex").complexity is ComplexityLevel.COMPLEX  # type: ignore[arg-type]


# --- TaskOutcome -----------------------------------------------------------------------


def test_outcome_success() -> None:
    outcome = TaskOutcome.success("tests pass", artifacts=["fix.py"])
    assert outcome.status is OutcomeStatus.SUCCESS
    assert outcome.is_success
    assert outcome.verdict == "tests pass"
    assert outcome.artifacts == ["fix.py"]
    assert outcome.completed_fraction == 1.0
    assert outcome.summary() == "success: tests pass"


def test_outcome_success_without_verdict_summarises_the_status() -> None:
    assert TaskOutcome.success().summary() == "success"


def test_outcome_partial() -> None:
    outcome = TaskOutcome.partial("half", completed=["a", "b", "c"], failed=["d"])
    assert outcome.status is OutcomeStatus.PARTIAL_SUCCESS
    assert not outcome.is_success
    assert outcome.completed_fraction == 0.75
    assert outcome.summary() == "partial_success: half"


def test_outcome_partial_without_items_counts_as_half_done() -> None:
    outcome = TaskOutcome.partial()
    assert outcome.completed_fraction == 0.5
    assert outcome.summary() == "partial success"


def test_outcome_failure() -> None:
    outcome = TaskOutcome.failure("timeout", error_details="after 30s")
    assert outcome.status is OutcomeStatus.FAILURE
    assert not outcome.is_success
    assert outcome.reason == "timeout"
    assert outcome.error_details == "after 30s"
    assert outcome.completed_fraction == 0.0
    assert outcome.summary() == "failure: timeout"


# --- Episode ---------------------------------------------------------------------------


def test_episode_defaults() -> None:
    episode = Episode(task_description="Fix the failing test")
    assert episode.namespace == "default"
    assert episode.task_type is TaskType.OTHER
    assert episode.context == TaskContext()
    assert episode.steps == []
    assert episode.outcome is None
    assert episode.reward is None
    assert episode.reflection is None
    assert episode.metadata == {}
    assert uuid.UUID(episode.id).version == 7


def test_episode_requires_a_description() -> None:
    with pytest.raises(pydantic.ValidationError):
        Episode(task_description="")


def test_each_episode_gets_its_own_id() -> None:
    assert Episode(task_description="a").id != Episode(task_description="a").id


def test_open_episode_has_no_duration() -> None:
    episode = Episode(task_description="x")
    assert not episode.is_complete
    assert episode.duration_ms is None


def test_completed_episode_duration() -> None:
    start = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    episode = Episode(
        task_description="x", start_time=start, end_time=start + timedelta(seconds=1.5)
    )
    assert episode.is_complete
    assert episode.duration_ms == pytest.approx(1500.0)


def test_step_text_lists_tools_actions_observations_and_errors() -> None:
    episode = Episode(
        task_description="x",
        steps=[
            ExecutionStep(tool="grep", action="find usages", observation="3 matches"),
            ExecutionStep(tool="pytest", error="1 failed"),
            ExecutionStep(tool="git"),
        ],
    )
    assert episode.step_text() == "grep\nfind usages\n3 matches\npytest\n1 failed\ngit"


def test_step_text_caps_each_long_text() -> None:
    episode = Episode(
        task_description="x", steps=[ExecutionStep(tool="cat", observation="a" * 5000)]
    )
    assert episode.step_text() == "cat\n" + "a" * 2000


# --- ids -------------------------------------------------------------------------------


def test_new_id_is_a_uuid7_carrying_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid.UUID(new_id())
    after = time.time_ns() // 1_000_000
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert before <= value.int >> 80 <= after


def test_new_ids_are_unique() -> None:
    assert len({new_id() for _ in range(1000)}) == 1000


def test_new_ids_sort_by_creation_time_across_milliseconds() -> None:
    ids = []
    for _ in range(5):
        ids.append(new_id())
        time.sleep(0.002)
    assert sorted(ids) == ids


# --- JSON round trip (property) --------------------------------------------------------

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)
json_objects = st.dictionaries(st.text(), json_values, max_size=4)
finite_floats = st.floats(min_value=0, allow_nan=False, allow_infinity=False)
offsets = st.integers(min_value=-23 * 60, max_value=23 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
times = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.none() | offsets
)
optional_text = st.none() | st.text()

steps = st.builds(
    ExecutionStep,
    tool=st.text(min_size=1),
    action=st.text(),
    parameters=json_objects,
    observation=optional_text,
    success=st.booleans(),
    error=optional_text,
    latency_ms=finite_floats,
    tokens=st.none() | st.integers(min_value=0, max_value=2**31),
    step_number=st.none() | st.integers(min_value=1, max_value=10_000),
    timestamp=times,
    metadata=json_objects,
)
contexts = st.builds(
    TaskContext,
    domain=st.text().filter(str.strip),
    language=optional_text,
    framework=optional_text,
    tags=st.lists(st.text()),
    complexity=st.sampled_from(ComplexityLevel),
)
outcomes = st.builds(
    TaskOutcome,
    status=st.sampled_from(OutcomeStatus),
    verdict=st.text(),
    artifacts=st.lists(st.text()),
    completed=st.lists(st.text()),
    failed=st.lists(st.text()),
    reason=optional_text,
    error_details=optional_text,
)
rewards = st.builds(
    RewardScore,
    total=finite_floats,
    base=finite_floats,
    efficiency=finite_floats,
    complexity_bonus=finite_floats,
    quality_multiplier=finite_floats,
    learning_bonus=finite_floats,
    explanation=st.lists(st.text()),
)
reflections = st.builds(
    Reflection,
    what_worked=st.lists(st.text()),
    what_failed=st.lists(st.text()),
    improvements=st.lists(st.text()),
    insights=st.lists(st.text()),
    recommendations=st.lists(st.text()),
    generated_by=st.text(),
    created_at=times,
)
episodes = st.builds(
    Episode,
    id=st.text(min_size=1),
    namespace=st.text(min_size=1),
    task_description=st.text(min_size=1),
    context=contexts,
    task_type=st.sampled_from(TaskType),
    start_time=times,
    end_time=st.none() | times,
    steps=st.lists(steps, max_size=4),
    outcome=st.none() | outcomes,
    reward=st.none() | rewards,
    reflection=st.none() | reflections,
    metadata=json_objects,
)


@given(episodes)
def test_episode_round_trips_exactly_through_json(episode: Episode) -> None:
    dumped = episode.model_dump_json()
    loaded = Episode.model_validate_json(dumped)
    assert loaded == episode
    assert loaded.model_dump_json() == dumped


@given(steps)
def test_step_round_trips_exactly_through_json(step: ExecutionStep) -> None:
    assert ExecutionStep.model_validate_json(step.model_dump_json()) == step


# --- compatibility with other versions -------------------------------------------------

# An episode as an older selfmem wrote it: no reflection, no metadata, no framework, no
# step metadata/tokens, no outcome artifacts.
OLDER_EPISODE_JSON = """
{
  "id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
  "namespace": "default",
  "task_description": "Fix the login bug",
  "context": {"domain": "web", "language": "python", "tags": ["auth"], "complexity": "simple"},
  "task_type": "debugging",
  "start_time": "2024-06-01T10:00:00Z",
  "end_time": "2024-06-01T10:00:02.500000Z",
  "steps": [
    {"tool": "pytest", "action": "run tests", "parameters": {"path": "tests/"},
     "observation": "1 failed", "success": false, "error": "AssertionError",
     "latency_ms": 120.0, "step_number": 1, "timestamp": "2024-06-01T10:00:01Z"}
  ],
  "outcome": {"status": "success", "verdict": "fixed"},
  "reward": {"total": 1.0, "base": 1.0}
}
"""


def test_episode_written_by_an_older_version_loads_with_defaults() -> None:
    episode = Episode.model_validate_json(OLDER_EPISODE_JSON)
    assert episode.task_type is TaskType.DEBUGGING
    assert episode.context.framework is None
    assert episode.context.complexity is ComplexityLevel.SIMPLE
    assert episode.reflection is None
    assert episode.metadata == {}
    assert episode.duration_ms == pytest.approx(2500.0)
    (step,) = episode.steps
    assert step.metadata == {}
    assert step.tokens is None
    assert step.success is False
    assert episode.outcome == TaskOutcome.success("fixed")
    assert episode.reward is not None
    assert episode.reward.efficiency == 1.0
    assert episode.reward.explanation == []


def test_episode_written_by_a_newer_version_loads_ignoring_unknown_fields() -> None:
    data = json.loads(OLDER_EPISODE_JSON)
    data["embedding_model"] = "future-model"
    data["context"]["repository"] = "org/repo"
    data["steps"][0]["cost_usd"] = 0.002
    data["outcome"]["confidence"] = 0.9
    data["reward"]["novelty"] = 0.1
    episode = Episode.model_validate_json(json.dumps(data))
    assert episode.id == data["id"]
    assert episode.context.domain == "web"
    assert episode.steps[0].tool == "pytest"
    assert "embedding_model" not in episode.model_dump()
    assert episode == Episode.model_validate_json(OLDER_EPISODE_JSON)
