"""Async parity: ainvoke / astream with the async handler record what invoke records."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.tools import BaseTool
from langchain_selfmem import AsyncSelfMemCallbackHandler, ScriptedChatModel, SelfMemCallbackHandler

from selfmem import Episode, OutcomeStatus, SelfLearningMemory

CSV = "region,amount\nnorth,120\nsouth,80\n"
PLAN: list[Any] = [
    ("fetch_data", {"dataset": "sales"}),
    [("clean_data", {"csv": CSV}), ("add", {"a": 1, "b": 2})],
    ("summarize", {"csv": CSV, "column": "amount"}),
]


def shape(episode: Episode) -> list[tuple[Any, ...]]:
    """What must match between sync and async runs (parallel calls in any order)."""
    steps = sorted(
        (s.tool, tuple(sorted(s.parameters.items())), s.observation, s.success, s.error,
         s.metadata.get("tool_call_id"), s.tokens)
        for s in episode.steps
    )  # fmt: skip
    assert episode.outcome is not None
    return [*steps, (episode.task_description, episode.outcome.status, episode.outcome.verdict)]


async def test_ainvoke_records_what_invoke_records(
    memory: SelfLearningMemory, tools: list[BaseTool]
) -> None:
    agent = create_agent(ScriptedChatModel(turns=PLAN), tools)
    sync_handler = SelfMemCallbackHandler(memory.scoped("sync"))
    async_handler = AsyncSelfMemCallbackHandler(memory.scoped("async"))
    task = {"messages": [("user", "Total the sales amounts")]}

    await asyncio.to_thread(agent.invoke, task, {"callbacks": [sync_handler]})
    await agent.ainvoke(task, config={"callbacks": [async_handler]})
    sync_handler.flush()
    await async_handler.aflush()

    (sync_episode,) = memory.scoped("sync").list_episodes()
    (async_episode,) = await memory.scoped("async").alist_episodes()
    assert shape(async_episode) == shape(sync_episode)
    assert len(async_episode.steps) == 4


async def test_astream_is_recorded(memory: SelfLearningMemory, tools: list[BaseTool]) -> None:
    handler = AsyncSelfMemCallbackHandler(memory)
    agent = create_agent(ScriptedChatModel(turns=PLAN), tools)
    chunks = [
        chunk
        async for chunk in agent.astream(
            {"messages": [("user", "Stream the total")]}, config={"callbacks": [handler]}
        )
    ]
    await handler.aflush()

    assert chunks
    (episode,) = memory.list_episodes()
    assert sorted(s.tool for s in episode.steps) == sorted(
        ["fetch_data", "clean_data", "add", "summarize"]
    )
    assert episode.steps[0].tool == "fetch_data" and episode.steps[-1].tool == "summarize"


async def test_concurrent_async_runs_are_kept_apart(
    memory: SelfLearningMemory, tools: list[BaseTool]
) -> None:
    handler = AsyncSelfMemCallbackHandler(memory)

    def plan(task: str) -> list[Any]:
        n = int(task.split()[-1])
        return [("add", {"a": n, "b": i}) for i in range(n % 3 + 1)]

    agent = create_agent(ScriptedChatModel(planner=plan), tools)
    await asyncio.gather(*(
        agent.ainvoke({"messages": [("user", f"Add for job {n}")]},
                      config={"callbacks": [handler]})
        for n in range(10)
    ))  # fmt: skip
    await handler.aflush()

    episodes = memory.list_episodes(limit=20)
    assert len(episodes) == 10
    for episode in episodes:
        n = int(episode.task_description.split()[-1])
        assert [s.observation for s in episode.steps] == [str(n + i) for i in range(n % 3 + 1)]
    assert handler.open_runs == 0


@pytest.mark.parametrize("background", [True, False])
async def test_async_failure_is_recorded(
    memory: SelfLearningMemory, tools: list[BaseTool], background: bool
) -> None:
    handler = AsyncSelfMemCallbackHandler(memory, background=background)
    agent = create_agent(ScriptedChatModel(turns=[("flaky_service", {"request": "y"})]), tools)

    with pytest.raises(RuntimeError):
        await agent.ainvoke({"messages": [("user", "Call it")]}, config={"callbacks": [handler]})
    await handler.aflush()

    (episode,) = memory.list_episodes()
    assert episode.outcome is not None and episode.outcome.status is OutcomeStatus.FAILURE
    (step,) = episode.steps
    assert step.error == "RuntimeError: service unavailable for y"


async def test_the_sync_handler_also_works_with_ainvoke(
    memory: SelfLearningMemory, tools: list[BaseTool]
) -> None:
    handler = SelfMemCallbackHandler(memory)
    agent = create_agent(ScriptedChatModel(turns=[("add", {"a": 2, "b": 3})]), tools)

    await agent.ainvoke({"messages": [("user", "Add 2 and 3")]}, config={"callbacks": [handler]})
    handler.flush()

    (episode,) = memory.list_episodes()
    assert [(s.tool, s.observation) for s in episode.steps] == [("add", "5")]
