"""Boundary checks: limits, truncation, JSON safety, redaction and error mapping."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import pytest

from selfmem import (
    ExecutionStep,
    InvalidInputError,
    LimitExceededError,
    Limits,
    OutcomeStatus,
    TaskContext,
    TaskOutcome,
    TaskType,
)
from selfmem.security.redaction import REDACTED
from selfmem.security.validation import (
    coerce,
    prepare_context,
    prepare_description,
    prepare_metadata,
    prepare_outcome,
    prepare_step,
    prepare_task_type,
)

DEFAULTS = Limits()
SECRET_URL = "postgres://app:hunter22@db/prod"
REDACTED_URL = f"postgres://app:{REDACTED}@db/prod"


# --- coerce ----------------------------------------------------------------------------


def test_coerce_returns_a_record_unchanged() -> None:
    step = ExecutionStep(tool="grep")
    assert coerce(ExecutionStep, step, "step") is step


def test_coerce_validates_a_mapping() -> None:
    assert coerce(ExecutionStep, {"tool": "grep", "result": "ok"}, "step").observation == "ok"


@pytest.mark.parametrize(
    "value, field",
    [
        ({"tool": ""}, "step.tool"),
        ({"tool": "t", "latency_ms": -5}, "step.latency_ms"),
        ({"tool": "t", "step_number": 0}, "step.step_number"),
        ({"tool": "t", "observation": 42}, "step.observation"),
        ({"tool": "t", "parameters": {1: "x"}}, "step.parameters.1.[key]"),
    ],
)
def test_coerce_maps_pydantic_errors_to_invalid_input_with_a_field_path(
    value: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        coerce(ExecutionStep, value, "step")
    assert info.value.field == field
    assert str(info.value).startswith(f"invalid {field}: ")
    assert isinstance(info.value, ValueError)


def test_coerce_of_the_wrong_type_names_the_record_itself() -> None:
    with pytest.raises(InvalidInputError, match="valid dictionary") as info:
        coerce(ExecutionStep, "grep foo", "step")
    assert info.value.field == "step"


# --- prepare_description ---------------------------------------------------------------


def test_description_within_limit_is_returned() -> None:
    assert prepare_description("Fix the bug", DEFAULTS, redact=True) == "Fix the bug"


@pytest.mark.parametrize("value", ["", "   ", None, 42, ["a"]])
def test_description_must_be_a_non_empty_string(value: Any) -> None:
    with pytest.raises(InvalidInputError) as info:
        prepare_description(value, DEFAULTS, redact=True)
    assert info.value.field == "task_description"


def test_description_over_the_limit_is_rejected_naming_field_and_limit() -> None:
    with pytest.raises(LimitExceededError) as info:
        prepare_description("x" * 11, Limits(max_description_chars=10), redact=True)
    error = info.value
    assert error.field == "task_description"
    assert error.limit == 10
    assert error.actual == 11
    assert str(error) == "task_description is 11 characters, over the limit of 10 characters"


def test_description_at_the_limit_is_accepted() -> None:
    assert prepare_description("x" * 10, Limits(max_description_chars=10), redact=True)


@pytest.mark.parametrize("redact, expected", [(True, REDACTED_URL), (False, SECRET_URL)])
def test_description_is_redacted_only_when_asked(redact: bool, expected: str) -> None:
    assert prepare_description(f"migrate {SECRET_URL}", DEFAULTS, redact) == f"migrate {expected}"


# --- prepare_task_type -----------------------------------------------------------------


@pytest.mark.parametrize("value", ["debugging", TaskType.DEBUGGING])
def test_task_type_accepts_value_or_enum(value: Any) -> None:
    assert prepare_task_type(value) is TaskType.DEBUGGING


def test_unknown_task_type_lists_the_allowed_values() -> None:
    with pytest.raises(InvalidInputError) as info:
        prepare_task_type("cooking")
    assert info.value.field == "task_type"
    message = str(info.value)
    assert "'cooking'" in message
    for task_type in TaskType:
        assert task_type.value in message


# --- prepare_context -------------------------------------------------------------------


def test_missing_context_gets_the_default() -> None:
    assert prepare_context(None, DEFAULTS) == TaskContext()


def test_context_mapping_is_validated_and_normalised() -> None:
    ctx = prepare_context({"domain": "web", "tags": ["API", "api "]}, DEFAULTS)
    assert ctx == TaskContext(domain="web", tags=["api"])


def test_blank_domain_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="domain must not be blank") as info:
        prepare_context({"domain": "  "}, DEFAULTS)
    assert info.value.field == "context.domain"


def test_too_many_tags_are_rejected() -> None:
    with pytest.raises(LimitExceededError) as info:
        prepare_context(TaskContext(tags=["a", "b", "c"]), Limits(max_tags=2))
    assert info.value.field == "context.tags"
    assert (info.value.limit, info.value.actual) == (2, 3)
    assert "3 tags, over the limit of 2 tags" in str(info.value)


def test_tags_are_counted_after_deduplication() -> None:
    ctx = prepare_context(TaskContext(tags=["a", "A", "a "]), Limits(max_tags=1))
    assert ctx.tags == ["a"]


def test_over_long_tag_is_rejected() -> None:
    with pytest.raises(LimitExceededError) as info:
        prepare_context(TaskContext(tags=["ok", "x" * 6]), Limits(max_tag_chars=5))
    assert info.value.field == "context.tags[]"
    assert (info.value.limit, info.value.actual) == (5, 6)


# --- prepare_metadata ------------------------------------------------------------------


def test_missing_metadata_becomes_empty() -> None:
    assert prepare_metadata(None, DEFAULTS, redact=True) == {}


@pytest.mark.parametrize("value", [["a"], "text", 3])
def test_metadata_must_be_a_mapping(value: Any) -> None:
    with pytest.raises(InvalidInputError) as info:
        prepare_metadata(value, DEFAULTS, redact=True)
    assert info.value.field == "metadata"


def test_metadata_over_the_byte_limit_is_rejected() -> None:
    with pytest.raises(LimitExceededError) as info:
        prepare_metadata({"note": "x" * 100}, Limits(max_metadata_bytes=50), redact=True)
    assert info.value.field == "metadata"
    assert info.value.limit == 50
    assert "bytes" in str(info.value)


def test_metadata_size_is_measured_in_utf8_bytes() -> None:
    # 20 characters, 60 bytes.
    with pytest.raises(LimitExceededError):
        prepare_metadata({"n": "€" * 20}, Limits(max_metadata_bytes=40), redact=False)


def test_metadata_values_that_are_not_json_become_strings() -> None:
    metadata = {"when": datetime.date(2024, 1, 2), "amount": decimal.Decimal("1.50"), 7: "seven"}
    assert prepare_metadata(metadata, DEFAULTS, redact=False) == {
        "when": "2024-01-02",
        "amount": "1.50",
        "7": "seven",
    }


@pytest.mark.parametrize(
    "redact, expected", [(True, {"password": REDACTED, "user": "bob"}),
                         (False, {"password": "hunter22", "user": "bob"})],
)  # fmt: skip
def test_metadata_is_redacted_only_when_asked(redact: bool, expected: dict[str, Any]) -> None:
    assert prepare_metadata({"password": "hunter22", "user": "bob"}, DEFAULTS, redact) == expected


@pytest.mark.parametrize("redact", [True, False])
def test_metadata_input_is_not_mutated(redact: bool) -> None:
    metadata = {"password": "hunter22", "nested": {"items": [1, 2]}}
    result = prepare_metadata(metadata, DEFAULTS, redact)
    result["nested"]["items"].append(3)
    assert metadata == {"password": "hunter22", "nested": {"items": [1, 2]}}


# --- prepare_step ----------------------------------------------------------------------


def test_step_from_mapping_is_validated() -> None:
    step = prepare_step({"tool": "grep", "result": "3 hits"}, DEFAULTS, redact=True)
    assert isinstance(step, ExecutionStep)
    assert step.observation == "3 hits"
    assert step.metadata == {}


def test_invalid_step_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError) as info:
        prepare_step({"tool": ""}, DEFAULTS, redact=True)
    assert info.value.field == "step.tool"


def test_over_long_tool_name_is_rejected() -> None:
    with pytest.raises(LimitExceededError) as info:
        prepare_step(ExecutionStep(tool="t" * 9), Limits(max_tool_name_chars=8), redact=True)
    assert info.value.field == "step.tool"
    assert (info.value.limit, info.value.actual) == (8, 9)


def test_over_large_parameters_are_rejected() -> None:
    step = ExecutionStep(tool="write", parameters={"content": "x" * 200})
    with pytest.raises(LimitExceededError) as info:
        prepare_step(step, Limits(max_parameters_bytes=100), redact=True)
    assert info.value.field == "step.parameters"
    assert info.value.limit == 100
    assert "bytes" in str(info.value)


def test_over_large_step_metadata_is_rejected() -> None:
    step = ExecutionStep(tool="t", metadata={"trace": "x" * 200})
    with pytest.raises(LimitExceededError) as info:
        prepare_step(step, Limits(max_metadata_bytes=100), redact=True)
    assert info.value.field == "step.metadata"


def test_over_long_observation_and_error_are_truncated_with_a_marker() -> None:
    step = ExecutionStep(tool="bash", observation="o" * 30, error="e" * 25)
    limits = Limits(max_observation_chars=10, max_error_chars=20)
    prepared = prepare_step(step, limits, redact=False)
    assert prepared.observation == "o" * 10 + "… [truncated 20 characters]"
    assert prepared.error == "e" * 20 + "… [truncated 5 characters]"
    assert prepared.metadata["truncated"] == ["observation", "error"]
    assert prepared.success is False


def test_only_the_cut_field_is_listed_as_truncated() -> None:
    step = ExecutionStep(tool="bash", observation="o" * 30, error="short")
    prepared = prepare_step(step, Limits(max_observation_chars=10), redact=False)
    assert prepared.error == "short"
    assert prepared.metadata["truncated"] == ["observation"]


def test_text_at_the_limit_is_not_truncated() -> None:
    step = ExecutionStep(tool="bash", observation="o" * 10)
    prepared = prepare_step(step, Limits(max_observation_chars=10), redact=False)
    assert prepared.observation == "o" * 10
    assert "truncated" not in prepared.metadata


def test_truncation_keeps_existing_step_metadata() -> None:
    step = ExecutionStep(tool="bash", observation="o" * 30, metadata={"exit_code": 0})
    prepared = prepare_step(step, Limits(max_observation_chars=10), redact=False)
    assert prepared.metadata == {"exit_code": 0, "truncated": ["observation"]}


def test_well_known_scalars_become_strings_and_sets_lists() -> None:
    step = ExecutionStep(
        tool="schedule",
        parameters={"when": datetime.datetime(2024, 1, 2, 3, 4), "tags": {"b", "a"}, "n": 1},
    )
    prepared = prepare_step(step, DEFAULTS, redact=False)
    assert prepared.parameters == {"when": "2024-01-02 03:04:00", "tags": ["a", "b"], "n": 1}


def test_circular_parameters_are_rejected() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(InvalidInputError, match="not JSON-serializable") as info:
        prepare_step(ExecutionStep(tool="t", parameters=loop), DEFAULTS, redact=False)
    assert info.value.field == "step.parameters"
    assert "contains itself (a circular reference)" in str(info.value)


def _secret_step() -> ExecutionStep:
    return ExecutionStep(
        tool="psql",
        action=f"connect to {SECRET_URL}",
        parameters={"dsn": SECRET_URL, "query": "select 1", "opts": {"password": "pw1234"}},
        observation=f"connected to {SECRET_URL}",
        error=f"warning: retried {SECRET_URL}",
        metadata={"api_key": "abc123"},
    )


def test_step_is_redacted_when_asked() -> None:
    prepared = prepare_step(_secret_step(), DEFAULTS, redact=True)
    assert prepared.action == f"connect to {REDACTED_URL}"
    assert prepared.parameters == {
        "dsn": REDACTED,
        "query": "select 1",
        "opts": {"password": REDACTED},
    }
    assert prepared.observation == f"connected to {REDACTED_URL}"
    assert prepared.error == f"warning: retried {REDACTED_URL}"
    assert prepared.metadata == {"api_key": REDACTED}
    assert "hunter22" not in prepared.model_dump_json()


def test_step_is_not_redacted_when_not_asked() -> None:
    original = _secret_step()
    prepared = prepare_step(original, DEFAULTS, redact=False)
    assert prepared == original


@pytest.mark.parametrize("redact", [True, False])
def test_step_input_is_not_mutated(redact: bool) -> None:
    original = _secret_step().model_copy(update={"observation": "o" * 30})
    snapshot = original.model_copy(deep=True)
    prepared = prepare_step(original, Limits(max_observation_chars=10), redact)
    assert original == snapshot
    assert prepared is not original
    assert "truncated" not in original.metadata


def test_step_mapping_input_is_not_mutated() -> None:
    raw: dict[str, Any] = {"tool": "t", "parameters": {"password": "pw1234"}, "metadata": {}}
    prepare_step(raw, Limits(max_observation_chars=1), redact=True)
    assert raw == {"tool": "t", "parameters": {"password": "pw1234"}, "metadata": {}}


# --- prepare_outcome -------------------------------------------------------------------


def test_outcome_from_mapping() -> None:
    outcome = prepare_outcome({"status": "success", "verdict": "done"}, DEFAULTS, redact=True)
    assert outcome == TaskOutcome.success("done")


def test_unknown_outcome_status_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError) as info:
        prepare_outcome({"status": "meh"}, DEFAULTS, redact=True)
    assert info.value.field == "outcome.status"


def test_over_large_outcome_is_rejected() -> None:
    with pytest.raises(LimitExceededError) as info:
        prepare_outcome(TaskOutcome.success("x" * 500), Limits(max_outcome_chars=200), redact=True)
    assert info.value.field == "outcome"
    assert info.value.limit == 200


def test_outcome_is_redacted_when_asked() -> None:
    outcome = TaskOutcome(
        status=OutcomeStatus.PARTIAL_SUCCESS,
        verdict=f"migrated {SECRET_URL}",
        artifacts=[SECRET_URL],
        completed=[f"copy {SECRET_URL}"],
        failed=[f"verify {SECRET_URL}"],
    )
    prepared = prepare_outcome(outcome, DEFAULTS, redact=True)
    assert prepared.verdict == f"migrated {REDACTED_URL}"
    assert prepared.artifacts == [REDACTED_URL]
    assert prepared.completed == [f"copy {REDACTED_URL}"]
    assert prepared.failed == [f"verify {REDACTED_URL}"]
    assert outcome.verdict == f"migrated {SECRET_URL}"  # input untouched


def test_failure_reason_and_details_are_redacted() -> None:
    outcome = TaskOutcome.failure(f"cannot reach {SECRET_URL}", error_details="password=pw1234")
    prepared = prepare_outcome(outcome, DEFAULTS, redact=True)
    assert prepared.reason == f"cannot reach {REDACTED_URL}"
    assert prepared.error_details == f"password={REDACTED}"


def test_outcome_is_not_redacted_when_not_asked() -> None:
    outcome = TaskOutcome.failure(f"cannot reach {SECRET_URL}")
    assert prepare_outcome(outcome, DEFAULTS, redact=False) == outcome
