"""SelfMemMemoryBlock inside ``llama_index.core.memory.Memory``, with real agents."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core.agent.workflow import FunctionAgent, ReActAgent
from llama_index.core.base.llms.types import ChatMessage, ToolCallBlock
from llama_index.core.memory import Memory
from llama_index.memory.selfmem import SelfMemMemoryBlock, SelfMemRecorder
from llamaindex_helpers import (
    LOGIN,
    ScriptedLLM,
    answer,
    call,
    coding_tools,
    fix_script,
    react_llm,
    seed_login_episodes,
    tools,
)

from selfmem import OutcomeStatus, SelfLearningMemory, TaskOutcome

SEQUENCE = "Suggested tool sequence: run_tests -> edit_file -> run_tests"


def chat_memory(block: SelfMemMemoryBlock, session: str = "s1", limit: int = 200) -> Memory:
    """A Memory whose short-term queue is small, so finished turns flush to the block."""
    return Memory.from_defaults(session_id=session, token_limit=limit, memory_blocks=[block])


async def test_flushed_turns_become_episodes_and_experience_comes_back(
    memory: SelfLearningMemory,
) -> None:
    block = SelfMemMemoryBlock(memory, context=LOGIN, record=True)
    chat = chat_memory(block)
    llms = [ScriptedLLM(fix_script(n)) for n in range(6)]
    for n, llm in enumerate(llms):
        agent = FunctionAgent(tools=coding_tools(), llm=llm)
        await agent.run(user_msg=f"Fix the failing login test, attempt {n}", memory=chat)

    recorded = memory.list_episodes()
    assert len(recorded) >= 4  # the newest turns are still in short-term memory
    for episode in recorded:
        assert [s.tool for s in episode.steps] == ["run_tests", "edit_file", "run_tests"]
        assert episode.steps[1].parameters == {"path": "auth.py"}
        assert episode.steps[1].observation == "saved auth.py"
        assert episode.outcome is not None and episode.outcome.is_success
        assert episode.context.domain == "web"
    assert memory.list_patterns(), "three or more alike episodes teach a tool sequence"

    # the next turn's prompt carries the learned experience
    messages = await chat.aget(input="the login test fails again")
    assert messages[0].role == "system"
    assert "<past_experience>" in str(messages[0].content)
    assert SEQUENCE in str(messages[0].content)
    assert SEQUENCE in str(llms[-1].prompts[0][0].content), "the agent's LLM saw it"


async def test_aget_renders_relevant_experience(memory: SelfLearningMemory) -> None:
    seed_login_episodes(memory)
    block = SelfMemMemoryBlock(memory=memory, context=LOGIN, max_tokens=300)
    history = [
        ChatMessage(role="user", content="hello"),
        ChatMessage(role="user", content="The login test fails with 401"),
    ]

    text = await block.aget(history)

    assert text.startswith("Relevant past experience:")
    assert SEQUENCE in text
    assert "What to avoid:" in text and "delete_test" in text
    assert await block.aget([]) == ""
    assert await block.aget(None) == ""
    assert block.query_for(history) == "The login test fails with 401"
    two = SelfMemMemoryBlock(memory=memory, query_messages=2)
    assert two.query_for(history) == "hello\nThe login test fails with 401"


async def test_atruncate_drops_the_least_relevant_lines(memory: SelfLearningMemory) -> None:
    seed_login_episodes(memory)
    block = SelfMemMemoryBlock(memory=memory, context=LOGIN)
    text = await block.aget([ChatMessage(role="user", content="login test fails")])

    shorter = await block.atruncate(text, 20)
    assert shorter is not None and text.startswith(shorter) and len(shorter) < len(text)
    assert not shorter.endswith(":")
    assert await block.atruncate(text, 10_000) is None


async def test_tool_calls_and_results_in_messages_become_steps(
    memory: SelfLearningMemory,
) -> None:
    block = SelfMemMemoryBlock(memory, record=True)
    failing = ChatMessage(
        role="tool",
        content="permission denied",
        additional_kwargs={"tool_call_id": "b", "is_error": True},
    )
    await block.aput(
        [
            ChatMessage(role="user", content="Deploy the service"),
            call("build", call_id="a", target="api"),
            ChatMessage(role="tool", content="built", additional_kwargs={"tool_call_id": "a"}),
            ChatMessage(
                role="assistant",
                content="",
                additional_kwargs={
                    "tool_calls": [
                        {"id": "b", "function": {"name": "deploy", "arguments": '{"env": "prod"}'}}
                    ]
                },
            ),
            failing,
            answer("deployment failed: permission denied"),
            ChatMessage(role="user", content="Check the logs"),
            ChatMessage(
                role="assistant", blocks=[ToolCallBlock(tool_call_id="c", tool_name="logs")]
            ),
        ],
        session_id="ops",
    )

    [deploy] = memory.list_episodes(completed_only=True)
    assert deploy.task_description == "Deploy the service"
    assert deploy.metadata == {"source": "llama_index", "session": "ops"}
    assert [(s.tool, s.parameters, s.observation, s.success) for s in deploy.steps] == [
        ("build", {"target": "api"}, "built", True),
        ("deploy", {"env": "prod"}, "permission denied", False),
    ]
    assert deploy.outcome is not None
    assert deploy.outcome.status is OutcomeStatus.PARTIAL_SUCCESS

    # the open turn ("Check the logs") completes on flush(); its call never got a result
    await block.aflush()
    logs = next(e for e in memory.list_episodes() if e.task_description == "Check the logs")
    assert logs.outcome == TaskOutcome.failure("the run ended without an answer")
    assert [(s.tool, s.error) for s in logs.steps] == [("logs", "no result was recorded")]


async def test_react_transcripts_become_steps(memory: SelfLearningMemory) -> None:
    block = SelfMemMemoryBlock(memory, record=True)
    chat = chat_memory(block, limit=120)
    for n in range(3):
        llm = react_llm(
            f'Thought: add first.\nAction: add\nAction Input: {{"a": {n}, "b": 1}}',
            f"Thought: I can answer without using any more tools.\nAnswer: it is {n + 1}",
        )
        await ReActAgent(tools=tools(), llm=llm).run(user_msg=f"What is {n} + 1?", memory=chat)
    await block.aflush()

    recorded = sorted(memory.list_episodes(), key=lambda e: e.task_description)
    assert recorded, "the first turns were flushed to the block"
    for episode in recorded:
        n = int(episode.task_description.split()[2])
        [step] = episode.steps
        assert (step.tool, step.parameters, step.observation) == (
            "add",
            {"a": n, "b": 1},
            str(n + 1),
        )
        assert episode.outcome == TaskOutcome.success(f"it is {n + 1}")


async def test_sessions_are_kept_apart(memory: SelfLearningMemory) -> None:
    block = SelfMemMemoryBlock(memory, record=True)
    await block.aput([ChatMessage(role="user", content="task in session A")], session_id="A")
    await block.aput([ChatMessage(role="user", content="task in session B")], session_id="B")
    await block.aput([call("add", call_id="1", a=1, b=1)], session_id="A")
    await block.aput(
        [ChatMessage(role="tool", content="2", additional_kwargs={"tool_call_id": "1"})],
        session_id="A",
    )
    await block.aput([answer("B done")], session_id="B")
    await block.aput([answer("A done")], session_id="A")

    by_task = {e.task_description: e for e in memory.list_episodes()}
    assert [s.tool for s in by_task["task in session A"].steps] == ["add"]
    assert by_task["task in session B"].steps == []
    assert by_task["task in session B"].outcome == TaskOutcome.success("B done")


async def test_read_only_block_with_the_recorder(memory: SelfLearningMemory) -> None:
    block = SelfMemMemoryBlock(memory=memory, record=False)
    chat = chat_memory(block)
    with SelfMemRecorder(memory) as recorder:
        for n in range(4):
            agent = FunctionAgent(tools=coding_tools(), llm=ScriptedLLM(fix_script(n)))
            await agent.run(user_msg=f"Fix the failing login test {n}", memory=chat)

    assert len(recorder.episode_ids) == 4
    assert memory.stats().episodes == 4, "each run recorded once, by the recorder only"
    text = await block.aget([ChatMessage(role="user", content="fix the login test")])
    assert SEQUENCE in text


async def test_a_failing_memory_gives_no_experience_but_no_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    memory = SelfLearningMemory.open(tmp_path / "closed")
    memory.close()
    block = SelfMemMemoryBlock(memory, record=True)
    chat = chat_memory(block, limit=20)

    llm = ScriptedLLM([call("add", a=1, b=2), answer("3"), answer("again")])
    agent = FunctionAgent(tools=tools(), llm=llm)
    assert str(await agent.run(user_msg="What is 1 + 2?", memory=chat)) == "3"
    assert str(await agent.run(user_msg="And again?", memory=chat)) == "again"

    assert "retrieval failed" in caplog.text
    assert "could not start an episode" in caplog.text
