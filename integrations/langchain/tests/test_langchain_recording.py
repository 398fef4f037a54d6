"""What a user's first runs hit: nested agents, parallel calls, streams left early, wrong
options, and ``memory.flush()`` / ``close()`` making what handlers hold durable."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.tools import tool
from langchain_selfmem import (
    AsyncSelfMemCallbackHandler,
    ScriptedChatModel,
    SelfMemCallbackHandler,
    SelfMemMiddleware,
    SelfMemRetriever,
)
from langchain_selfmem._writer import shared_writer

from selfmem import Episode, InvalidInputError, OutcomeStatus, SelfLearningMemory


@tool
def lookup(key: str) -> str:
    """Look a key up."""
    return f"value of {key}"


@tool
def slow_square(n: int) -> int:
    """Square a number, slowly."""
    time.sleep(0.05)
    return n * n


@tool
def fast_double(n: int) -> int:
    """Double a number."""
    return 2 * n


def researcher() -> Any:
    """An agent with a tool the outer agent does not have."""
    model = ScriptedChatModel(turns=[("lookup", {"key": "a"}), ("lookup", {"key": "b"})],
                              final_answer="found: {result}")  # fmt: skip
    return create_agent(model, [lookup], name="researcher")


def by_task(memory: SelfLearningMemory) -> dict[str, Episode]:
    return {e.task_description: e for e in memory.list_episodes()}


def test_an_agent_inside_a_tool_is_its_own_episode_linked_to_its_parent(
    memory: SelfLearningMemory,
) -> None:
    inner = researcher()

    @tool
    def delegate(question: str) -> str:
        """Ask the research agent."""
        return str(inner.invoke({"messages": [("user", question)]})["messages"][-1].content)

    outer = create_agent(ScriptedChatModel(turns=[("delegate", {"question": "Find a and b"})]),
                         [delegate])  # fmt: skip
    handler = SelfMemCallbackHandler(memory)
    output = outer.invoke({"messages": [("user", "Research a and b")]},
                          config={"callbacks": [handler]})  # fmt: skip
    handler.flush()

    assert output["messages"][-1].content == "Done: found: value of b"
    episodes = by_task(memory)
    outer_episode, inner_episode = episodes["Research a and b"], episodes["Find a and b"]
    assert [(s.tool, s.observation) for s in outer_episode.steps] == [
        ("delegate", "found: value of b")
    ]
    assert [(s.tool, s.parameters) for s in inner_episode.steps] == [
        ("lookup", {"key": "a"}), ("lookup", {"key": "b"}),
    ]  # fmt: skip
    assert inner_episode.metadata["parent_episode_id"] == outer_episode.id
    assert inner_episode.metadata["langchain_run_name"] == "researcher"
    assert "parent_episode_id" not in outer_episode.metadata
    assert outer_episode.steps[0].metadata["child_episode_ids"] == [inner_episode.id]
    assert inner_episode.outcome is not None and inner_episode.outcome.is_success
    assert outer_episode.outcome is not None and outer_episode.outcome.is_success
    assert handler.open_runs == 0


async def test_a_nested_agent_is_its_own_episode_with_the_async_handler(
    memory: SelfLearningMemory,
) -> None:
    inner = researcher()

    @tool
    async def delegate(question: str) -> str:
        """Ask the research agent."""
        result = await inner.ainvoke({"messages": [("user", question)]})
        return str(result["messages"][-1].content)

    outer = create_agent(ScriptedChatModel(turns=[("delegate", {"question": "Find a and b"})]),
                         [delegate])  # fmt: skip
    handler = AsyncSelfMemCallbackHandler(memory)
    await outer.ainvoke({"messages": [("user", "Research a and b")]},
                        config={"callbacks": [handler]})  # fmt: skip
    await handler.aflush()

    episodes = by_task(memory)
    assert [s.tool for s in episodes["Research a and b"].steps] == ["delegate"]
    assert [s.tool for s in episodes["Find a and b"].steps] == ["lookup", "lookup"]
    assert episodes["Find a and b"].metadata["parent_episode_id"] == (
        episodes["Research a and b"].id
    )


def test_a_tool_calling_a_tool_is_one_step(memory: SelfLearningMemory) -> None:
    @tool
    def lookup_twice(key: str) -> str:
        """Look a key up twice."""
        return f"{lookup.invoke({'key': key})}; {lookup.invoke({'key': key + key})}"

    agent = create_agent(ScriptedChatModel(turns=[("lookup_twice", {"key": "k"})]),
                         [lookup_twice])  # fmt: skip
    handler = SelfMemCallbackHandler(memory)
    agent.invoke({"messages": [("user", "Look k up twice")]}, config={"callbacks": [handler]})
    handler.flush()

    (episode,) = memory.list_episodes()
    assert [(s.tool, s.observation) for s in episode.steps] == [
        ("lookup_twice", "value of k; value of kk")
    ]


def test_parallel_tool_calls_are_numbered_in_the_order_they_started(
    memory: SelfLearningMemory,
) -> None:
    turns: list[Any] = [[("slow_square", {"n": 3}), ("fast_double", {"n": 4})],
                        ("fast_double", {"n": 5})]  # fmt: skip
    agent = create_agent(ScriptedChatModel(turns=turns), [slow_square, fast_double])
    handler = SelfMemCallbackHandler(memory)
    agent.invoke({"messages": [("user", "Square and double")]}, config={"callbacks": [handler]})
    handler.flush()

    (episode,) = memory.list_episodes()
    assert [(s.step_number, s.tool, s.observation) for s in episode.steps] == [
        (1, "slow_square", "9"), (2, "fast_double", "8"), (3, "fast_double", "10"),
    ]  # fmt: skip
    assert [s.metadata["tool_call_id"] for s in episode.steps] == [
        "call_0_0", "call_0_1", "call_1_0",
    ]  # fmt: skip
    assert episode.steps[0].latency_ms >= 50 > episode.steps[1].latency_ms


def assert_abandoned(episode: Episode, error: str) -> None:
    assert episode.outcome is not None
    assert episode.outcome.status is OutcomeStatus.ABANDONED
    assert episode.outcome.reason == f"the run was stopped before it ended ({error})"
    assert episode.reward is None  # no verdict: nothing to score or learn


def learned_counts(memory: SelfLearningMemory) -> dict[str, Any]:
    return {
        p.id: p.model_dump(include={"support", "successes", "episode_ids", "feedback_uses",
                                    "feedback_successes", "confidence"})
        for p in memory.list_patterns(limit=1000)
    }  # fmt: skip


def test_a_stream_left_early_changes_no_learned_count(
    memory: SelfLearningMemory, tools: list[Any]
) -> None:
    fetch_and_clean = [t for t in tools if t.name in ("fetch_data", "clean_data")]
    handler = SelfMemCallbackHandler(memory, task_type="research")
    config: Any = {"callbacks": [handler]}

    def cleaning_agent(dataset: str) -> Any:
        turns = [("fetch_data", {"dataset": dataset}), ("clean_data", {"csv": "a,b\n\n1,2"})]
        return create_agent(ScriptedChatModel(turns=turns), fetch_and_clean)

    for dataset in ("sales", "visits", "sales"):  # finished runs teach fetch -> clean
        cleaning_agent(dataset).invoke(
            {"messages": [("user", f"Clean the {dataset} dataset")]}, config
        )
    handler.flush()
    before = learned_counts(memory)
    assert before and memory.stats().successes == 3

    agent = cleaning_agent("visits")
    for chunk in agent.stream({"messages": [("user", "Clean the visits dataset")]}, config,
                              stream_mode="updates"):  # fmt: skip
        if "tools" in chunk:
            break  # the consumer stops reading after the first tool call
    handler.flush()

    (left,) = memory.list_episodes(outcome="abandoned")
    assert [s.tool for s in left.steps] == ["fetch_data"]
    assert_abandoned(left, "GeneratorExit")
    assert learned_counts(memory) == before
    stats = memory.stats()
    assert (stats.successes, stats.failures, stats.abandoned) == (3, 0, 1)


def test_a_stream_left_early_is_abandoned_not_failed(memory: SelfLearningMemory) -> None:
    turns: list[Any] = [("lookup", {"key": "a"}), ("lookup", {"key": "b"})]
    agent = create_agent(ScriptedChatModel(turns=turns), [lookup])
    handler = SelfMemCallbackHandler(memory)

    seen = []
    for chunk in agent.stream({"messages": [("user", "Stream a and b")]},
                              config={"callbacks": [handler]}, stream_mode="updates"):  # fmt: skip
        seen.append(chunk)
        if "tools" in chunk:
            break
    handler.flush()

    (episode,) = memory.list_episodes()
    assert [s.tool for s in episode.steps] == ["lookup"]
    assert_abandoned(episode, "GeneratorExit")
    assert handler.open_runs == 0


async def test_an_async_stream_left_early_is_abandoned(memory: SelfLearningMemory) -> None:
    agent = create_agent(ScriptedChatModel(turns=[("lookup", {"key": "a"})] * 3), [lookup])
    handler = AsyncSelfMemCallbackHandler(memory)

    stream = agent.astream({"messages": [("user", "Async stream")]},
                           config={"callbacks": [handler]}, stream_mode="updates")  # fmt: skip
    async for chunk in stream:
        if "tools" in chunk:
            break
    await stream.aclose()
    await handler.aflush()

    (episode,) = memory.list_episodes()
    assert episode.outcome is not None and episode.outcome.reason is not None
    assert episode.outcome.reason.startswith("the run was stopped before it ended")


def test_a_cancelled_task_is_abandoned(memory: SelfLearningMemory) -> None:
    started = threading.Event()

    @tool
    async def wait_forever(seconds: int) -> str:
        """Wait."""
        started.set()
        await asyncio.sleep(seconds)
        return "done"

    agent = create_agent(ScriptedChatModel(turns=[("wait_forever", {"seconds": 60})]),
                         [wait_forever])  # fmt: skip
    handler = AsyncSelfMemCallbackHandler(memory)

    async def main() -> None:
        task = asyncio.create_task(agent.ainvoke({"messages": [("user", "Wait a minute")]},
                                                 config={"callbacks": [handler]}))  # fmt: skip
        while not started.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    handler.flush()
    (episode,) = memory.list_episodes()
    assert_abandoned(episode, "CancelledError")


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"task_type": ""}, "task_type"),
        ({"task_type": 3}, "task_type"),
        ({"context": {"domian": "web"}}, "context"),
        ({"context": {"complexity": "huge"}}, "context"),
        ({"context": "web"}, "context"),
        ({"namespace": ""}, "namespace"),
        ({"namespace": "x" * 500}, "namespace"),
        ({"background": "yes"}, "background"),
    ],
)
def test_a_wrong_option_fails_when_the_handler_is_built(
    memory: SelfLearningMemory, options: dict[str, Any], field: str
) -> None:
    for handler_class in (SelfMemCallbackHandler, AsyncSelfMemCallbackHandler):
        with pytest.raises(InvalidInputError) as raised:
            handler_class(memory, **options)
        assert raised.value.field == field
        assert field in str(raised.value) or raised.value.field == "namespace"


def test_a_memory_that_is_not_one_fails_at_once(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"memory must be a selfmem\.SelfLearningMemory"):
        SelfMemCallbackHandler(str(tmp_path))  # type: ignore[arg-type]


def test_a_custom_task_type_is_recorded_and_retrieved_through_a_real_agent(
    memory: SelfLearningMemory,
) -> None:
    handler = SelfMemCallbackHandler(memory, task_type="planning")
    agent = create_agent(ScriptedChatModel(turns=[("lookup", {"key": "roadmap"})]), [lookup])
    agent.invoke({"messages": [("user", "Plan the roadmap review")]},
                 config={"callbacks": [handler]})  # fmt: skip
    handler.flush()
    (episode,) = memory.list_episodes(task_type="planning")
    assert episode.task_type == "planning" and [s.tool for s in episode.steps] == ["lookup"]

    retriever = SelfMemRetriever(memory, task_type="planning", include=["episode"])
    (doc,) = retriever.invoke("plan the roadmap review")
    assert doc.metadata["episode_id"] == episode.id and doc.metadata["task_type"] == "planning"
    assert SelfMemMiddleware(memory, task_type="planning") is not None  # accepted too
    with pytest.raises(InvalidInputError) as raised:
        SelfMemCallbackHandler(memory, task_type="Planning Work")
    assert raised.value.field == "task_type" and "lowercase" in str(raised.value)
    assert "code_generation" in str(raised.value)  # the known ones are listed


def test_wrong_run_metadata_is_logged_and_the_handler_settings_used(
    memory: SelfLearningMemory, caplog: pytest.LogCaptureFixture
) -> None:
    handler = SelfMemCallbackHandler(memory, context={"domain": "data"}, task_type="analysis")
    agent = create_agent(ScriptedChatModel(turns=[("lookup", {"key": "a"})]), [lookup])
    metadata = {"selfmem_task_type": "", "selfmem_context": {"domian": "x"}}
    with caplog.at_level(logging.WARNING, logger="langchain_selfmem"):
        agent.invoke({"messages": [("user", "Look a up")]},
                     config={"callbacks": [handler], "metadata": metadata})  # fmt: skip
        handler.flush()

    (episode,) = memory.list_episodes()
    assert episode.context.domain == "data" and str(episode.task_type) == "analysis"
    messages = [r.getMessage() for r in caplog.records]
    assert any("selfmem_task_type ignored" in m for m in messages)
    assert any("selfmem_context ignored" in m and "domian" in m for m in messages)


def test_memory_flush_writes_what_the_handler_holds(memory: SelfLearningMemory) -> None:
    handler = SelfMemCallbackHandler(memory)
    agent = create_agent(ScriptedChatModel(turns=[("lookup", {"key": "a"})]), [lookup])
    release = threading.Event()
    shared_writer().submit(lambda: release.wait(5))  # the writer is busy for a while
    threading.Timer(0.2, release.set).start()

    agent.invoke({"messages": [("user", "Look a up")]}, config={"callbacks": [handler]})
    memory.flush()  # no handler.flush(): the memory flushes the handlers writing to it

    (episode,) = memory.list_episodes()
    assert episode.outcome is not None and [s.tool for s in episode.steps] == ["lookup"]


def test_memory_close_writes_what_the_handler_holds(tmp_path: Path) -> None:
    memory = SelfLearningMemory.open(tmp_path / "mem")
    handler = SelfMemCallbackHandler(memory)
    agent = create_agent(ScriptedChatModel(turns=[("lookup", {"key": "a"})]), [lookup])
    release = threading.Event()
    shared_writer().submit(lambda: release.wait(5))
    threading.Timer(0.2, release.set).start()

    agent.invoke({"messages": [("user", "Look a up")]}, config={"callbacks": [handler]})
    memory.close()

    with SelfLearningMemory.open(tmp_path / "mem") as reopened:
        (episode,) = reopened.list_episodes()
        assert episode.outcome is not None and episode.outcome.is_success
        assert [s.tool for s in episode.steps] == ["lookup"]


def test_memory_flush_logs_the_finished_steps_of_an_open_run(memory: SelfLearningMemory) -> None:
    flushed: dict[str, Any] = {}

    @tool
    def checkpoint(label: str) -> str:
        """Flush the memory in the middle of the run and look at it."""
        memory.flush()
        (episode,) = memory.list_episodes()
        flushed["steps"] = [s.tool for s in episode.steps]
        flushed["open"] = not episode.is_complete
        return label

    turns: list[Any] = [("lookup", {"key": "a"}), ("checkpoint", {"label": "x"})]
    agent = create_agent(ScriptedChatModel(turns=turns), [lookup, checkpoint])
    handler = SelfMemCallbackHandler(memory)
    agent.invoke({"messages": [("user", "Look up, then check")]},
                 config={"callbacks": [handler]})  # fmt: skip
    handler.flush()

    assert flushed == {"steps": ["lookup"], "open": True}
    (episode,) = memory.list_episodes()
    assert [s.tool for s in episode.steps] == ["lookup", "checkpoint"]


def test_a_handler_does_not_outlive_its_use(memory: SelfLearningMemory) -> None:
    import gc
    import weakref

    handler = SelfMemCallbackHandler(memory)
    ref = weakref.ref(handler)
    del handler
    gc.collect()
    assert ref() is None  # the memory holds its flush method weakly
    memory.flush()


def test_a_run_paused_for_human_input_continues_its_episode_when_resumed(
    memory: SelfLearningMemory,
) -> None:
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command, interrupt

    @tool
    def deploy(service: str) -> str:
        """Deploy a service once a human approves."""
        return f"deployed {service}: {interrupt({'approve': service})}"

    turns: list[Any] = [("lookup", {"key": "api"}), ("deploy", {"service": "api"})]
    agent = create_agent(ScriptedChatModel(turns=turns), [lookup, deploy],
                         checkpointer=InMemorySaver())  # fmt: skip
    handler = SelfMemCallbackHandler(memory)
    config: Any = {"callbacks": [handler], "configurable": {"thread_id": "deploy-1"}}

    first = agent.invoke({"messages": [("user", "Deploy the api")]}, config)
    assert "__interrupt__" in first
    memory.flush()
    (paused,) = memory.list_episodes()
    assert not paused.is_complete  # waiting for the human, not a success with no answer
    assert [s.tool for s in paused.steps] == ["lookup"]  # the interrupted call is no step

    agent.invoke(Command(resume="approved"), config)
    memory.flush()
    (episode,) = memory.list_episodes()
    assert episode.id == paused.id and episode.task_description == "Deploy the api"
    assert [(s.tool, s.observation) for s in episode.steps] == [
        ("lookup", "value of api"), ("deploy", "deployed api: approved"),
    ]  # fmt: skip
    assert episode.outcome is not None and episode.outcome.is_success
    assert episode.outcome.verdict == "Done: deployed api: approved"
