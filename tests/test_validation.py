"""Boundary checks: limits, truncation, JSON safety, redaction and error mapping."""

from __future__ import annotations

import datetime
import decimal
import enum
import json
from typing import Any

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfmem import (
    Episode,
    ExecutionStep,
    InvalidInputError,
    LimitExceededError,
    Limits,
    OutcomeStatus,
    Reflection,
    TaskContext,
    TaskOutcome,
    TaskType,
)
from selfmem.security.arguments import check_count, check_id, check_ids, expect
from selfmem.security.imported import prepare_imported
from selfmem.security.redaction import REDACTED
from selfmem.security.validation import (
    REPLACED_KEY,
    coerce,
    prepare_context,
    prepare_description,
    prepare_metadata,
    prepare_outcome,
    prepare_step,
    prepare_task_type,
    storable_problem,
)
from selfmem.security.values import clean_text, json_value, replace_surrogates

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


@pytest.mark.parametrize("value", ["planning", "code-review", "triage_2", "a" * 64])
def test_a_custom_task_type_is_accepted_and_equals_its_string(value: str) -> None:
    task_type = prepare_task_type(value)
    assert isinstance(task_type, TaskType) and task_type == value and task_type.value == value
    assert task_type.is_custom and value not in [t.value for t in TaskType]


@pytest.mark.parametrize(
    "value", ["Planning", "plan ning", "", "9lives", "a" * 65, "café", 3, None, ["planning"]]
)
def test_a_task_type_that_is_not_an_identifier_names_the_field_and_the_rule(value: Any) -> None:
    with pytest.raises(InvalidInputError) as info:
        prepare_task_type(value)
    assert info.value.field == "task_type"
    message = str(info.value)
    assert "lowercase letter" in message and "63" in message
    for task_type in TaskType:  # the known ones are still listed
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


@pytest.mark.parametrize(
    "tool, message",
    [(" ", "blank"), ("\t \n", "control characters"), ("grep\n", "control characters"),
     ("gr\x00ep", "control characters")],
)  # fmt: skip
def test_a_blank_tool_name_or_one_with_control_characters_is_rejected(
    tool: str, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message) as info:
        prepare_step({"tool": tool}, DEFAULTS, redact=True)
    assert info.value.field == "step.tool"


def test_tool_names_of_other_hosts_are_kept_as_given() -> None:
    for tool in ("github.create_issue", "fs/read", "mcp:search", "검색", "Run Query"):
        assert prepare_step({"tool": tool}, DEFAULTS, redact=True).tool == tool


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


# --- values the store can hold ---------------------------------------------------------

SURROGATE = "report-\udcff.txt"


def test_lone_surrogates_become_replacement_characters_and_pairs_are_joined() -> None:
    assert replace_surrogates(f"{SURROGATE} \ud83d\ude00") == "report-\ufffd.txt \U0001f600"
    noted: list[str] = []
    assert clean_text("plain", "f", noted) == "plain" and noted == []
    assert clean_text(SURROGATE, "f", noted) == "report-\ufffd.txt" and noted == ["f"]


def test_json_values_are_copied_into_plain_json() -> None:
    class Colour(enum.Enum):
        RED = "red"

    value = {1: {"b", "a"}, "n": numpy.int64(7), "x": numpy.float32(0.5), "c": Colour.RED,
             "when": datetime.date(2024, 1, 2), "t": ("x", None, True),
             "ok": numpy.bool_(True), "v": numpy.array([[1, 2]])}  # fmt: skip
    safe, replaced = json_value(value, "f", max_depth=4, replace=True)
    assert safe == {"1": ["a", "b"], "n": 7, "x": 0.5, "c": "red", "when": "2024-01-02",
                    "t": ["x", None, True], "ok": True, "v": [[1, 2]]}  # fmt: skip
    assert json.dumps(safe) and not replaced
    assert type(safe["n"]) is int


@pytest.mark.parametrize(
    "value, message",
    [
        ({"a": b"bytes"}, r"f\['a'\] is of type bytes"),
        ({"a": [float("-inf")]}, r"f\['a'\]\[0\] is -inf"),
        ({(1, 2): "tuple key"}, "JSON keys are strings"),
        ({"a": 2**64}, "outside the signed 64-bit range"),
        ({"a": {"b": {"c": {}}}}, "nested deeper than the limit of 3 levels"),
    ],
)
def test_json_values_that_cannot_be_stored_are_refused_saying_where(
    value: Any, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message) as info:
        json_value(value, "f", max_depth=3, replace=True)
    assert info.value.field == "f"


def test_json_values_refuse_lone_surrogates_when_asked() -> None:
    with pytest.raises(InvalidInputError, match="lone surrogate"):
        json_value({SURROGATE: 1}, "value", max_depth=3, replace=False)
    assert json_value({SURROGATE: 1}, "value", max_depth=3, replace=True) == (
        {"report-\ufffd.txt": 1}, True,
    )  # fmt: skip


@pytest.mark.parametrize("value", ["", "x" * 129, "a\x00b", "a\nb", SURROGATE, 7, None])
def test_identifiers_are_short_valid_unicode_without_control_characters(value: Any) -> None:
    with pytest.raises(InvalidInputError) as info:
        check_id(value, "episode_id")
    assert info.value.field == "episode_id"
    str(info.value).encode("utf-8")


