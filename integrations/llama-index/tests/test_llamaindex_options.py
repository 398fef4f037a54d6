"""Options are checked when a recorder, block or retriever is built, and follow LlamaIndex's
conventions: the memory first, ``similarity_top_k`` for the count, one vocabulary of kinds."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.memory.selfmem import SelfMemMemoryBlock, SelfMemRecorder
from llama_index.retrievers.selfmem import SelfMemRetriever
from llamaindex_helpers import LOGIN, ScriptedLLM, answer, call, seed_login_episodes, tools

from selfmem import InvalidInputError, SelfLearningMemory, TaskType

QUERY = "the login test fails with 401"

WRONG_TASK_AND_CONTEXT: list[tuple[dict[str, Any], str]] = [
    ({"task_type": ""}, "task_type"),
    ({"task_type": 7}, "task_type"),
    ({"context": {"domian": "web"}}, "context"),
    ({"context": {"tags": "auth"}}, "context"),
    ({"context": "web"}, "context"),
]


@pytest.mark.parametrize(
    ("options", "field"),
    [*WRONG_TASK_AND_CONTEXT, ({"judge": "strict"}, "judge"), ({"agent_types": ()}, "agent_types")],
)
def test_a_wrong_recorder_option_fails_at_construction(
    memory: SelfLearningMemory, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        SelfMemRecorder(memory, **options)
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("options", "field"),
    [
        *WRONG_TASK_AND_CONTEXT,
        ({"max_tokens": 5}, "max_tokens"),
        ({"record": "yes"}, "record"),
        ({"similarity_top_k": 0}, "similarity_top_k"),
    ],
)
def test_a_wrong_block_option_fails_at_construction(
    memory: SelfLearningMemory, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        SelfMemMemoryBlock(memory, **options)
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("options", "field"),
    [
        *WRONG_TASK_AND_CONTEXT,
        ({"similarity_top_k": 0}, "similarity_top_k"),
        ({"include": ["documents"]}, "include"),
        ({"include": "episodes"}, "include"),
        ({"success_only": "yes"}, "success_only"),
        ({"lessons_namespace": "lessons"}, "lessons_namespace"),
    ],
)
def test_a_wrong_retriever_option_fails_at_construction(
    memory: SelfLearningMemory, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        SelfMemRetriever(memory, **options)
    assert raised.value.field == field


def test_a_memory_that_is_not_one_is_named(tmp_path: Any) -> None:
    for build in (SelfMemRecorder, SelfMemMemoryBlock, SelfMemRetriever):
        with pytest.raises(InvalidInputError) as raised:
            build(str(tmp_path))
        assert raised.value.field == "memory"


async def test_a_custom_task_type_is_recorded_and_retrieved(memory: SelfLearningMemory) -> None:
    with SelfMemRecorder(memory, task_type="planning") as recorder:
        llm = ScriptedLLM([call("add", a=1, b=2), answer("planned")])
        await FunctionAgent(tools=tools(), llm=llm).run(user_msg="Plan the sprint budget")
    (episode,) = [memory.get_episode(eid) for eid in recorder.episode_ids]
    assert episode.task_type == "planning" and [s.tool for s in episode.steps] == ["add"]
    assert [e.id for e in memory.list_episodes(task_type="planning")] == [episode.id]

    block = SelfMemMemoryBlock(memory, task_type="planning")
    assert block.task_type == "planning"
    retriever = SelfMemRetriever(memory, task_type="planning", include=["episode"])
    (node,) = retriever.retrieve("plan the sprint budget")
    assert node.node.metadata["episode_id"] == episode.id
    for build in (SelfMemRecorder, SelfMemMemoryBlock, SelfMemRetriever):
        with pytest.raises(InvalidInputError) as raised:
            build(memory, task_type="Sprint Planning")
        assert raised.value.field == "task_type" and "lowercase" in str(raised.value)


def test_the_memory_comes_first_positional_or_keyword(memory: SelfLearningMemory) -> None:
    for block in (SelfMemMemoryBlock(memory), SelfMemMemoryBlock(memory=memory)):
        assert block.memory is memory and block.similarity_top_k == 5
    for retriever in (SelfMemRetriever(memory), SelfMemRetriever(memory=memory)):
        assert retriever.memory is memory and retriever.similarity_top_k == 5
    with pytest.raises(InvalidInputError, match="memory given twice"):
        SelfMemMemoryBlock(memory, memory=memory)
    block = SelfMemMemoryBlock(memory, task_type="debugging", context={"domain": "web"})
    assert block.task_type is TaskType.DEBUGGING and block.context is not None
    assert block.context.domain == "web"


def test_limit_still_works_with_a_deprecation_warning(memory: SelfLearningMemory) -> None:
    seed_login_episodes(memory)
    with pytest.warns(DeprecationWarning, match="similarity_top_k"):
        retriever = SelfMemRetriever(memory, limit=1, include=["episode"])
    assert retriever.similarity_top_k == 1 and len(retriever.retrieve(QUERY)) == 1
    with pytest.warns(DeprecationWarning, match="similarity_top_k"):
        block = SelfMemMemoryBlock(memory, limit=2)
    assert block.similarity_top_k == 2
    with pytest.warns(DeprecationWarning):
        assert block.limit == 2


def test_include_takes_singular_and_plural_kinds(memory: SelfLearningMemory) -> None:
    seed_login_episodes(memory)

    def kinds(include: list[str]) -> set[str]:
        nodes = SelfMemRetriever(memory, context=LOGIN, include=include).retrieve(QUERY)
        return {node.node.metadata["kind"] for node in nodes}

    assert kinds(["episode"]) == kinds(["episodes"]) == {"episode"}
    assert kinds(["pattern", "heuristics"]) == {"pattern", "heuristic"}


def test_lessons_are_retrieved_as_their_own_kind(memory: SelfLearningMemory) -> None:
    seed_login_episodes(memory)
    memory.put_item(("lessons",), "l1", {"text": "A 401 in the login test means the token "
                                                 "expired: refresh it, never delete the test.",
                                         "domain": "web"})  # fmt: skip
    memory.put_item(("lessons",), "l2", {"text": "Deploys go out on Fridays.", "domain": "ops"})

    nodes = SelfMemRetriever(memory, context=LOGIN, include=["lesson"]).retrieve(QUERY)
    [lesson] = nodes
    assert lesson.node.node_id == "selfmem:lesson:lessons/l1"
    assert lesson.node.get_content().startswith("Lesson: A 401 in the login test")
    assert lesson.node.metadata["kind"] == "lesson" and lesson.score is not None
    everything = SelfMemRetriever(memory, context=LOGIN).retrieve(QUERY)
    assert {n.node.metadata["kind"] for n in everything} == {
        "episode", "pattern", "heuristic", "lesson",
    }  # fmt: skip
    ops = SelfMemRetriever(memory, domain="ops", include=["lessons"]).retrieve("deploys friday")
    assert [n.node.metadata["lesson_key"] for n in ops] == ["l2"]
