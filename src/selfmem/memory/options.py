"""Checks for the options of what wraps a memory: handlers, recorders, retrievers, blocks.

Framework integrations (the LangChain and LlamaIndex packages) call these when a handler,
retriever, middleware, store, tool, recorder or memory block is built, so a wrong value fails
at construction with :class:`~selfmem.errors.InvalidInputError` naming the option and what
it accepts, not later inside a callback where it could only be logged. Each check returns
the value in the form the memory takes::

    from selfmem.memory.options import check_context, check_memory, check_task_type

    memory = check_memory(memory)
    task_type = check_task_type(task_type)  # a known TaskType or a custom one
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any, Literal, cast

import pydantic

from ..errors import InvalidInputError
from ..records.episodes import TaskContext, TaskType
from ..security.validation import prepare_task_type
from .self_learning_memory import SelfLearningMemory

__all__ = [
    "KINDS",
    "Kind",
    "check_bool",
    "check_context",
    "check_count",
    "check_include",
    "check_memory",
    "check_optional_str",
    "check_task_type",
]

#: What a retrieved document or node describes.
Kind = Literal["episode", "pattern", "heuristic", "lesson"]
KINDS: tuple[Kind, ...] = ("episode", "pattern", "heuristic", "lesson")
_PLURALS = {f"{kind}s": kind for kind in KINDS}


def check_memory(memory: Any, option: str = "memory") -> SelfLearningMemory:
    """A :class:`SelfLearningMemory` (anything else names its type)."""
    if not isinstance(memory, SelfLearningMemory):
        raise InvalidInputError(
            f"{option} must be a selfmem.SelfLearningMemory, got {type(memory).__name__}",
            field=option,
        )
    return memory


def check_task_type(value: Any, option: str = "task_type") -> TaskType:
    """A known :class:`TaskType` or a custom one: a lowercase letter followed by lowercase
    letters, digits, ``_`` or ``-`` (``planning``, ``code-review``), at most 64 characters.
    The same rule as ``start_episode``'s, so what passes here is what the memory stores."""
    return prepare_task_type(value, option)


def check_context(value: Any, option: str = "context") -> TaskContext | None:
    """``None``, a :class:`TaskContext`, or a dict of its fields (unknown ones refused, with
    the closest known field suggested)."""
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


def check_count(value: Any, option: str, *, low: int = 1, high: int = 100) -> int:
    """An integer from ``low`` to ``high`` (``True`` is not a count)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(
            f"{option} must be an integer from {low} to {high}, got {value!r}", field=option
        )
    return value


def check_bool(value: Any, option: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{option} must be True or False, got {value!r}", field=option)
    return value


def check_optional_str(value: Any, option: str) -> str | None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise InvalidInputError(
            f"{option} must be a non-empty string or None, got {value!r}", field=option
        )
    return None if value is None else str(value)


def check_include(value: Any, option: str = "include") -> tuple[Kind, ...]:
    """The kinds to retrieve: ``episode``, ``pattern``, ``heuristic``, ``lesson`` (plurals
    accepted too), in the order given, each once."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidInputError(
            f"{option} must be a list of kinds, e.g. ('episode', 'pattern'), got {value!r}",
            field=option,
        )
    kinds: list[Kind] = []
    for raw in value:
        kind = _PLURALS.get(raw, raw) if isinstance(raw, str) else raw
        if kind not in KINDS:
            raise InvalidInputError(
                f"{option}: unknown kind {raw!r}; known: {', '.join(KINDS)}", field=option
            )
        if kind not in kinds:
            kinds.append(cast(Kind, kind))
    if not kinds:
        raise InvalidInputError(f"{option} must name at least one kind", field=option)
    return tuple(kinds)