def test_argument_checks_name_the_field_and_what_it_must_be() -> None:
    with pytest.raises(InvalidInputError, match="limit must be int, not bool"):
        expect(True, int, "limit")
    assert expect(3, int, "limit") == 3
    with pytest.raises(InvalidInputError, match="limit must be between 1 and 10"):
        check_count(11, "limit", 1, 10)
    with pytest.raises(InvalidInputError, match="pattern_ids must be a list of ids"):
        check_ids("p1", "pattern_ids")
    with pytest.raises(InvalidInputError) as info:
        check_ids(["p1", ["nested"]], "pattern_ids")
    assert info.value.field == "pattern_ids[]"


def test_context_values_are_limited_checked_and_redacted() -> None:
    with pytest.raises(LimitExceededError) as info:
        prepare_context({"framework": "f" * 11}, Limits(max_context_chars=10))
    assert (info.value.field, info.value.limit, info.value.actual) == ("context.framework", 10, 11)
    with pytest.raises(InvalidInputError) as surrogate:
        prepare_context({"language": SURROGATE}, DEFAULTS)
    assert surrogate.value.field == "context.language"
    redacted = prepare_context({"domain": f"db {SECRET_URL}", "tags": ["AKIA" + "A" * 16]},
                               DEFAULTS, redact=True)  # fmt: skip
    assert redacted.domain == f"db {REDACTED_URL}"
    assert redacted.tags == [REDACTED.lower()]


def test_a_step_notes_the_fields_whose_surrogates_were_replaced() -> None:
    step = {"tool": "read", "action": SURROGATE, "observation": SURROGATE, "error": SURROGATE,
            "parameters": {"p": SURROGATE}, "metadata": {"m": SURROGATE}}  # fmt: skip
    prepared = prepare_step(step, DEFAULTS, redact=False)
    assert prepared.metadata[REPLACED_KEY] == [
        "parameters", "metadata", "action", "observation", "error",
    ]  # fmt: skip
    assert SURROGATE not in prepared.model_dump_json()


def test_the_tool_name_is_redacted() -> None:
    prepared = prepare_step({"tool": f"psql {SECRET_URL}"}, DEFAULTS, redact=True)
    assert prepared.tool == f"psql {REDACTED_URL}"


@given(
    text=st.lists(st.sampled_from([*"ab =:/@\n-\udcff", SECRET_URL, "sk-", "password="]),
                  max_size=30).map("".join),
)  # fmt: skip
@settings(max_examples=50, deadline=None, derandomize=True, database=None)
def test_preparing_a_step_twice_changes_nothing_more(text: str) -> None:
    """What validation produced (redacted, truncated, replaced) passes it unchanged, which is
    why an exported episode imports back byte for byte."""
    limits = Limits(max_observation_chars=10, max_error_chars=10)
    once = prepare_step({"tool": "t", "observation": text, "error": text, "action": text,
                         "parameters": {"p": text}}, limits, redact=True)  # fmt: skip
    assert prepare_step(once, limits, redact=True) == once


def test_an_outcome_notes_replaced_surrogates_for_the_episode() -> None:
    noted: list[str] = []
    outcome = prepare_outcome(
        TaskOutcome.partial(SURROGATE, completed=[SURROGATE]), DEFAULTS, redact=False,
        replaced=noted,
    )  # fmt: skip
    assert outcome.verdict == "report-\ufffd.txt"
    assert noted == ["outcome.verdict", "outcome.completed"]


def test_a_step_changed_after_validation_is_recognised_as_unstorable() -> None:
    step = prepare_step({"tool": "t", "observation": "ok"}, DEFAULTS, redact=False)
    assert storable_problem(step) is None
    step.observation = SURROGATE
    assert "cannot be serialised" in (storable_problem(step) or "")
    step.observation, step.step_number = "ok", 2**53
    assert "step_number" in (storable_problem(step) or "")


# --- imported episodes -----------------------------------------------------------------


def _completed_episode() -> Episode:
    start = datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC)
    return Episode(
        id="e-1", namespace="elsewhere", task_description=f"Migrate {SECRET_URL}",
        start_time=start, end_time=start + datetime.timedelta(minutes=5),
        steps=[ExecutionStep(tool="psql"), ExecutionStep(tool="check", step_number=5)],
        outcome=TaskOutcome.success("done"),
        reflection=Reflection(insights=[f"reach {SECRET_URL}"]),
    )  # fmt: skip


def test_an_imported_episode_is_moved_numbered_and_redacted() -> None:
    prepared = prepare_imported(_completed_episode(), "team", DEFAULTS, redact=True)
    assert (prepared.id, prepared.namespace) == ("e-1", "team")
    assert prepared.task_description == f"Migrate {REDACTED_URL}"
    assert [s.step_number for s in prepared.steps] == [1, 5]
    assert prepared.reflection is not None
    assert prepared.reflection.insights == [f"reach {REDACTED_URL}"]
    assert prepare_imported(prepared, "team", DEFAULTS, redact=True) == prepared


@pytest.mark.parametrize(
    "update, field",
    [
        ({"outcome": None}, "outcome"),
        ({"end_time": datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)}, "end_time"),
        ({"id": "i" * 129}, "id"),
        ({"id": "sk-" + "proj-" + "Ab3dEf6hIj9kLm2nOp5q"}, "id"),
        ({"steps": [ExecutionStep(tool="a", step_number=2), ExecutionStep(tool="b")] * 2},
         "steps"),
    ],
    ids=["no-outcome", "ends-before-start", "long-id", "secret-id", "same-numbers"],
)  # fmt: skip
def test_an_imported_episode_the_api_could_not_have_made_is_refused(
    update: dict[str, Any], field: str
) -> None:
    episode = _completed_episode().model_copy(update=update)
    with pytest.raises(InvalidInputError) as info:
        prepare_imported(episode, "team", DEFAULTS, redact=True)
    assert info.value.field == field
