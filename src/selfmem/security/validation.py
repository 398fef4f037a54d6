"""Boundary checks: turn user input into valid, size-limited, redacted records.

Every function here either returns a record that is safe to store or raises an
:class:`~selfmem.errors.InvalidInputError` naming the field and the limit.
"""

from __future__ import annotations

import difflib
import json
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pydantic

from ..config import Limits
from ..errors import InvalidInputError, LimitExceededError
from ..records.episodes import ExecutionStep, TaskContext, TaskOutcome, TaskType, utc_now
from .redaction import redact_text, redact_value

__all__ = [
    "check_namespace",
    "coerce",
    "prepare_context",
    "prepare_description",
    "prepare_metadata",
    "prepare_outcome",
    "prepare_step",
    "prepare_task_type",
]

_R = TypeVar("_R", bound=pydantic.BaseModel)
_MAX_NAMESPACE_CHARS = 128
_MARGIN = 8_192  # longer than any secret pattern, so a pre-cut never splits one unseen


def _field_names(model: type[pydantic.BaseModel]) -> set[str]:
    names = set(model.model_fields)
    for info in model.model_fields.values():
        alias = info.validation_alias
        if isinstance(alias, pydantic.AliasChoices):
            names.update(choice for choice in alias.choices if isinstance(choice, str))
        elif isinstance(alias, str):
            names.add(alias)
    return names


def _reject_unknown_keys(model: type[pydantic.BaseModel], value: dict[Any, Any], what: str) -> None:
    """Stored JSON may carry unknown fields (forward compatibility); user input may not."""
    known = _field_names(model)
    for key in value:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InvalidInputError(f"unknown field {key!r} in {what}{hint}", field=f"{what}.{key}")


def coerce(model: type[_R], value: Any, what: str) -> _R:
    """Accept a record or a mapping; map pydantic's errors to ``InvalidInputError``."""
    if isinstance(value, model):
        return value
    if isinstance(value, dict):
        _reject_unknown_keys(model, value, what)
    try:
        return model.model_validate(value)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(part) for part in first["loc"])
        field = f"{what}.{path}" if path else what
        raise InvalidInputError(f"invalid {field}: {first['msg']}", field=field) from exc


def check_namespace(namespace: str) -> str:
    if not isinstance(namespace, str) or not namespace.strip():
        raise InvalidInputError("namespace must be a non-empty string", field="namespace")
    if len(namespace) > _MAX_NAMESPACE_CHARS:
        raise LimitExceededError("namespace", _MAX_NAMESPACE_CHARS, len(namespace))
    return namespace


def prepare_description(description: Any, limits: Limits, redact: bool) -> str:
    if not isinstance(description, str) or not description.strip():
        raise InvalidInputError(
            "task_description must be a non-empty string", field="task_description"
        )
    if len(description) > limits.max_description_chars:
        raise LimitExceededError("task_description", limits.max_description_chars, len(description))
    return redact_text(description) if redact else description


def prepare_task_type(task_type: Any) -> TaskType:
    try:
        return TaskType(task_type)
    except ValueError:
        allowed = ", ".join(t.value for t in TaskType)
        raise InvalidInputError(
            f"unknown task_type {task_type!r}; expected one of: {allowed}", field="task_type"
        ) from None


def prepare_context(context: Any, limits: Limits) -> TaskContext:
    ctx = TaskContext() if context is None else coerce(TaskContext, context, "context")
    if len(ctx.tags) > limits.max_tags:
        raise LimitExceededError("context.tags", limits.max_tags, len(ctx.tags), unit="tags")
    for tag in ctx.tags:
        if len(tag) > limits.max_tag_chars:
            raise LimitExceededError("context.tags[]", limits.max_tag_chars, len(tag))
    return ctx


def _json_size(value: Any, field: str) -> tuple[Any, int]:
    """Return a JSON-safe copy of ``value`` and its encoded size."""
    if not value:
        return value, 2
    try:
        encoded = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{field} is not JSON-serializable: {exc}", field=field) from exc
    return json.loads(encoded), len(encoded.encode())


