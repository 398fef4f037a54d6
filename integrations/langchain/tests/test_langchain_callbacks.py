"""SelfMemCallbackHandler with real agents: what a run records, exactly."""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import BaseTool
from langchain_selfmem import ScriptedChatModel, SelfMemCallbackHandler

from selfmem import Episode, Limits, OutcomeStatus, SelfLearningMemory, TaskType

CSV = "region,amount\nnorth,120\nsouth,80\n"
PLAN: list[Any] = [
    ("fetch_data", {"dataset": "sales"}),
    ("clean_data", {"csv": CSV}),
    ("summarize", {"csv": CSV, "column": "amount"}),
]


def run_agent(
    memory: SelfLearningMemory,
    tools: list[BaseTool],
    turns: list[Any],
    task: str = "Total the sales amounts",
    handler: SelfMemCallbackHandler | None = None,
    **config: Any,
) -> tuple[Episode, dict[str, Any]]:
    handler = handler or SelfMemCallbackHandler(memory, context={"domain": "data"})
    agent = create_agent(ScriptedChatModel(turns=turns), tools)
    run_id = uuid.uuid4()
    output = agent.invoke(
        {"messages": [("user", task)]},
        config={"callbacks": [handler], "run_id": run_id, **config},
    )
    handler.flush()
    episode_id = handler.episode_id(run_id)
    assert episode_id is not None
    return memory.get_episode(episode_id), output


def test_multi_tool_run_is_recorded_exactly(
    memory: SelfLearningMemory, tools: list[BaseTool]
) -> None:
    episode, output = run_agent(memory, tools, PLAN)

    assert episode.task_description == "Total the sales amounts"
    assert episode.context.domain == "data"
    assert episode.is_complete and episode.outcome is not None
    assert episode.outcome.status is OutcomeStatus.SUCCESS
    assert episode.outcome.verdict == output["messages"][-1].content == "Done: total amount = 200"
    assert [s.tool for s in episode.steps] == ["fetch_data", "clean_data", "summarize"]
    assert [s.parameters for s in episode.steps] == [args for _, args in PLAN]
    assert [s.observation for s in episode.steps] == [
        "region,amount\nnorth,120\nsouth,80\nnorth,40\n",
        CSV.strip(),
        "total amount = 200",
    ]
    assert [s.step_number for s in episode.steps] == [1, 2, 3]
    assert all(s.success and s.error is None for s in episode.steps)
    assert [s.metadata["tool_call_id"] for s in episode.steps] == [
        "call_0_0", "call_1_0", "call_2_0",
    ]  # fmt: skip
    assert all(s.latency_ms > 0 for s in episode.steps)
    assert all(s.tokens is not None and s.tokens > 0 for s in episode.steps)
    assert episode.metadata["langchain_run_name"] == "LangGraph"
    assert episode.reward is not None and episode.reflection is not None
    # the episode is written after the fact, but dated when the run began
    assert episode.start_time <= episode.steps[0].timestamp


def test_tokens_of_a_model_call_are_shared_by_its_parallel_tool_calls(
    memory: SelfLearningMemory, tools: list[BaseTool]
) -> None:
    turns: list[Any] = [[("add", {"a": 1, "b": 2}), ("add", {"a": 3, "b": 4})]]
    episode, output = run_agent(memory, tools, turns, task="Add pairs")

    first_call = output["messages"][1]
    total = first_call.usage_metadata["total_tokens"]
    assert sorted(s.metadata["tool_call_id"] for s in episode.steps) == ["call_0_0", "call_0_1"]
    assert sum(s.tokens or 0 for s in episode.steps) == total
    by_args = {(s.parameters["a"], s.parameters["b"]): s.observation for s in episode.steps}
    assert by_args == {(1, 2): "3", (3, 4): "7"}


