"""Boundary checks: turn user input into valid, size-limited, redacted records.

Every function here either returns a record that is safe to store (it serialises to JSON
and every integer fits SQLite) or raises an :class:`~selfmem.errors.InvalidInputError`
naming the field and the limit. Lone surrogates in free text become U+FFFD and the record's
``metadata["replaced_surrogates"]`` names the fields; in identifiers they are rejected
(see :mod:`selfmem.security.values`).
"""

from __future__ import annotations

import difflib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pydantic

from ..config import Limits
from ..errors import InvalidInputError, LimitExceededError
from ..records.episodes import (
    MAX_TASK_TYPE_CHARS,
    Episode,
    ExecutionStep,
    TaskContext,
    TaskOutcome,
    TaskType,
    utc_now,
)
from .arguments import MAX_ID_CHARS, check_count, check_id, check_ids, check_namespace, expect
from .redaction import REDACTED, redact_text, redact_value
from .values import (
    INT64_MAX,
    REPLACED_KEY,
    check_identifier,
    check_int,
    check_text,
    clean_text,
    json_value,
    show,
)

__all__ = [
    "MAX_ID_CHARS",
    "MAX_STEP_NUMBER",
    "REPLACED_KEY",
    "check_count",
    "check_id",
    "check_ids",
    "check_namespace",
    "coerce",
    "completion_metadata",
    "expect",
    "note_replaced",
    "prepare_context",
    "prepare_description",
    "prepare_episode",
    "prepare_metadata",
    "prepare_outcome",
    "prepare_start_time",
    "prepare_step",
    "prepare_task_type",
    "storable_problem",
]

_R = TypeVar("_R", bound=pydantic.BaseModel)
#: The largest step number: the libSQL driver passes integers through a 64-bit float, which
#: holds every integer exactly only up to 2**53 (``2**53`` and ``2**53 + 1`` would collide).
MAX_STEP_NUMBER = 2**53 - 1
_MARGIN = 8_192  # longer than any secret pattern, so a pre-cut never splits one unseen
_MARKER = re.compile(r"… \[truncated \d{1,12} characters\]\Z")


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
            raise InvalidInputError(
                f"unknown field {show(key)} in {what}{hint}", field=f"{what}.{show(key, 40)}"
            )


def coerce(model: type[_R], value: Any, what: str) -> _R:
    """Accept a record or a mapping; map pydantic's errors to ``InvalidInputError``."""
    if isinstance(value, model):
        return value
    if isinstance(value, dict):
        _reject_unknown_keys(model, value, what)
    try:
        return model.model_validate(value)
    except pydantic.ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        path = ".".join(str(part) for part in first["loc"])
        field = f"{what}.{path}" if path else what
        raise InvalidInputError(f"invalid {field}: {first['msg']}", field=field) from exc
    except (RecursionError, OverflowError) as exc:  # pydantic lets these through
        raise InvalidInputError(f"invalid {what}: {type(exc).__name__}", field=what) from exc


def prepare_description(
    description: Any, limits: Limits, redact: bool, replaced: list[str] | None = None
) -> str:
    if not isinstance(description, str) or not description.strip():
        raise InvalidInputError(
            "task_description must be a non-empty string", field="task_description"
        )
    if len(description) > limits.max_description_chars:
        raise LimitExceededError("task_description", limits.max_description_chars, len(description))
    description = clean_text(description, "task_description", [] if replaced is None else replaced)
    return redact_text(description) if redact else description


def prepare_task_type(task_type: Any, field: str = "task_type") -> TaskType:
    """A known :class:`TaskType` or a custom one (an identifier of the task-type shape)."""
    if isinstance(task_type, TaskType):
        return task_type
    if isinstance(task_type, str):
        try:
            return TaskType(task_type)
        except ValueError:
            pass
    known = ", ".join(t.value for t in TaskType)
    raise InvalidInputError(
        f"invalid {field} {show(task_type)}: a task type is a lowercase letter followed by at "
        f"most {MAX_TASK_TYPE_CHARS - 1} lowercase letters, digits, '_' or '-' (known ones: "
        f"{known}; any other such name is a custom task type)",
        field=field,
    )


def _redact_tag(tag: str) -> str:
    """Tags are lower-cased, which hides upper-case token formats (``AKIA...``) from the
    rules: a tag is checked in both cases."""
    redacted = redact_text(tag)
    if redacted == tag and redact_text(tag.upper()) != tag.upper():
        return REDACTED
    return redacted


