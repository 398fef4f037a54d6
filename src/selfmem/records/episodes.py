"""Records: the episode and everything it holds.

All records are pydantic v2 models. They round-trip through JSON exactly
(``Episode.model_validate_json(ep.model_dump_json()) == ep``) and evolve compatibly:
unknown fields in stored JSON are ignored and every field added later has a default,
so JSON written by an older or newer selfmem still loads.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

__all__ = [
    "ComplexityLevel",
    "Episode",
    "ExecutionStep",
    "OutcomeStatus",
    "Reflection",
    "RewardScore",
    "TaskContext",
    "TaskOutcome",
    "MAX_TASK_TYPE_CHARS",
    "TASK_TYPE_PATTERN",
    "TaskType",
    "new_id",
    "utc_now",
]


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A time-ordered UUID (version 7 layout) as a string: ids sort by creation time."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= (rand >> 68) << 64 & (0xFFF << 64)  # 12 random bits
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def _as_utc(value: datetime) -> datetime:
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # e.g. datetime.max at UTC-5: a ValueError, so pydantic reports it
        raise ValueError("datetime out of range in UTC") from None


class _Record(BaseModel):
    # ``extra="ignore"``: JSON written by a newer selfmem (with fields this one lacks) still loads.
    model_config = ConfigDict(extra="ignore", validate_assignment=True, populate_by_name=True)


#: A task type: a lowercase letter, then lowercase letters, digits, ``_`` or ``-``.
MAX_TASK_TYPE_CHARS = 64
TASK_TYPE_PATTERN = rf"^[a-z][a-z0-9_-]{{0,{MAX_TASK_TYPE_CHARS - 1}}}$"
_TASK_TYPE = re.compile(TASK_TYPE_PATTERN)


class TaskType(StrEnum):
    """What kind of work an episode is.

    The members are the known kinds; any other identifier (a lowercase letter, then up to 63
    lowercase letters, digits, ``_`` or ``-``) is a custom task type:
    ``TaskType("planning")`` returns a value that compares equal to ``"planning"``, is stored,
    filtered and learned from like the known ones, and is not listed by ``list(TaskType)``.
    """

    CODE_GENERATION = "code_generation"
    DEBUGGING = "debugging"
    REFACTORING = "refactoring"
    TESTING = "testing"
    ANALYSIS = "analysis"
    DOCUMENTATION = "documentation"
    RESEARCH = "research"
    DEPLOYMENT = "deployment"
    OTHER = "other"

    @classmethod
    def _missing_(cls, value: object) -> TaskType | None:
        if not isinstance(value, str) or not _TASK_TYPE.match(value):
            return None  # Enum raises ValueError
        custom = str.__new__(cls, value)
        custom._name_ = value.upper().replace("-", "_")
        custom._value_ = value
        return custom

    @property
    def is_custom(self) -> bool:
        """True for a task type that is not one of the named members."""
        return self._value_ not in type(self)._value2member_map_

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        # An open set: a string of the task-type shape (not an enum of the members), so JSON
        # schemas (MCP tools) do not close the list.
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(
            cls,
            core_schema.str_schema(pattern=TASK_TYPE_PATTERN, max_length=MAX_TASK_TYPE_CHARS),
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, when_used="json-unless-none"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> Any:
        found = handler(schema)
        found["examples"] = [member.value for member in cls]
        found["description"] = (
            "A known task type or your own (lowercase letters, digits, '_' or '-', starting "
            f"with a letter, at most {MAX_TASK_TYPE_CHARS} characters)."
        )
        return found


class ComplexityLevel(StrEnum):
    """How hard the task is expected to be; scales the reward."""

    SIMPLE = "simple"
    MODERATE = "moderate"
    COMPLEX = "complex"


class TaskContext(_Record):
    """Where a task happens: used for filtering and for context-match ranking."""

    domain: str = "general"
    language: str | None = None
    framework: str | None = None
    tags: list[str] = Field(default_factory=list)
    complexity: ComplexityLevel = ComplexityLevel.MODERATE

    @field_validator("domain")
    @classmethod
    def _domain_not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("domain must not be blank")
        return value

    @field_validator("tags")
    @classmethod
    def _normalize_tags(cls, tags: list[str]) -> list[str]:
        seen: dict[str, None] = {}
        for tag in tags:
            cleaned = tag.strip().lower()
            if cleaned:
                seen.setdefault(cleaned, None)
        return list(seen)


class ExecutionStep(_Record):
    """One tool call (or other action) inside an episode.

    ``observation`` is the tool's result (``result=`` is accepted as an alias).
    ``success`` defaults to ``True`` unless an ``error`` is given.
    ``step_number`` is assigned by ``SelfLearningMemory.log_step`` when missing.
    """

    tool: str = Field(min_length=1)
    action: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)
    observation: str | None = Field(
        default=None, validation_alias=AliasChoices("observation", "result")
    )
    success: bool = True
    error: str | None = None
    latency_ms: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    tokens: int | None = Field(default=None, ge=0)
    step_number: int | None = Field(default=None, ge=1)
    timestamp: datetime = Field(default_factory=utc_now)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _success_follows_error(cls, data: Any) -> Any:
        if isinstance(data, dict) and "success" not in data and data.get("error"):
            return {**data, "success": False}
        return data

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _as_utc(value)

    @property
    def result(self) -> str | None:
        """Alias of ``observation``."""
        return self.observation


class OutcomeStatus(StrEnum):
    """How an episode ended. ``ABANDONED``: stopped before it finished (a stream the
    consumer left early, a cancelled run, a process that died): kept and listed, but not a
    verdict on the task, so learning and success statistics leave it out."""

    SUCCESS = "success"
    PARTIAL_SUCCESS = "partial_success"
    FAILURE = "failure"
    ABANDONED = "abandoned"


class TaskOutcome(_Record):
    """How an episode ended. Build one with ``success``, ``partial`` or ``failure``."""

    status: OutcomeStatus
    verdict: str = ""
    artifacts: list[str] = Field(default_factory=list)
    completed: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    reason: str | None = None
    error_details: str | None = None

    @classmethod
    def success(cls, verdict: str = "", artifacts: list[str] | None = None) -> TaskOutcome:
        return cls(status=OutcomeStatus.SUCCESS, verdict=verdict, artifacts=artifacts or [])

    @classmethod
    def partial(
        cls, verdict: str = "", completed: list[str] | None = None, failed: list[str] | None = None
    ) -> TaskOutcome:
        return cls(
            status=OutcomeStatus.PARTIAL_SUCCESS,
            verdict=verdict,
            completed=completed or [],
            failed=failed or [],
        )

    @classmethod
    def failure(cls, reason: str, error_details: str | None = None) -> TaskOutcome:
        return cls(status=OutcomeStatus.FAILURE, reason=reason, error_details=error_details)

    @classmethod
    def abandoned(cls, reason: str = "abandoned") -> TaskOutcome:
        """A run stopped before it finished: no verdict, nothing learned from it."""
        return cls(status=OutcomeStatus.ABANDONED, reason=reason)

    @property
    def is_success(self) -> bool:
        return self.status is OutcomeStatus.SUCCESS

    @property
    def is_abandoned(self) -> bool:
        """Stopped before it finished: left out of learning and success statistics."""
        return self.status is OutcomeStatus.ABANDONED

    @property
    def completed_fraction(self) -> float:
        """1.0 for success, 0.0 for failure (and abandoned), completed / (completed + failed)
        for partial."""
        if self.status is OutcomeStatus.SUCCESS:
            return 1.0
        if self.status in (OutcomeStatus.FAILURE, OutcomeStatus.ABANDONED):
            return 0.0
        total = len(self.completed) + len(self.failed)
        return len(self.completed) / total if total else 0.5

    def summary(self) -> str:
        """One line for humans and prompts."""
        if self.status in (OutcomeStatus.FAILURE, OutcomeStatus.ABANDONED):
            return f"{self.status.value}: {self.reason}" if self.reason else self.status.value
        if not self.verdict:
            return self.status.value.replace("_", " ")
        return f"{self.status.value}: {self.verdict}"


class RewardScore(_Record):
    """The reward of a completed episode and every component that produced it.

    ``total = base * efficiency * complexity_bonus * quality_multiplier + learning_bonus``,
    clamped at 0. ``explanation`` says the same in words.
    """

    total: float = Field(allow_inf_nan=False)
    base: float = Field(allow_inf_nan=False)
    efficiency: float = 1.0
    complexity_bonus: float = 1.0
    quality_multiplier: float = 1.0
    learning_bonus: float = 0.0
    explanation: list[str] = Field(default_factory=list)


class Reflection(_Record):
    """What an episode teaches: written on completion."""

    what_worked: list[str] = Field(default_factory=list)
    what_failed: list[str] = Field(default_factory=list)
    improvements: list[str] = Field(default_factory=list)
    insights: list[str] = Field(default_factory=list)
    recommendations: list[str] = Field(default_factory=list)
    generated_by: str = "deterministic"
    created_at: datetime = Field(default_factory=utc_now)


class Episode(_Record):
    """One task from start to outcome, with its steps, reward and reflection."""

    id: str = Field(default_factory=new_id)
    namespace: str = "default"
    task_description: str = Field(min_length=1)
    context: TaskContext = Field(default_factory=TaskContext)
    task_type: TaskType = TaskType.OTHER
    start_time: datetime = Field(default_factory=utc_now)
    end_time: datetime | None = None
    steps: list[ExecutionStep] = Field(default_factory=list)
    outcome: TaskOutcome | None = None
    reward: RewardScore | None = None
    reflection: Reflection | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("start_time", "end_time")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _as_utc(value)

    @property
    def is_complete(self) -> bool:
        return self.end_time is not None

    @property
    def duration_ms(self) -> float | None:
        if self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds() * 1000.0

    def tool_sequence(self, max_len: int = 12) -> str:
        """``a -> b -> c`` of the tools used, consecutive repeats collapsed."""
        tools: list[str] = []
        for step in self.steps:
            if not tools or tools[-1] != step.tool:
                tools.append(step.tool)
        shown = tools[:max_len]
        return " -> ".join(shown) + (" -> ..." if len(tools) > max_len else "")

    def step_text(self) -> str:
        """The searchable text of the steps: tools, actions, observations and errors."""
        parts: list[str] = []
        for step in self.steps:
            parts.append(step.tool)
            for text in (step.action, step.observation, step.error):
                if text:
                    parts.append(text[:2000])
        return "\n".join(parts)

    def _repr_html_(self) -> str:  # Jupyter: the timeline, reward and reflection
        from .html import episode_html

        return episode_html(self)