def test_a_tool_that_raises_fails_the_step_and_the_episode(
    memory: SelfLearningMemory, tools: list[BaseTool]
) -> None:
    handler = SelfMemCallbackHandler(memory)
    agent = create_agent(
        ScriptedChatModel(turns=[("add", {"a": 1, "b": 1}), ("flaky_service", {"request": "x"})]),
        tools,
    )
    with pytest.raises(RuntimeError, match="service unavailable"):
        agent.invoke({"messages": [("user", "Call the service")]}, config={"callbacks": [handler]})
    handler.flush()

    (episode,) = memory.list_episodes()
    assert episode.outcome is not None
    assert episode.outcome.status is OutcomeStatus.FAILURE
    assert episode.outcome.reason == "RuntimeError: service unavailable for x"
    ok, failed = episode.steps
    assert ok.success and ok.observation == "2"
    assert failed.tool == "flaky_service" and not failed.success
    assert failed.parameters == {"request": "x"}
    assert failed.error == "RuntimeError: service unavailable for x"
    assert failed.observation is None
    assert handler.open_runs == 0


def test_a_handled_tool_error_fails_the_step_but_not_the_episode(
    memory: SelfLearningMemory, tools: list[BaseTool]
) -> None:
    turns: list[Any] = [("strict_parser", {"text": "%%"}), ("add", {"a": 2, "b": 2})]
    episode, _ = run_agent(memory, tools, turns, task="Parse then add")

    parse, add = episode.steps
    assert not parse.success and parse.error == "cannot parse '%%'"
    assert add.success and add.observation == "4"
    assert episode.outcome is not None and episode.outcome.is_success


def test_run_metadata_overrides_namespace_context_type_and_task(
    memory: SelfLearningMemory, tools: list[BaseTool]
) -> None:
    handler = SelfMemCallbackHandler(memory, context={"domain": "data"})
    agent = create_agent(ScriptedChatModel(turns=[("add", {"a": 1, "b": 2})]), tools)
    metadata = {
        "selfmem_namespace": "team-a",
        "selfmem_context": {"domain": "math", "language": "python", "tags": ["sums"]},
        "selfmem_task_type": "analysis",
        "selfmem_task": "Add one and two",
    }
    agent.invoke({"messages": [("user", "ignored")]},
                 config={"callbacks": [handler], "metadata": metadata})  # fmt: skip
    handler.flush()

    assert memory.list_episodes() == []
    (episode,) = memory.scoped("team-a").list_episodes()
    assert episode.task_description == "Add one and two"
    assert (episode.context.domain, episode.context.language) == ("math", "python")
    assert episode.context.tags == ["sums"]
    assert episode.task_type is TaskType.ANALYSIS


def test_concurrent_runs_through_one_handler_are_kept_apart(
    memory: SelfLearningMemory, tools: list[BaseTool]
) -> None:
    handler = SelfMemCallbackHandler(memory)

    def plan(task: str) -> list[Any]:
        n = int(task.split()[-1])
        return [("add", {"a": n, "b": i}) for i in range(n % 4 + 1)]

    agent = create_agent(ScriptedChatModel(planner=plan), tools)

    def one(n: int) -> None:
        agent.invoke({"messages": [("user", f"Add numbers for job {n}")]},
                     config={"callbacks": [handler]})  # fmt: skip

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, range(12)))
    handler.flush()

    episodes = memory.list_episodes(limit=50)
    assert len(episodes) == 12
    for episode in episodes:
        n = int(episode.task_description.split()[-1])
        assert [(s.parameters["a"], s.parameters["b"]) for s in episode.steps] == [
            (n, i) for i in range(n % 4 + 1)
        ]
        assert [s.observation for s in episode.steps] == [str(n + i) for i in range(n % 4 + 1)]
        assert episode.outcome is not None and episode.outcome.is_success
    assert handler.open_runs == 0


