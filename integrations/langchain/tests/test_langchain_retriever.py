"""SelfMemRetriever: the langchain-tests standard suite, and what the documents carry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_selfmem import SelfMemRetriever
from langchain_tests.integration_tests import RetrieversIntegrationTests

from selfmem import ExecutionStep, SelfLearningMemory, TaskContext, TaskOutcome

CONTEXT = TaskContext(domain="web", language="python")


def record(memory: SelfLearningMemory, task: str, tools: list[str], ok: bool = True) -> str:
    eid = memory.start_episode(task, CONTEXT, "debugging")
    for tool in tools:
        memory.log_step(eid, ExecutionStep(tool=tool, observation=f"{tool} done"))
    if not ok:
        memory.log_step(eid, ExecutionStep(tool="deploy", error="migration missing"))
    outcome = TaskOutcome.success("fixed") if ok else TaskOutcome.failure("deploy failed")
    memory.complete_episode(eid, outcome)
    return eid


def fill(memory: SelfLearningMemory) -> None:
    for service in ("accounts", "billing", "search", "payments"):
        record(memory, f"Fix the failing login test of {service}",
               ["run_tests", "edit_file", "run_tests"])  # fmt: skip
    record(memory, "Fix the login deploy of billing", ["build_image"], ok=False)
    memory.flush()


@pytest.fixture
def filled(tmp_path: Path) -> Iterator[SelfLearningMemory]:
    with SelfLearningMemory.open(tmp_path / "mem", learn_inline=True) as memory:
        fill(memory)
        yield memory


class TestSelfMemRetrieverStandard(RetrieversIntegrationTests):
    """The langchain-tests suite every retriever integration passes."""

    memory: SelfLearningMemory

    @pytest.fixture(autouse=True)
    def _memory(self, tmp_path: Path) -> Iterator[None]:
        with SelfLearningMemory.open(tmp_path / "std", learn_inline=True) as memory:
            fill(memory)
            self.memory = memory
            yield

    @property
    def retriever_constructor(self) -> type[SelfMemRetriever]:
        return SelfMemRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"memory": self.memory}

    @property
    def retriever_query_example(self) -> str:
        return "the login test fails"


def kinds(docs: list[Document]) -> list[str]:
    return [doc.metadata["kind"] for doc in docs]


def test_documents_interleave_episodes_patterns_and_heuristics(
    filled: SelfLearningMemory,
) -> None:
    retriever = SelfMemRetriever(memory=filled, k=6, context=CONTEXT)
    docs = retriever.invoke("the login test of checkout fails")

    assert kinds(docs)[:3] == ["episode", "pattern", "heuristic"]
    episode = docs[0]
    assert episode.id == episode.metadata["id"] == episode.metadata["episode_id"]
    assert episode.page_content.startswith("Task: Fix the failing login test of ")
    assert "Tools: run_tests -> edit_file -> run_tests" in episode.page_content
    assert episode.metadata["outcome"] == "success"
    assert episode.metadata["reward"] > 0 and episode.metadata["score"] > 0
    assert filled.get_episode(episode.metadata["episode_id"]).task_description in (
        episode.page_content
    )
    pattern = docs[1]
    assert pattern.metadata["pattern_kind"] == "tool_sequence"
    assert pattern.metadata["support"] >= 4 and 0 < pattern.metadata["confidence"] <= 1
    assert filled.get_pattern(pattern.metadata["pattern_id"]).describe() == pattern.page_content
    heuristic = docs[2]
    assert heuristic.page_content.endswith(")." ) and heuristic.metadata["confidence"] > 0
    assert pattern.metadata["pattern_id"] in heuristic.metadata["source_pattern_ids"]


def test_include_and_filters(filled: SelfLearningMemory) -> None:
    only_episodes = SelfMemRetriever(memory=filled, k=10, include=("episode",))
    docs = only_episodes.invoke("login deploy")
    assert set(kinds(docs)) == {"episode"} and len(docs) == 5

    failures = [d for d in docs if d.metadata["outcome"] == "failure"]
    assert len(failures) == 1
    assert "Failed step: deploy: migration missing" in failures[0].page_content

    successes = SelfMemRetriever(memory=filled, k=10, include=("episode",), success_only=True)
    assert {d.metadata["outcome"] for d in successes.invoke("login deploy")} == {"success"}
    assert SelfMemRetriever(memory=filled, domain="mobile").invoke("login") == []


async def test_async_matches_sync(filled: SelfLearningMemory) -> None:
    retriever = SelfMemRetriever(memory=filled, k=5)
    sync_docs = retriever.invoke("the login test fails")
    async_docs = await retriever.ainvoke("the login test fails")
    # the same kinds with the same scores; selfmem does not promise an order between equal
    # scores (episodes recorded within a millisecond of each other tie), so not the same ids
    assert [d.metadata["kind"] for d in async_docs] == [d.metadata["kind"] for d in sync_docs]
    assert sorted(d.metadata["score"] for d in async_docs) == pytest.approx(
        sorted(d.metadata["score"] for d in sync_docs)
    )
    assert len(await retriever.ainvoke("the login test fails", k=2)) == 2
