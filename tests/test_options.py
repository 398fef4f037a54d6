"""The public option checks the integrations run when a handler, recorder, retriever or block
is built: each returns the value the memory takes, or names the option and what it accepts."""

from __future__ import annotations

from typing import Any

import pytest

from selfmem import InvalidInputError, SelfLearningMemory, TaskContext, TaskType
from selfmem.memory.options import (
    KINDS,
    check_bool,
    check_context,
    check_count,
    check_include,
    check_memory,
    check_optional_str,
    check_task_type,
)


def refused(check: Any, *args: Any, **kwargs: Any) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as raised:
        check(*args, **kwargs)
    return raised.value


def test_memory(in_memory: SelfLearningMemory) -> None:
    assert check_memory(in_memory) is in_memory
    error = refused(check_memory, "./mem", "memory")
    assert error.field == "memory" and "selfmem.SelfLearningMemory, got str" in str(error)


def test_task_type_known_custom_and_refused() -> None:
    assert check_task_type("debugging") is TaskType.DEBUGGING
    assert check_task_type(TaskType.ANALYSIS) is TaskType.ANALYSIS
    assert check_task_type("code-review") == "code-review"
    for bad in ("", "Planning", 7, None):
        error = refused(check_task_type, bad, "selfmem_task_type")
        assert error.field == "selfmem_task_type"
        assert "lowercase letter" in str(error) and "code_generation" in str(error)


def test_context_as_record_or_dict_with_the_closest_field_named() -> None:
    assert check_context(None) is None
    assert check_context({"domain": "web", "tags": ["Auth"]}) == TaskContext(
        domain="web", tags=["auth"]
    )
    error = refused(check_context, {"domian": "web"})
    assert error.field == "context" and "did you mean 'domain'?" in str(error)
    assert "complexity" in str(refused(check_context, {"complexity": "huge"}))
    assert "got str" in str(refused(check_context, "web"))


def test_counts_flags_strings_and_kinds() -> None:
    assert check_count(5, "k") == 5
    for bad in (0, 101, True, "3"):
        assert "k must be an integer from 1 to 100" in str(refused(check_count, bad, "k"))
    assert check_bool(False, "background") is False
    assert refused(check_bool, "yes", "background").field == "background"
    assert check_optional_str(None, "namespace") is None
    assert "non-empty string or None" in str(refused(check_optional_str, " ", "namespace"))
    assert check_include(["patterns", "episode", "pattern"]) == ("pattern", "episode")
    assert check_include(KINDS) == KINDS
    assert "unknown kind 'recipe'; known: episode" in str(refused(check_include, ["recipe"]))
    assert "list of kinds" in str(refused(check_include, "episode"))
    assert "at least one kind" in str(refused(check_include, []))
