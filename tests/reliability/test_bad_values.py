"""One bad value must not poison the process.

What agents really log (a file name decoded with ``os.fsdecode``, a counter past 64 bits, a
NaN latency metric, a 5,000-deep parser tree, an object that is not JSON) is either stored
in a form the store can hold or refused with an ``InvalidInputError`` naming the field,
and a step that cannot be written is kept apart so the other episodes' steps still are.
All against a real libSQL file and LMDB cache, read back through a fresh handle.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from selfmem import (
    InvalidInputError,
    LimitExceededError,
    Limits,
    SelfLearningMemory,
    TaskContext,
    TaskOutcome,
)

SURROGATE = os.fsdecode(b"report-\xff.txt")  # "report-\udcff.txt"


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "mem"


def test_a_lone_surrogate_in_tool_output_is_replaced_and_noted(store: Path) -> None:
    with SelfLearningMemory.open(store, flush_interval_s=0.05) as memory:
        eid = memory.start_episode(f"Summarise {SURROGATE}")
        other = memory.start_episode("Another task in the same process")
        memory.log_step(other, tool="ls", observation="3 files")
        step = memory.log_step(
            eid, tool="read", observation=f"opened {SURROGATE}",
            parameters={"path": SURROGATE},
        )  # fmt: skip
        assert step.observation == "opened report-\ufffd.txt"
        assert step.parameters == {"path": "report-\ufffd.txt"}
        assert step.metadata["replaced_surrogates"] == ["parameters", "observation"]
        time.sleep(0.2)  # the background flusher runs, and survives
        memory.flush()
        memory.complete_episode(other, TaskOutcome.success("listed"))
        done = memory.complete_episode(eid, TaskOutcome.success(f"summarised {SURROGATE}"))
    assert done.metadata["replaced_surrogates"] == ["task_description", "outcome.verdict"]
    with SelfLearningMemory.open(store) as memory:
        episode = memory.get_episode(eid)
        assert episode.task_description == "Summarise report-\ufffd.txt"
        assert episode.steps[0].observation == "opened report-\ufffd.txt"
        assert [s.tool for s in memory.get_episode(other).steps] == ["ls"]
        assert memory.stats().open_episodes == 0


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda m, eid: m.log_step(eid, tool=f"read {SURROGATE}"), "step.tool"),
        (lambda m, eid: m.log_step(f"{eid}{SURROGATE}", tool="t"), "episode_id"),
        (lambda m, eid: m.start_episode("t", {"domain": SURROGATE}), "context.domain"),
        (lambda m, eid: m.start_episode("t", {"tags": [SURROGATE]}), "context.tags[]"),
        (lambda m, eid: m.scoped(SURROGATE), "namespace"),
        (lambda m, eid: m.put_item(("docs",), SURROGATE, {"x": 1}), "key"),
        (lambda m, eid: m.put_item(("docs", SURROGATE), "k", {"x": 1}), "namespace label"),
        (lambda m, eid: m.put_item(("docs",), "k", {"x": SURROGATE}), "value"),
    ],
    ids=["tool", "episode-id", "domain", "tag", "namespace", "item-key", "item-label",
         "item-value"],
)  # fmt: skip
def test_a_lone_surrogate_in_an_identifier_is_refused_naming_the_field(
    store: Path, call: Any, field: str
) -> None:
    with SelfLearningMemory.open(store, flush_interval_s=None) as memory:
        eid = memory.start_episode("Index the reports")
        with pytest.raises(InvalidInputError) as info:
            call(memory, eid)
        assert info.value.field == field
        str(info.value).encode("utf-8")  # the message itself can be printed
        memory.flush()
        assert memory.stats().episodes == 1
        assert memory.search_items(()) == []


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"step_number": 10**400}, "step.step_number"),
        ({"step_number": 2**63}, "step.step_number"),
        ({"step_number": 2**53}, "step.step_number"),
        ({"tokens": 2**63}, "step.tokens"),
        ({"parameters": {"n": 2**63}}, "step.parameters"),
        ({"parameters": {"n": -(2**63) - 1}}, "step.parameters"),
        ({"parameters": {"x": float("nan")}}, "step.parameters"),
        ({"metadata": {"x": float("inf")}}, "step.metadata"),
        ({"parameters": {"f": object()}}, "step.parameters"),
        ({"parameters": _deep(5_000)}, "step.parameters"),
    ],
    ids=["huge-step-number", "2**63", "2**53", "tokens", "int-param", "negative-int-param", "nan",
         "inf-metadata", "object", "deep"],
)  # fmt: skip
def test_values_sqlite_or_json_cannot_hold_are_refused(
    store: Path, fields: dict[str, Any], field: str
) -> None:
    with SelfLearningMemory.open(store, flush_interval_s=None) as memory:
        eid = memory.start_episode("Count the rows")
        with pytest.raises(InvalidInputError) as info:
            memory.log_step(eid, tool="sql", **fields)
        assert info.value.field == field
        assert memory.get_episode(eid).steps == []
        memory.log_step(eid, tool="sql", observation="still works")
        memory.complete_episode(eid, TaskOutcome.success("counted"))


def test_the_messages_name_the_field_and_the_limit(store: Path) -> None:
    with SelfLearningMemory.open(store, flush_interval_s=None) as memory:
        eid = memory.start_episode("Parse the tree")
        with pytest.raises(InvalidInputError, match="nested deeper than the limit of 64"):
            memory.log_step(eid, tool="parse", parameters=_deep(5_000))
        with pytest.raises(InvalidInputError, match=r"step.parameters\['f'\] is of type object"):
            memory.log_step(eid, tool="parse", parameters={"f": object()})
        with pytest.raises(InvalidInputError, match=r"from 1 to 9007199254740991"):
            memory.log_step(eid, tool="parse", step_number=2**63)
        with pytest.raises(InvalidInputError, match=r"\['n'\] is outside the signed 64-bit"):
            memory.log_step(eid, tool="parse", parameters={"n": 2**63})
        with pytest.raises(LimitExceededError, match=r"context\.domain is 201 characters"):
            memory.start_episode("t", TaskContext(domain="d" * 201))


def test_the_largest_step_numbers_are_stored_exactly_and_apart(store: Path) -> None:
    """``2**63`` and ``2**63 + 1`` used to become the same REAL, and one step replaced the
    other (the driver passes integers through a float, exact up to 2**53); the largest step
    numbers allowed are stored exactly."""
    top = 2**53 - 1
    with SelfLearningMemory.open(store, flush_interval_s=None) as memory:
        eid = memory.start_episode("Number the steps")
        memory.log_step(eid, tool="a", step_number=top - 1)
        memory.log_step(eid, tool="b", step_number=top)
        memory.complete_episode(eid, TaskOutcome.success("numbered"))
    with SelfLearningMemory.open(store, cache=False) as memory:
        steps = memory.get_episode(eid).steps
        assert [(s.step_number, s.tool) for s in steps] == [(top - 1, "a"), (top, "b")]


def test_nesting_up_to_the_limit_is_accepted(store: Path) -> None:
    with SelfLearningMemory.open(
        store, flush_interval_s=None, limits=Limits(max_json_depth=3)
    ) as m:
        eid = m.start_episode("Nest")
        m.log_step(eid, tool="t", parameters={"a": {"b": {"c": 1}}})
        with pytest.raises(InvalidInputError, match="limit of 3 levels"):
            m.log_step(eid, tool="t", parameters={"a": {"b": {"c": [1]}}})


def test_a_step_the_store_cannot_write_is_parked_for_its_episode_alone(store: Path) -> None:
    """A step changed after it was logged (a handler kept the returned record) cannot be
    serialised. It is left out of its episode, whose completion reports it once; every
    other step is written, by the background flusher too."""
    with SelfLearningMemory.open(store, flush_interval_s=0.05) as memory:
        bad = memory.start_episode("Read the reports")
        good = memory.start_episode("Rotate the keys")
        memory.log_step(bad, tool="ls", observation="2 files")
        kept = memory.log_step(bad, tool="read", observation="ok")
        kept.observation = SURROGATE  # validate_assignment lets a plain str through
        memory.log_step(good, tool="vault", observation="rotated")
        time.sleep(0.2)
        assert memory.flush() == 0  # the flusher already wrote what it could
        with pytest.raises(InvalidInputError, match=r"step 2 .* could not be stored") as info:
            memory.complete_episode(bad, TaskOutcome.success("read"))
        assert info.value.field == "step"
        done = memory.complete_episode(bad, TaskOutcome.success("read"))
        assert [s.tool for s in done.steps] == ["ls"]
        memory.complete_episode(good, TaskOutcome.success("rotated"))
    with SelfLearningMemory.open(store) as memory:
        assert [s.tool for s in memory.get_episode(bad).steps] == ["ls"]
        assert [s.tool for s in memory.get_episode(good).steps] == ["vault"]


def test_close_writes_every_good_step_despite_a_bad_one(store: Path) -> None:
    memory = SelfLearningMemory.open(store, flush_interval_s=None)
    first = memory.start_episode("First")
    second = memory.start_episode("Second")
    memory.log_step(first, tool="read", observation="ok").observation = SURROGATE
    memory.log_step(second, tool="write", observation="saved")
    memory.close()
    with SelfLearningMemory.open(store) as reopened:
        assert reopened.get_episode(first).steps == []
        assert [s.tool for s in reopened.get_episode(second).steps] == ["write"]


def test_search_items_with_a_filter_that_is_not_a_mapping(store: Path) -> None:
    with SelfLearningMemory.open(store) as memory:
        with pytest.raises(InvalidInputError) as info:
            memory.search_items(("docs",), filter=3.5)  # type: ignore[arg-type]
        assert info.value.field == "filter"


def test_feedback_with_a_lone_surrogate_in_a_pattern_id_is_refused(store: Path) -> None:
    """A pattern id is an identifier: refused, not repaired, and completion is not blocked."""
    with SelfLearningMemory.open(store, flush_interval_s=None) as memory:
        eid = memory.start_episode("Use what was learned")
        with pytest.raises(InvalidInputError) as info:
            memory.record_feedback(eid, [f"pattern-{SURROGATE}"])
        assert info.value.field == "pattern_ids[]"
        done = memory.complete_episode(eid, TaskOutcome.success("used"))
        assert "replaced_surrogates" not in done.metadata
    with SelfLearningMemory.open(store) as memory:
        assert memory.get_episode(eid).is_complete