def prepare_context(context: Any, limits: Limits, redact: bool = False) -> TaskContext:
    ctx = TaskContext() if context is None else coerce(TaskContext, context, "context")
    for name in ("domain", "language", "framework"):
        value = getattr(ctx, name)
        if value is not None:
            if len(value) > limits.max_context_chars:
                raise LimitExceededError(f"context.{name}", limits.max_context_chars, len(value))
            check_text(value, f"context.{name}")
    if len(ctx.tags) > limits.max_tags:
        raise LimitExceededError("context.tags", limits.max_tags, len(ctx.tags), unit="tags")
    for tag in ctx.tags:
        if len(tag) > limits.max_tag_chars:
            raise LimitExceededError("context.tags[]", limits.max_tag_chars, len(tag))
        check_text(tag, "context.tags[]")
    if not redact:
        return ctx
    return TaskContext(
        domain=redact_text(ctx.domain),
        language=redact_text(ctx.language) if ctx.language else ctx.language,
        framework=redact_text(ctx.framework) if ctx.framework else ctx.framework,
        tags=[_redact_tag(tag) for tag in ctx.tags],
        complexity=ctx.complexity,
    )


def _json(value: Any, field: str, limits: Limits, replaced: list[str]) -> tuple[Any, int]:
    """A JSON-safe copy of ``value`` and its encoded size in bytes."""
    safe, changed = json_value(value, field, max_depth=limits.max_json_depth, replace=True)
    if changed and field not in replaced:
        replaced.append(field)
    return safe, len(json.dumps(safe, ensure_ascii=False).encode())


def prepare_metadata(
    metadata: Any,
    limits: Limits,
    redact: bool,
    field: str = "metadata",
    replaced: list[str] | None = None,
) -> dict[str, Any]:
    if not metadata and (metadata is None or isinstance(metadata, dict)):
        return {}
    if not isinstance(metadata, dict):
        raise InvalidInputError(f"{field} must be a mapping", field=field)
    safe, size = _json(metadata, field, limits, [] if replaced is None else replaced)
    if size > limits.max_metadata_bytes:
        raise LimitExceededError(field, limits.max_metadata_bytes, size, unit="bytes")
    return redact_value(safe) if redact else safe  # type: ignore[no-any-return]


def note_replaced(metadata: dict[str, Any], replaced: list[str]) -> dict[str, Any]:
    """``metadata`` with ``replaced`` added under ``replaced_surrogates`` (a new dict)."""
    if not replaced:
        return metadata
    noted = list(metadata.get(REPLACED_KEY, []))
    return {**metadata, REPLACED_KEY: noted + [f for f in replaced if f not in noted]}


def completion_metadata(
    metadata: dict[str, Any], replaced: list[str], limits: Limits
) -> dict[str, Any]:
    """An episode's metadata as it is completed: storable again (``record_feedback`` adds to
    it after the start), with the fields whose lone surrogates were replaced noted."""
    safe, changed = json_value(metadata, "metadata", max_depth=limits.max_json_depth, replace=True)
    return note_replaced(safe, [*replaced, "metadata"] if changed else replaced)


def prepare_episode(
    namespace: str,
    task_description: Any,
    context: Any,
    task_type: Any,
    metadata: Any,
    limits: Limits,
    redact: bool,
) -> Episode:
    """The header of a new episode, every field checked, limited and redacted."""
    replaced: list[str] = []
    description = prepare_description(task_description, limits, redact, replaced)
    prepared = prepare_metadata(metadata, limits, redact, replaced=replaced)
    return Episode(
        namespace=namespace,
        task_description=description,
        context=prepare_context(context, limits, redact),
        task_type=prepare_task_type(task_type),
        metadata=note_replaced(prepared, replaced),
    )


def _truncate(
    text: str | None, limit: int, field: str, cut: list[str], original: int
) -> str | None:
    if text is None or (original <= limit and len(text) <= limit):
        return text
    marker = _MARKER.search(text)
    if marker is not None and marker.start() <= limit:  # cut before (an imported episode)
        return text
    cut.append(field)
    return f"{text[:limit]}… [truncated {original - limit} characters]"


def _check_step_shape(record: ExecutionStep, limits: Limits) -> None:
    check_identifier(record.tool, "step.tool", limits.max_tool_name_chars)
    if not record.tool.strip():
        raise InvalidInputError("step.tool must name the tool: it is blank", field="step.tool")
    if len(record.action) > limits.max_action_chars:
        raise LimitExceededError("step.action", limits.max_action_chars, len(record.action))
    if record.step_number is not None:
        check_int(record.step_number, "step.step_number", 1, MAX_STEP_NUMBER)
    if record.tokens is not None:
        check_int(record.tokens, "step.tokens", minimum=0)


