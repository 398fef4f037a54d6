"""The pure parts: the default outcome judge, safe step arguments, reading chat messages."""

from __future__ import annotations

from llama_index.core.base.llms.types import ChatMessage
from llama_index.memory.selfmem import RunRecord, default_judge
from llama_index.memory.selfmem.conversation import (
    Answer,
    ToolCalled,
    ToolReturned,
    UserTurn,
    message_events,
    parse_react,
)
from llama_index.memory.selfmem.runs import make_step

from selfmem import ExecutionStep, OutcomeStatus, SelfLearningMemory, TaskOutcome


def run(
    *steps: tuple[str, bool], answer: str | None = "done", error: str | None = None
) -> RunRecord:
    record = RunRecord(task="t", answer=answer, error=error)
    record.steps = [
        ExecutionStep(tool=tool, success=ok, error=None if ok else "boom") for tool, ok in steps
    ]
    return record


def test_default_judge() -> None:
    assert default_judge(run(("a", True))) == TaskOutcome.success("done")
    assert default_judge(run()) == TaskOutcome.success("done")
    assert default_judge(run(("a", False), ("a", True))) == TaskOutcome.success("done")
    partial = default_judge(run(("a", False), ("b", True)))
    assert partial == TaskOutcome.partial("done", completed=["b"], failed=["a"])
    failed = default_judge(run(("a", False)))
    assert failed.status is OutcomeStatus.FAILURE
    assert failed.reason == "every tool call failed (a)" and failed.error_details == "a: boom"
    assert default_judge(run(answer=None)) == TaskOutcome.failure("the run ended without an answer")
    assert default_judge(run(("a", True), error="ValueError: x")) == TaskOutcome.failure(
        "ValueError: x"
    )


def test_make_step_keeps_arguments_storable(memory: SelfLearningMemory) -> None:
    odd = make_step(memory, "t", {"when": object(), "n": 1}, observation="ok")
    assert odd.parameters["n"] == 1 and odd.parameters["when"].startswith("<object object")
    huge = make_step(memory, "t", {"blob": "x" * 100_000}, error="too big")
    assert list(huge.parameters) == ["truncated"] and not huge.success
    eid = memory.start_episode("store both")
    memory.log_step(eid, odd)
    memory.log_step(eid, huge)
    assert len(memory.get_episode(eid).steps) == 2
    assert make_step(memory, "", {}, latency_ms=-1).tool == "unknown_tool"


def test_react_transcripts() -> None:
    text = (
        "Thought: look it up\nAction: search\nAction Input: {'q': 'x'}\nObservation: found\n"
        'Thought: again\nAction: fetch\nAction Input: {"url": "u"}\n'
        "Action: parse\nAction Input: not json\n"
        "Thought: done\nAnswer: the answer\nspans two lines"
    )
    assert parse_react(text) == [
        ToolCalled("", "search", {"q": "x"}, observation="found", complete=True),
        ToolCalled("", "fetch", {"url": "u"}, complete=True),
        ToolCalled("", "parse", {"input": "not json"}, complete=True),
        Answer("the answer\nspans two lines"),
    ]
    assert parse_react("just prose") == []


def test_message_events() -> None:
    assert message_events(ChatMessage(role="user", content="hi")) == [UserTurn("hi")]
    assert message_events(ChatMessage(role="user", content=" ")) == []
    assert message_events(ChatMessage(role="system", content="rules")) == []
    assert message_events(ChatMessage(role="assistant", content="")) == []
    tool = ChatMessage(role="tool", content="r", additional_kwargs={"tool_call_id": 7, "name": "n"})
    assert message_events(tool) == [ToolReturned("7", "r", tool="n")]
    selection = ChatMessage(
        role="assistant",
        additional_kwargs={"tool_calls": [{"tool_id": "x", "tool_name": "f", "tool_kwargs": {}}]},
    )
    assert message_events(selection) == [ToolCalled("x", "f", {})]
    listed = ChatMessage(
        role="assistant",
        additional_kwargs={
            "tool_calls": [{"id": "y", "function": {"name": "g", "arguments": "[1]"}}]
        },
    )
    assert message_events(listed) == [ToolCalled("y", "g", {"input": [1]})]
