"""Checking options when a recorder or memory block is built.

A wrong value fails at construction with :class:`selfmem.InvalidInputError` naming the
option, not later inside a span handler or a memory flush (where it could only be logged).
Task types follow the core's own rules: a :class:`selfmem.TaskType` or any non-empty string
the core accepts.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import pydantic

from selfmem import InvalidInputError, SelfLearningMemory, TaskContext, TaskType
from selfmem.records import Episode

__all__ = ["check_context", "check_memory", "check_task_type"]


def check_memory(memory: Any, option: str = "memory") -> SelfLearningMemory:
    if not isinstance(memory, SelfLearningMemory):
        raise InvalidInputError(
            f"{option} must be a selfmem.SelfLearningMemory, got {type(memory).__name__}",
            field=option,
        )
    return memory


def check_task_type(value: Any, option: str = "task_type") -> TaskType | str:
    """A known :class:`TaskType`, or a custom task type if the core accepts it."""
    if isinstance(value, TaskType):
        return value
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(
            f"{option} must be a non-empty string (a selfmem.TaskType or your own), "
            f"got {value!r}",
            field=option,
        )
    try:
        return TaskType(value)
    except ValueError:
        pass
    try:  # the episode record decides which task types the core stores
        Episode.model_validate({"task_description": "-", "task_type": value})
    except pydantic.ValidationError:
        known = ", ".join(t.value for t in TaskType)
        raise InvalidInputError(
            f"{option} {value!r} is not a task type this version of selfmem accepts; "
            f"use one of: {known}",
            field=option,
        ) from None
    return value


def check_context(value: Any, option: str = "context") -> TaskContext | None:
    """``None``, a :class:`TaskContext`, or a dict of its fields (unknown ones refused, as
    the core refuses them)."""
    if value is None or isinstance(value, TaskContext):
        return value
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"{option} must be a selfmem.TaskContext or a dict, got {type(value).__name__}",
            field=option,
        )
    known = set(TaskContext.model_fields)
    unknown = [key for key in value if key not in known]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InvalidInputError(
            f"{option}: unknown field {unknown[0]!r}{hint}; known: {', '.join(sorted(known))}",
            field=option,
        )
    try:
        return TaskContext.model_validate(dict(value))
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise InvalidInputError(
            f"{option} is not a valid TaskContext: {problems}", field=option
        ) from None