def prepare_metadata(
    metadata: Any, limits: Limits, redact: bool, field: str = "metadata"
) -> dict[str, Any]:
    if not metadata and (metadata is None or isinstance(metadata, dict)):
        return {}
    if not isinstance(metadata, dict):
        raise InvalidInputError(f"{field} must be a mapping", field=field)
    safe, size = _json_size(metadata, field)
    if size > limits.max_metadata_bytes:
        raise LimitExceededError(field, limits.max_metadata_bytes, size, unit="bytes")
    return redact_value(safe) if redact else safe  # type: ignore[no-any-return]


def _truncate(
    text: str | None, limit: int, field: str, cut: list[str], original: int
) -> str | None:
    if text is None or (original <= limit and len(text) <= limit):
        return text
    cut.append(field)
    return f"{text[:limit]}… [truncated {original - limit} characters]"


def prepare_step(step: Any, limits: Limits, redact: bool) -> ExecutionStep:
    """Validate, size-limit and redact one step. Returns a new record; the input is untouched."""
    record = coerce(ExecutionStep, step, "step")
    if len(record.tool) > limits.max_tool_name_chars:
        raise LimitExceededError("step.tool", limits.max_tool_name_chars, len(record.tool))
    if len(record.action) > limits.max_action_chars:
        raise LimitExceededError("step.action", limits.max_action_chars, len(record.action))
    parameters, size = _json_size(record.parameters, "step.parameters")
    if size > limits.max_parameters_bytes:
        raise LimitExceededError("step.parameters", limits.max_parameters_bytes, size, unit="bytes")
    metadata = prepare_metadata(record.metadata, limits, redact, field="step.metadata")
    observation, error, action = record.observation, record.error, record.action
    sizes = {"observation": len(observation or ""), "error": len(error or "")}
    # cut far past the limit first, so redaction never scans megabytes it will throw away
    observation = (
        observation[: limits.max_observation_chars + _MARGIN] if observation else observation
    )
    error = error[: limits.max_error_chars + _MARGIN] if error else error
    if redact:  # before the final cut, so a cut never leaves part of a secret behind
        parameters = redact_value(parameters)
        observation = redact_text(observation) if observation else observation
        error = redact_text(error) if error else error
        action = redact_text(action)
    cut: list[str] = []
    observation = _truncate(
        observation, limits.max_observation_chars, "observation", cut, sizes["observation"]
    )
    error = _truncate(error, limits.max_error_chars, "error", cut, sizes["error"])
    if cut:
        metadata["truncated"] = cut
    return record.model_copy(
        update={
            "parameters": parameters,
            "observation": observation,
            "error": error,
            "action": action,
            "metadata": metadata,
        }
    )


def prepare_outcome(outcome: Any, limits: Limits, redact: bool) -> TaskOutcome:
    record = coerce(TaskOutcome, outcome, "outcome")
    size = len(record.model_dump_json())
    if size > limits.max_outcome_chars:
        raise LimitExceededError("outcome", limits.max_outcome_chars, size)
    if not redact:
        return record
    return record.model_copy(
        update={
            "verdict": redact_text(record.verdict),
            "artifacts": redact_value(record.artifacts),
            "completed": redact_value(record.completed),
            "failed": redact_value(record.failed),
            "reason": redact_text(record.reason) if record.reason else record.reason,
            "error_details": redact_text(record.error_details)
            if record.error_details
            else record.error_details,
        }
    )


def prepare_start_time(start_time: Any) -> datetime:
    """A timezone-aware start time that is not in the future (a minute of clock skew ok)."""
    if not isinstance(start_time, datetime) or start_time.tzinfo is None:
        raise InvalidInputError(
            "start_time must be a timezone-aware datetime", field="start_time"
        )
    if start_time - utc_now() > timedelta(minutes=1):
        raise InvalidInputError("start_time is in the future", field="start_time")
    return start_time.astimezone(UTC)
