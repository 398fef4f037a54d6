"""SelfMemMiddleware: an agent learns a tool sequence and gets it in its next prompt."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import BaseMessage, SystemMessage
from langchain_core.tools import BaseTool
from langchain_selfmem import (
    AsyncSelfMemCallbackHandler,
    ScriptedChatModel,
    SelfMemCallbackHandler,
    SelfMemMiddleware,
)

from selfmem import InvalidInputError, SelfLearningMemory, TaskContext
from selfmem.learning import PatternKind

CSV = "region,amount\nnorth,120\nsouth,80\n"
PIPELINE: list[Any] = [
    ("fetch_data", {"dataset": "sales"}),
    ("clean_data", {"csv": CSV}),
    ("summarize", {"csv": CSV, "column": "amount"}),
]
CONTEXT = TaskContext(domain="data", language="python", tags=["csv"])
LEARNED = "Suggested tool sequence: fetch_data -> clean_data -> summarize"


def system_prompt(messages: list[BaseMessage]) -> str:
    first = messages[0]
    assert isinstance(first, SystemMessage)
    return first.text


def learning_agent(
    memory: SelfLearningMemory, tools: list[BaseTool], **middleware: Any
) -> tuple[Any, ScriptedChatModel, SelfMemCallbackHandler]:
    model = ScriptedChatModel(turns=PIPELINE)
    agent = create_agent(
        model, tools, system_prompt="You analyse datasets.",
        middleware=[SelfMemMiddleware(memory, **middleware)],
    )  # fmt: skip
    handler = SelfMemCallbackHandler(memory, context=CONTEXT, task_type="analysis")
    return agent, model, handler


def ask(agent: Any, handler: SelfMemCallbackHandler, task: str) -> None:
    agent.invoke({"messages": [("user", task)]}, config={"callbacks": [handler]})


def test_the_learned_tool_sequence_is_injected_into_a_new_tasks_prompt(
    memory: SelfLearningMemory, tools: list[BaseTool]
) -> None:
    agent, model, handler = learning_agent(memory, tools)

    ask(agent, handler, "Summarize the sales dataset for Q1")
    assert system_prompt(model.prompts[0]) == "You analyse datasets."  # nothing learned yet
    for quarter in ("Q2", "Q3", "Q4"):
        ask(agent, handler, f"Summarize the sales dataset for {quarter}")
    handler.flush()
    (pattern,) = memory.list_patterns(PatternKind.TOOL_SEQUENCE)
    assert pattern.tools == ["fetch_data", "clean_data", "summarize"]
    before = memory.get_pattern(pattern.id)  # a copy: list_patterns gives live records

    calls_before = len(model.prompts)
    ask(agent, handler, "Summarize the visits dataset")
    handler.flush()

    prompts = model.prompts[calls_before:]
    assert len(prompts) == 4  # three tool turns and the answer, each with the experience
    for messages in prompts:
        prompt = system_prompt(messages)
        assert prompt.startswith("You analyse datasets.\n\nRelevant past experience:")
        assert LEARNED in prompt.splitlines()
        assert "follow fetch_data -> clean_data -> summarize" in prompt
        assert "Summarize the sales dataset for Q" in prompt
    # the experience is not part of the conversation the agent keeps
    assert "Relevant past experience" not in str(messages[1:])
    shown = memory.get_pattern(pattern.id)
    assert shown.feedback_uses == before.feedback_uses + 1
    assert shown.feedback_successes == before.feedback_successes + 1


def test_the_token_budget_bounds_the_injected_text(
    memory: SelfLearningMemory, tools: list[BaseTool]
) -> None:
    agent, model, handler = learning_agent(memory, tools, max_tokens=30)
    for quarter in ("Q1", "Q2", "Q3", "Q4"):
        ask(agent, handler, f"Summarize the sales dataset for {quarter}")
    handler.flush()
    ask(agent, handler, "Summarize the visits dataset")

    injected = system_prompt(model.prompts[-1]).removeprefix("You analyse datasets.\n\n")
    assert injected.splitlines() == ["Relevant past experience:", LEARNED]
    assert len(injected) <= 30 * 4


def test_without_a_handler_experience_is_injected_without_feedback(
    memory: SelfLearningMemory, tools: list[BaseTool]
) -> None:
    agent, _, handler = learning_agent(memory, tools)
    for quarter in ("Q1", "Q2", "Q3"):
        ask(agent, handler, f"Summarize the sales dataset for {quarter}")
    handler.flush()
    (pattern,) = memory.list_patterns(PatternKind.TOOL_SEQUENCE)
    uses = memory.get_pattern(pattern.id).feedback_uses

    model = ScriptedChatModel(turns=[])
    bare = create_agent(model, tools, middleware=[
        SelfMemMiddleware(memory, context=CONTEXT, task_type="analysis")
    ])  # fmt: skip
    bare.invoke({"messages": [("user", "Summarize the visits dataset")]})

    (messages,) = model.prompts
    assert LEARNED in system_prompt(messages).splitlines()  # no system prompt of its own
    assert memory.get_pattern(pattern.id).feedback_uses == uses


async def test_async_agents_get_the_same_experience(
    memory: SelfLearningMemory, tools: list[BaseTool]
) -> None:
    model = ScriptedChatModel(turns=PIPELINE)
    agent = create_agent(model, tools, system_prompt="You analyse datasets.",
                         middleware=[SelfMemMiddleware(memory)])  # fmt: skip
    handler = AsyncSelfMemCallbackHandler(memory, context=CONTEXT, task_type="analysis")
    for quarter in ("Q1", "Q2", "Q3", "Q4"):
        await agent.ainvoke({"messages": [("user", f"Summarize the sales dataset for {quarter}")]},
                            config={"callbacks": [handler]})  # fmt: skip
    await agent.ainvoke({"messages": [("user", "Summarize the visits dataset")]},
                        config={"callbacks": [handler]})  # fmt: skip
    await handler.aflush()

    assert LEARNED in system_prompt(model.prompts[-1]).splitlines()
    (pattern,) = memory.list_patterns(PatternKind.TOOL_SEQUENCE)
    assert pattern.feedback_uses >= 1


def test_a_memory_failure_leaves_the_agent_running_without_experience(
    memory: SelfLearningMemory, tools: list[BaseTool], caplog: pytest.LogCaptureFixture
) -> None:
    model = ScriptedChatModel(turns=[("add", {"a": 1, "b": 1})])
    agent = create_agent(model, tools, system_prompt="Be brief.",
                         middleware=[SelfMemMiddleware(memory)])  # fmt: skip
    memory.close()

    with caplog.at_level(logging.WARNING, logger="langchain_selfmem"):
        output = agent.invoke({"messages": [("user", "Add one and one")]})

    assert output["messages"][-1].content == "Done: 2"
    assert all(system_prompt(messages) == "Be brief." for messages in model.prompts)
    assert any("could not retrieve experience" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"k": 0}, "k"),
        ({"max_tokens": 5}, "max_tokens"),
        ({"task_type": ""}, "task_type"),
        ({"context": {"domian": "x"}}, "context"),
        ({"namespace": ""}, "namespace"),
        ({"handler": object()}, "handler"),
    ],
)
def test_a_wrong_middleware_option_fails_when_it_is_built(
    memory: SelfLearningMemory, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        SelfMemMiddleware(memory, **options)
    assert raised.value.field == field


def test_the_count_is_k_and_limit_still_works(memory: SelfLearningMemory) -> None:
    assert SelfMemMiddleware(memory).k == 5
    with pytest.warns(DeprecationWarning, match="use k"):
        middleware = SelfMemMiddleware(memory, limit=2)
    assert middleware.k == 2
