"""The ready-made tools (search experience, record a lesson) inside real ``create_agent`` runs,
and the retriever's conventions: the memory first, ``k``, one vocabulary of kinds."""

from __future__ import annotations

from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langchain_selfmem import (
    ScriptedChatModel,
    SelfMemCallbackHandler,
    SelfMemRetriever,
    create_experience_tool,
    create_lesson_tool,
)

from selfmem import InvalidInputError, SelfLearningMemory

CSV = "region,amount\nnorth,120\nsouth,80\n"
PLAN: list[Any] = [
    ("fetch_data", {"dataset": "sales"}),
    ("clean_data", {"csv": CSV}),
    ("summarize", {"csv": CSV, "column": "amount"}),
]
LESSON = "Run clean_data before summarize: blank rows break the column sum."


def learn_the_plan(memory: SelfLearningMemory, tools: list[BaseTool], runs: int = 4) -> None:
    handler = SelfMemCallbackHandler(memory, context={"domain": "data"})
    agent = create_agent(ScriptedChatModel(turns=PLAN), tools)
    for n in range(runs):
        agent.invoke({"messages": [("user", f"Total the sales amounts ({n})")]},
                     config={"callbacks": [handler]})  # fmt: skip
    memory.flush()


def tool_outputs(model: ScriptedChatModel) -> list[str]:
    return [str(m.content) for m in model.prompts[-1] if isinstance(m, ToolMessage)]


def test_an_agent_records_a_lesson_and_a_later_agent_finds_it(
    memory: SelfLearningMemory, tools: list[BaseTool]
) -> None:
    learn_the_plan(memory, tools)
    handler = SelfMemCallbackHandler(memory, context={"domain": "data"})
    experience = create_experience_tool(memory, k=6, context={"domain": "data"})
    lessons = create_lesson_tool(memory, context={"domain": "data", "tags": ["csv"]})

    writer = ScriptedChatModel(turns=[("record_lesson", {"lesson": LESSON})],
                               final_answer="{result}")  # fmt: skip
    first = create_agent(writer, [*tools, experience, lessons])
    answer = first.invoke({"messages": [("user", "Note what you learned about sums")]},
                          config={"callbacks": [handler]})["messages"][-1].content  # fmt: skip
    assert answer.startswith("Recorded lesson ")
    [item] = memory.search_items(("lessons",))
    assert answer == f"Recorded lesson {item.key}."
    assert item.value == {"text": LESSON, "kind": "lesson", "domain": "data", "tags": ["csv"]}

    reader = ScriptedChatModel(turns=[("search_experience", {"query": "total the sales column"})])
    second = create_agent(reader, [*tools, experience, lessons])
    second.invoke({"messages": [("user", "Total the refunds column")]},
                  config={"callbacks": [handler]})  # fmt: skip
    memory.flush()

    [seen] = tool_outputs(reader)  # what the model was given by the tool
    assert f"[lesson] Lesson: {LESSON}" in seen
    assert "[episode] Task: Total the sales amounts" in seen
    assert "[pattern] " in seen and "fetch_data -> clean_data -> summarize" in seen
    recorded = {e.task_description: e for e in memory.list_episodes(limit=20)}
    [search] = recorded["Total the refunds column"].steps
    assert (search.tool, search.parameters) == ("search_experience",
                                                {"query": "total the sales column"})  # fmt: skip
    assert [s.tool for s in recorded["Note what you learned about sums"].steps] == [
        "record_lesson"
    ]


async def test_the_tools_work_in_an_async_run(
    memory: SelfLearningMemory, tools: list[BaseTool]
) -> None:
    experience = create_experience_tool(memory, include=["lessons"])
    lessons = create_lesson_tool(memory, namespace=("team", "lessons"))
    retriever_tool = SelfMemRetriever(memory, include=["lesson"],
                                      lessons_namespace=("team", "lessons")).as_tool()  # fmt: skip
    assert retriever_tool.name == "search_experience"

    model = ScriptedChatModel(turns=[
        ("record_lesson", {"lesson": "The staging database resets at midnight."}),
        ("search_experience", {"query": "when does the staging database reset"}),
    ])  # fmt: skip
    agent = create_agent(model, [retriever_tool, lessons])
    await agent.ainvoke({"messages": [("user", "Remember the staging reset")]})

    assert tool_outputs(model)[-1] == (
        "[lesson] Lesson: The staging database resets at midnight."
    )
    assert await experience.ainvoke({"query": "staging reset"}) == ""  # another namespace


def test_lessons_can_be_updated_and_deleted(memory: SelfLearningMemory) -> None:
    tool = create_lesson_tool(memory)
    created = tool.invoke({"lesson": "Use the v2 API."})
    key = created.removeprefix("Recorded lesson ").rstrip(".")
    assert tool.invoke({"lesson": "Use the v3 API.", "action": "update", "id": key}) == (
        f"Updated lesson {key}."
    )
    [item] = memory.search_items(("lessons",))
    assert item.value["text"] == "Use the v3 API."
    assert tool.invoke({"lesson": "x", "action": "update", "id": "nope"}) == (
        "Error: no lesson nope to update."
    )
    assert tool.invoke({"lesson": "  "}) == "Error: the lesson is empty."
    assert tool.invoke({"action": "delete", "id": key}) == f"Deleted lesson {key}."
    assert memory.search_items(("lessons",)) == []


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"namespace": "lessons"}, "namespace"),
        ({"namespace": ()}, "namespace"),
        ({"context": {"domian": "x"}}, "context"),
    ],
)
def test_a_wrong_lesson_tool_option_fails_at_once(
    memory: SelfLearningMemory, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        create_lesson_tool(memory, **options)
    assert raised.value.field == field


def test_the_retriever_takes_the_memory_first(memory: SelfLearningMemory) -> None:
    for retriever in (SelfMemRetriever(memory, k=2), SelfMemRetriever(memory=memory, k=2)):
        assert retriever.memory is memory and retriever.k == 2
    with pytest.raises(InvalidInputError, match="memory given twice"):
        SelfMemRetriever(memory, memory=memory)


def test_include_takes_singular_and_plural_kinds(
    memory: SelfLearningMemory, tools: list[BaseTool]
) -> None:
    learn_the_plan(memory, tools)

    def kinds(include: tuple[str, ...]) -> set[str]:
        retriever = SelfMemRetriever(memory, k=10, include=include, context={"domain": "data"})
        docs = retriever.invoke("total the sales")
        return {doc.metadata["kind"] for doc in docs}

    assert kinds(("episode",)) == kinds(("episodes",)) == {"episode"}
    assert kinds(("patterns", "heuristic")) == {"pattern", "heuristic"}
    assert SelfMemRetriever(memory, include=("episodes", "episode")).include == ("episode",)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"k": 0}, "k"),
        ({"include": ("documents",)}, "include"),
        ({"include": "episode"}, "include"),
        ({"task_type": ""}, "task_type"),
        ({"context": {"domian": "web"}}, "context"),
        ({"success_only": "yes"}, "success_only"),
        ({"domain": ""}, "domain"),
        ({"lessons_namespace": "lessons"}, "lessons_namespace"),
        ({"memory": "./.selfmem"}, "memory"),
    ],
)
def test_a_wrong_retriever_option_fails_at_construction(
    memory: SelfLearningMemory, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        SelfMemRetriever(**{"memory": memory, **options})
    assert raised.value.field == field