def test_stream_records_like_invoke(memory: SelfLearningMemory, tools: list[BaseTool]) -> None:
    handler = SelfMemCallbackHandler(memory)
    agent = create_agent(ScriptedChatModel(turns=PLAN), tools)
    chunks = list(agent.stream({"messages": [("user", "Stream the sales total")]},
                               config={"callbacks": [handler]}, stream_mode="updates"))  # fmt: skip
    handler.flush()

    assert chunks
    (episode,) = memory.list_episodes()
    assert [s.tool for s in episode.steps] == ["fetch_data", "clean_data", "summarize"]
    assert episode.outcome is not None and episode.outcome.is_success


def test_a_hand_built_langgraph_graph_is_recorded(
    memory: SelfLearningMemory, tools: list[BaseTool]
) -> None:
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    model = ScriptedChatModel(turns=[("add", {"a": 20, "b": 22})])

    def call_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("model", call_model)
    graph.add_node("tools", ToolNode(tools))
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", tools_condition)
    graph.add_edge("tools", "model")
    graph.add_edge("model", END)
    app = graph.compile()
    handler = SelfMemCallbackHandler(memory)

    app.invoke({"messages": [("user", "What is 20 + 22?")]}, config={"callbacks": [handler]})
    for _ in app.stream({"messages": [("user", "And streamed?")]}, config={"callbacks": [handler]}):
        pass
    handler.flush()

    episodes = memory.list_episodes()
    assert sorted(e.task_description for e in episodes) == ["And streamed?", "What is 20 + 22?"]
    for episode in episodes:
        assert [(s.tool, s.observation) for s in episode.steps] == [("add", "42")]
        assert episode.outcome is not None and episode.outcome.verdict == "Done: 42"


def test_a_plain_chain_with_a_tool_call_is_an_episode(
    memory: SelfLearningMemory, tools: list[BaseTool]
) -> None:
    add = next(t for t in tools if t.name == "add")
    chain = RunnableLambda(lambda x: add.invoke({"a": x["a"], "b": 1})) | RunnableLambda(str)
    handler = SelfMemCallbackHandler(memory, background=False)

    assert chain.invoke({"a": 41, "input": "increment 41"}, config={"callbacks": [handler]}) == "42"

    (episode,) = memory.list_episodes()  # no flush needed: background=False writes inline
    assert episode.task_description == "increment 41"
    assert [(s.tool, s.parameters, s.observation) for s in episode.steps] == [
        ("add", {"a": 41, "b": 1}, "42")
    ]
    assert episode.outcome is not None and episode.outcome.verdict == "42"


def test_a_broken_memory_never_breaks_the_agent(
    memory: SelfLearningMemory, tools: list[BaseTool], caplog: pytest.LogCaptureFixture
) -> None:
    handler = SelfMemCallbackHandler(memory, background=False)
    agent = create_agent(ScriptedChatModel(turns=PLAN), tools)
    memory.close()

    with caplog.at_level(logging.WARNING, logger="langchain_selfmem"):
        output = agent.invoke({"messages": [("user", "Total the sales")]},
                              config={"callbacks": [handler]})  # fmt: skip

    assert output["messages"][-1].content == "Done: total amount = 200"
    assert any("selfmem could not record" in r.getMessage() for r in caplog.records)
    assert handler.open_runs == 0


def test_a_step_over_a_size_limit_is_kept_without_its_arguments(
    tmp_path: Any, tools: list[BaseTool], caplog: pytest.LogCaptureFixture
) -> None:
    limits = Limits(max_parameters_bytes=200)
    with SelfLearningMemory.open(tmp_path / "small", limits=limits) as memory:
        big = {"csv": "x," * 500}
        with caplog.at_level(logging.WARNING, logger="langchain_selfmem"):
            episode, _ = run_agent(memory, tools, [("clean_data", big), ("add", {"a": 1, "b": 1})])

    cleaned, added = episode.steps
    assert cleaned.tool == "clean_data" and cleaned.parameters == {}
    assert "parameters_dropped" in cleaned.metadata
    assert cleaned.observation == big["csv"]
    assert added.parameters == {"a": 1, "b": 1}
    assert any("kept without its arguments" in r.getMessage() for r in caplog.records)