def prepare_step(step: Any, limits: Limits, redact: bool) -> ExecutionStep:
    """Validate, size-limit and redact one step. Returns a new record; the input is untouched."""
    record = coerce(ExecutionStep, step, "step")
    _check_step_shape(record, limits)
    replaced: list[str] = []
    parameters, size = _json(record.parameters, "step.parameters", limits, replaced)
    if size > limits.max_parameters_bytes:
        raise LimitExceededError("step.parameters", limits.max_parameters_bytes, size, unit="bytes")
    metadata = prepare_metadata(record.metadata, limits, redact, "step.metadata", replaced)
    observation, error, tool = record.observation, record.error, record.tool
    action = clean_text(record.action, "step.action", replaced)
    sizes = {"observation": len(observation or ""), "error": len(error or "")}
    # cut far past the limit first, so neither cleaning nor redaction scans megabytes
    if observation:
        observation = observation[: limits.max_observation_chars + _MARGIN]
        observation = clean_text(observation, "step.observation", replaced)
    if error:
        error = clean_text(error[: limits.max_error_chars + _MARGIN], "step.error", replaced)
    if redact:  # before the final cut, so a cut never leaves part of a secret behind
        parameters = redact_value(parameters)
        observation = redact_text(observation) if observation else observation
        error = redact_text(error) if error else error
        action, tool = redact_text(action), redact_text(tool)
    cut: list[str] = []
    observation = _truncate(
        observation, limits.max_observation_chars, "observation", cut, sizes["observation"]
    )
    error = _truncate(error, limits.max_error_chars, "error", cut, sizes["error"])
    if cut:
        metadata["truncated"] = cut
    metadata = note_replaced(metadata, [name.removeprefix("step.") for name in replaced])
    return record.model_copy(
        update={
            "tool": tool,
            "parameters": parameters,
            "observation": observation,
            "error": error,
            "action": action,
            "metadata": metadata,
        }
    )


def _outcome_chars(record: TaskOutcome) -> int:
    texts = [record.verdict, record.reason or "", record.error_details or ""]
    lists = [*record.artifacts, *record.completed, *record.failed]
    return sum(len(text) for text in texts) + sum(len(item) for item in lists)


def prepare_outcome(
    outcome: Any, limits: Limits, redact: bool, replaced: list[str] | None = None
) -> TaskOutcome:
    """Validate, limit and redact an outcome; lone surrogates become U+FFFD and the fields
    are added to ``replaced`` (to be noted in the episode's metadata)."""
    record = coerce(TaskOutcome, outcome, "outcome")
    if _outcome_chars(record) > limits.max_outcome_chars:  # before scanning the text
        raise LimitExceededError("outcome", limits.max_outcome_chars, _outcome_chars(record))
    found: list[str] = [] if replaced is None else replaced

    def text(value: str | None, name: str) -> str | None:
        if value is None:
            return None
        value = clean_text(value, f"outcome.{name}", found)
        return redact_text(value) if redact else value

    def texts(values: list[str], name: str) -> list[str]:
        return [text(value, name) or "" for value in values]

    record = record.model_copy(
        update={
            "verdict": text(record.verdict, "verdict"),
            "artifacts": texts(record.artifacts, "artifacts"),
            "completed": texts(record.completed, "completed"),
            "failed": texts(record.failed, "failed"),
            "reason": text(record.reason, "reason"),
            "error_details": text(record.error_details, "error_details"),
        }
    )
    size = len(record.model_dump_json())
    if size > limits.max_outcome_chars:
        raise LimitExceededError("outcome", limits.max_outcome_chars, size)
    return record


def prepare_start_time(start_time: Any, field: str = "start_time") -> datetime:
    """A timezone-aware time that is not in the future (a minute of clock skew ok)."""
    if not isinstance(start_time, datetime) or start_time.tzinfo is None:
        raise InvalidInputError(f"{field} must be a timezone-aware datetime", field=field)
    try:
        in_utc = start_time.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidInputError(f"{field} is out of range", field=field) from None
    if in_utc - utc_now() > timedelta(minutes=1):
        raise InvalidInputError(f"{field} is in the future", field=field)
    return in_utc


def storable_problem(step: ExecutionStep) -> str | None:
    """Why the store could not write ``step`` (say it was changed after validation), or
    None. The step buffer asks before each write, so one bad step cannot block the rest."""
    try:
        step.model_dump_json()
    except (ValueError, RecursionError) as exc:  # PydanticSerializationError is a ValueError
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return "it cannot be serialised: " + reason.encode("utf-8", "backslashreplace").decode()
    if step.step_number is not None and not 1 <= step.step_number <= MAX_STEP_NUMBER:
        return f"its step_number is outside 1 to {MAX_STEP_NUMBER}"
    if step.tokens is not None and not 0 <= step.tokens <= INT64_MAX:
        return "its tokens are outside the signed 64-bit range"
    return None
