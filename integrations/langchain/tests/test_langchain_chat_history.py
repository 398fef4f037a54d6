"""SelfMemChatMessageHistory: conversations that survive a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_selfmem import SelfMemChatMessageHistory

from selfmem import SelfLearningMemory

CONVERSATION = [
    SystemMessage(content="You are terse."),
    HumanMessage(content="What is 2 + 2?"),
    AIMessage(content="", tool_calls=[{"name": "add", "args": {"a": 2, "b": 2}, "id": "c1"}]),
    ToolMessage(content="4", tool_call_id="c1"),
    AIMessage(content="4"),
]


def test_messages_round_trip_and_survive_a_restart(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path / "mem") as memory:
        history = SelfMemChatMessageHistory(memory, "session-1")
        assert history.messages == []
        history.add_messages(CONVERSATION[:2])
        history.add_messages(CONVERSATION[2:])
        SelfMemChatMessageHistory(memory, "session-2").add_user_message("other session")

    with SelfLearningMemory.open(tmp_path / "mem") as memory:
        restored = SelfMemChatMessageHistory(memory, "session-1").messages
        assert restored == CONVERSATION
        assert isinstance(restored[2], AIMessage) and restored[2].tool_calls[0]["id"] == "c1"
        other = SelfMemChatMessageHistory(memory, "session-2").messages
        assert [m.content for m in other] == ["other session"]


def test_order_holds_past_ten_and_a_page(memory: SelfLearningMemory) -> None:
    history = SelfMemChatMessageHistory(memory, "long")
    for n in range(1_005):
        history.add_message(HumanMessage(content=str(n)))  # keys are zero-padded: 10 after 9
    assert [m.content for m in history.messages] == [str(n) for n in range(1_005)]


def test_clear_deletes_only_the_session(memory: SelfLearningMemory) -> None:
    kept = SelfMemChatMessageHistory(memory, "kept")
    kept.add_user_message("keep me")
    gone = SelfMemChatMessageHistory(memory, "gone")
    gone.add_messages(CONVERSATION)
    gone.clear()
    assert gone.messages == []
    assert [m.content for m in kept.messages] == ["keep me"]
    gone.add_ai_message("fresh start")
    assert [m.content for m in gone.messages] == ["fresh start"]


async def test_async_methods(memory: SelfLearningMemory) -> None:
    history = SelfMemChatMessageHistory(memory, "async")
    await history.aadd_messages(CONVERSATION[:3])
    await history.aadd_messages(CONVERSATION[3:])
    assert await history.aget_messages() == CONVERSATION
    await history.aclear()
    assert await history.aget_messages() == []


def test_sessions_are_scoped_by_the_memory_namespace(memory: SelfLearningMemory) -> None:
    SelfMemChatMessageHistory(memory.scoped("alice"), "s").add_user_message("from alice")
    assert SelfMemChatMessageHistory(memory.scoped("bob"), "s").messages == []


def test_two_writers_of_one_session_never_overwrite_each_other(
    memory: SelfLearningMemory,
) -> None:
    first = SelfMemChatMessageHistory(memory, "shared")
    second = SelfMemChatMessageHistory(memory, "shared")
    first.add_user_message("one")
    second.add_user_message("two")
    first.add_user_message("three")
    assert [m.content for m in second.messages] == ["one", "two", "three"]


def test_a_blank_session_id_is_rejected(memory: SelfLearningMemory) -> None:
    with pytest.raises(ValueError, match="session_id"):
        SelfMemChatMessageHistory(memory, "")
