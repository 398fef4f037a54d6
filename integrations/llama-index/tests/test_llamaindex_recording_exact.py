"""Recording is exact, or says why not: nested agents linked to their parents, tools that do
not exist, cancelled runs, every tool-call format LlamaIndex's agents accept, no run
recorded twice, and ``memory.flush()`` / ``close()`` writing what the recorder holds."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent, ReActAgent
from llama_index.core.base.llms.types import ChatMessage, ChatResponse
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.memory import Memory
from llama_index.core.tools import FunctionTool
from llama_index.memory.selfmem import SelfMemMemoryBlock, SelfMemRecorder
from llama_index.memory.selfmem.conversation import ToolCalled, ToolReturned, message_events
from llamaindex_helpers import ScriptedLLM, add, answer, call, coding_tools, fix_script, tools
from test_llamaindex_recorder import FlakyMemory, episodes

from selfmem import Episode, OutcomeStatus, SelfLearningMemory, TaskOutcome


async def test_a_nested_agent_run_is_linked_to_the_outer_episode(
    recorder: SelfMemRecorder,
) -> None:
    async def ask_expert(question: str) -> str:
        """Ask the expert agent."""
        inner = FunctionAgent(tools=tools(), llm=ScriptedLLM([call("add", a=6, b=7), answer("13")]))
        return str(await inner.run(user_msg=question))

    outer_llm = ScriptedLLM([call("ask_expert", question="6 + 7?"), answer("13")])
    outer = FunctionAgent(tools=[FunctionTool.from_defaults(ask_expert)], llm=outer_llm)
    await outer.run(user_msg="What is 6 + 7? Ask the expert.")

    by_task = {e.task_description: e for e in episodes(recorder)}
    inner, outer_episode = by_task["6 + 7?"], by_task["What is 6 + 7? Ask the expert."]
    assert inner.metadata["parent_episode_id"] == outer_episode.id
    assert "parent_episode_id" not in outer_episode.metadata
    [delegation] = outer_episode.steps
    assert delegation.metadata["child_episode_ids"] == [inner.id]


async def test_a_tool_that_does_not_exist_is_a_failed_step(recorder: SelfMemRecorder) -> None:
    llm = ScriptedLLM([call("teleport", city="Oslo"), call("add", a=1, b=1), answer("2")])
    await FunctionAgent(tools=tools(), llm=llm).run(user_msg="Go to Oslo")

    [episode] = episodes(recorder)
    missing, added = episode.steps
    assert (missing.tool, missing.parameters, missing.success) == (
        "teleport", {"city": "Oslo"}, False,
    )  # fmt: skip
    assert missing.error is not None and "Tool teleport not found" in missing.error
    assert (added.tool, added.observation) == ("add", "2")


async def test_a_cancelled_run_is_abandoned_not_failed(recorder: SelfMemRecorder) -> None:
    started = asyncio.Event()

    async def wait(seconds: int) -> str:
        """Wait a while."""
        started.set()
        await asyncio.sleep(seconds)
        return "waited"

    llm = ScriptedLLM([call("wait", seconds=60), answer("done")])
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(wait)], llm=llm)

    async def run() -> Any:
        return await agent.run(user_msg="Wait a minute")

    task = asyncio.create_task(run())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    [episode] = episodes(recorder)
    assert episode.outcome is not None
    assert episode.outcome.status is OutcomeStatus.ABANDONED
    assert episode.reward is None and recorder.memory.stats().abandoned == 1
    assert episode.outcome.reason == "the run was stopped before it ended (CancelledError)"


async def test_memory_flush_and_close_write_what_the_recorder_holds(tmp_path: Path) -> None:
    memory = FlakyMemory.open(tmp_path / "flaky", learn_inline=True)
    assert isinstance(memory, FlakyMemory)
    recorder = SelfMemRecorder(memory).attach()
    try:
        memory.fail_next = True
        await FunctionAgent(tools=tools(), llm=ScriptedLLM([call("add", a=1, b=2), answer("3")])
                            ).run(user_msg="1 + 2")  # fmt: skip
        assert len(recorder.unsaved) == 1 and recorder.episode_ids == []

        memory.flush()  # not recorder.retry_unsaved(): the memory flushes its recorders

        assert recorder.unsaved == []
        [episode] = episodes(recorder)
        assert episode.outcome == TaskOutcome.success("3") and len(episode.steps) == 1

        memory.fail_next = True
        await FunctionAgent(tools=tools(), llm=ScriptedLLM([answer("ok")])).run(user_msg="hi")
        assert len(recorder.unsaved) == 1
    finally:
        recorder.detach()
        memory.close()

    with SelfLearningMemory.open(tmp_path / "flaky") as reopened:
        assert sorted(e.task_description for e in reopened.list_episodes(completed_only=True)) == [
            "1 + 2", "hi",
        ]  # fmt: skip


def chat_memory(block: SelfMemMemoryBlock) -> Memory:
    return Memory.from_defaults(session_id="s", token_limit=200, memory_blocks=[block])


async def test_the_block_only_reads_by_default(memory: SelfLearningMemory) -> None:
    block = SelfMemMemoryBlock(memory)
    assert block.record is False
    chat = chat_memory(block)
    for n in range(5):
        agent = FunctionAgent(tools=coding_tools(), llm=ScriptedLLM(fix_script(n)))
        await agent.run(user_msg=f"Fix the failing login test {n}", memory=chat)
    assert memory.stats().episodes == 0


async def test_block_and_recorder_together_record_each_run_once(
    memory: SelfLearningMemory, caplog: pytest.LogCaptureFixture
) -> None:
    block = SelfMemMemoryBlock(memory, record=True)
    chat = chat_memory(block)
    with caplog.at_level(logging.WARNING), SelfMemRecorder(memory) as recorder:
        for n in range(5):
            agent = FunctionAgent(tools=coding_tools(), llm=ScriptedLLM(fix_script(n)))
            await agent.run(user_msg=f"Fix the failing login test {n}", memory=chat)
        await block.aflush()

    assert len(recorder.episode_ids) == 5
    assert memory.stats().episodes == 5, "each run once, by the recorder"
    notes = [r for r in caplog.records if "does not record them again" in r.getMessage()]
    assert len(notes) == 1


class AnthropicStyleLLM(ScriptedLLM):
    """Stores tool calls as Anthropic's integration does: ``tool_use`` dicts in
    ``additional_kwargs["tool_calls"]``, read back into ``ToolSelection``s."""

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = False, **kwargs: Any
    ) -> list[ToolSelection]:
        return [
            ToolSelection(tool_id=c["id"], tool_name=c["name"], tool_kwargs=c["input"])
            for c in response.message.additional_kwargs.get("tool_calls", [])
        ]


def tool_use(call_id: str, name: str, **arguments: Any) -> ChatMessage:
    use = {"id": call_id, "name": name, "input": arguments, "type": "tool_use"}
    return ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": [use]})


async def test_tool_calls_stored_anthropic_style_are_read(memory: SelfLearningMemory) -> None:
    block = SelfMemMemoryBlock(memory, record=True)
    chat = Memory.from_defaults(session_id="a", token_limit=60, memory_blocks=[block])
    for n in range(3):
        llm = AnthropicStyleLLM([tool_use(f"u{n}", "add", a=n, b=1),
                                 tool_use(f"v{n}", "lookup", city="Oslo"), answer(f"{n + 1}")])
        await FunctionAgent(tools=tools(), llm=llm).run(user_msg=f"Add {n} and 1", memory=chat)
    await block.aflush()

    recorded: list[Episode] = memory.list_episodes()
    assert recorded
    for episode in recorded:
        n = int(episode.task_description.split()[1])
        assert [(s.tool, s.parameters) for s in episode.steps] == [
            ("add", {"a": n, "b": 1}), ("lookup", {"city": "Oslo"}),
        ]  # fmt: skip
        assert [s.observation for s in episode.steps] == [str(n + 1), "sunny in Oslo"]


def assistant(**kwargs: Any) -> ChatMessage:
    return ChatMessage(role="assistant", content="", additional_kwargs=kwargs)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (assistant(tool_calls=[{"id": "a", "name": "add", "input": {"a": 1}, "type": "tool_use"}]),
         ToolCalled("a", "add", {"a": 1})),
        (assistant(tool_calls=[{"toolUseId": "b", "name": "add", "input": {"a": 2}}]),
         ToolCalled("b", "add", {"a": 2})),
        (assistant(tool_calls=[{"function": {"name": "add", "arguments": {"a": 3}}}]),
         ToolCalled("", "add", {"a": 3})),
        (assistant(tool_calls=[ToolSelection(tool_id="c", tool_name="add", tool_kwargs={"a": 4})]),
         ToolCalled("c", "add", {"a": 4})),
        (assistant(tool_calls=[SimpleNamespace(
            id="d", type="function",
            function=SimpleNamespace(name="add", arguments='{"a": 5}'),
        )]), ToolCalled("d", "add", {"a": 5})),
        (assistant(tool_calls=[SimpleNamespace(name="add", args={"a": 6}, id=None)]),
         ToolCalled("", "add", {"a": 6})),
        (assistant(function_call={"name": "add", "arguments": '{"a": 7}'}),
         ToolCalled("", "add", {"a": 7})),
    ],
    ids=["anthropic", "bedrock", "ollama", "tool-selection", "openai-sdk", "gemini", "legacy"],
)
def test_every_tool_call_format_is_read(message: ChatMessage, expected: ToolCalled) -> None:
    assert message_events(message) == [expected]


def test_one_call_stored_twice_is_read_once() -> None:
    message = call("add", call_id="x", a=1)
    message.additional_kwargs["tool_calls"] = [
        {"id": "x", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}
    ]
    assert message_events(message) == [ToolCalled("x", "add", {"a": 1})]


def test_anthropic_tool_results_name_their_call() -> None:
    result = ChatMessage(role="tool", content="2", additional_kwargs={"tool_use_id": "a"})
    assert message_events(result) == [ToolReturned("a", "2")]


def test_react_actions_are_read_as_llama_index_reads_them() -> None:
    text = (
        "Thought: add\nAction: add (the adder)\nAction Input: {'a': 1, 'b': 2}\n"
        "Observation: 3\nThought: again\nAction: lookup\n"
        'Action Input: {"city": "Rome", } trailing words\nObservation: sunny\n'
        "Thought: done\nAnswer: 3 and sunny"
    )
    events = message_events(ChatMessage(role="assistant", content=text))
    assert [(e.tool, e.parameters) for e in events if isinstance(e, ToolCalled)] == [
        ("add", {"a": 1, "b": 2}), ("lookup", {"city": "Rome"}),
    ]  # fmt: skip


async def test_react_agent_runs_through_the_block_keep_their_tool_names(
    memory: SelfLearningMemory,
) -> None:
    block = SelfMemMemoryBlock(memory, record=True)
    chat = Memory.from_defaults(session_id="r", token_limit=120, memory_blocks=[block])
    for n in range(2):
        llm = ScriptedLLM([
            ChatMessage(role="assistant",
                        content=f'Thought: add.\nAction: add\nAction Input: {{"a": {n}, "b": 2}}'),
            ChatMessage(role="assistant", content=f"Thought: done.\nAnswer: {n + 2}"),
        ])  # fmt: skip
        await ReActAgent(tools=[FunctionTool.from_defaults(add)], llm=llm).run(
            user_msg=f"What is {n} + 2?", memory=chat
        )
    await block.aflush()
    recorded = memory.list_episodes()
    assert recorded, "the first turn was flushed to the block"
    for episode in recorded:
        assert [s.tool for s in episode.steps] == ["add"]


def test_a_recorder_is_found_through_any_handle_of_the_same_namespace(
    memory: SelfLearningMemory,
) -> None:
    from llama_index.memory.selfmem.recorder import recording

    with SelfMemRecorder(memory.scoped(memory.namespace)):
        assert recording(memory)
        assert not recording(memory.scoped("another-namespace"))
    assert not recording(memory)
