"""SelfMemRetriever on its own, in a RetrieverQueryEngine, fused with documents, as a tool."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.retrievers import QueryFusionRetriever
from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.memory.selfmem import SelfMemRecorder
from llama_index.retrievers.selfmem import SelfMemRetriever
from llamaindex_helpers import LOGIN, ScriptedLLM, answer, call, seed_login_episodes

from selfmem import SelfLearningMemory

QUERY = "the login test fails with 401"


@pytest.fixture
def seeded(memory: SelfLearningMemory) -> SelfLearningMemory:
    seed_login_episodes(memory)
    return memory


def kinds(nodes: list[NodeWithScore]) -> list[str]:
    return [n.node.metadata["kind"] for n in nodes]


def test_retrieve_returns_episodes_patterns_and_heuristics(seeded: SelfLearningMemory) -> None:
    nodes = SelfMemRetriever(seeded, context=LOGIN, similarity_top_k=5).retrieve(QUERY)

    assert set(kinds(nodes)) == {"episode", "pattern", "heuristic"}
    assert len({n.node.node_id for n in nodes}) == len(nodes)
    episode = next(n for n in nodes if n.node.metadata["kind"] == "episode")
    meta = episode.node.metadata
    assert episode.node.node_id == f"selfmem:episode:{meta['episode_id']}"
    assert meta["source"] == "selfmem" and meta["domain"] == "web"
    assert meta["outcome"] in {"success", "failure"}
    assert meta["why"].startswith("score ") and episode.score is not None
    assert any(key.startswith("signal_") for key in meta)
    assert "Past task: Fix the failing login test" in episode.node.get_content()
    # the LLM sees the text and the kind, not ids and signals
    llm_text = episode.node.get_content(metadata_mode="llm")  # type: ignore[arg-type]
    assert "kind: episode" in llm_text and "episode_id" not in llm_text

    pattern = next(n for n in nodes if n.node.metadata["kind"] == "pattern")
    assert "run_tests -> edit_file -> run_tests" in pattern.node.get_content()
    assert pattern.node.metadata["pattern_kind"] == "tool_sequence"
    rule = next(n for n in nodes if n.node.metadata["kind"] == "heuristic")
    assert rule.node.get_content().startswith("Learned rule: ")
    assert pattern.node.metadata["pattern_id"] in rule.node.metadata["pattern_ids"]

    failure = next(n for n in nodes if n.node.metadata.get("outcome") == "failure")
    assert "Error seen: delete_test: test is required by CI" in failure.node.get_content()


async def test_aretrieve_matches_retrieve(seeded: SelfLearningMemory) -> None:
    retriever = SelfMemRetriever(seeded, context=LOGIN)
    sync = retriever.retrieve(QUERY)
    async_ = await retriever.aretrieve(QUERY)
    # the same kinds with the same scores; selfmem does not promise an order between equal
    # scores (episodes seeded within a millisecond of each other tie), so not the same ids
    assert kinds(async_) == kinds(sync)
    assert sorted(n.score or 0.0 for n in async_) == pytest.approx(
        sorted(n.score or 0.0 for n in sync)
    )


def test_filters_and_include(seeded: SelfLearningMemory) -> None:
    only_episodes = SelfMemRetriever(seeded, include=["episodes"], success_only=True)
    nodes = only_episodes.retrieve(QUERY)
    assert nodes and set(kinds(nodes)) == {"episode"}
    assert {n.node.metadata["outcome"] for n in nodes} == {"success"}
    assert SelfMemRetriever(seeded, domain="elsewhere", include=["episodes"]).retrieve(QUERY) == []
    assert SelfMemRetriever(seeded, domain="elsewhere").retrieve(QUERY) == []  # no learning
    assert SelfMemRetriever(seeded).retrieve(QueryBundle(query_str="   ")) == []
    assert only_episodes.memory is seeded
    with pytest.raises(ValueError, match="unknown kind 'documents'"):
        SelfMemRetriever(seeded, include=["documents"])


def test_nothing_relevant_yet(memory: SelfLearningMemory) -> None:
    assert SelfMemRetriever(memory).retrieve(QUERY) == []


def test_retriever_query_engine_sync(seeded: SelfLearningMemory) -> None:
    engine = RetrieverQueryEngine.from_args(SelfMemRetriever(seeded, context=LOGIN), llm=MockLLM())

    response = engine.query(QUERY)

    assert {"episode", "pattern", "heuristic"} <= set(kinds(response.source_nodes))
    # MockLLM echoes its prompt: the experience reached the LLM as context
    assert "run_tests -> edit_file -> run_tests" in str(response)
    assert QUERY in str(response)


async def test_retriever_query_engine_async(seeded: SelfLearningMemory) -> None:
    engine = RetrieverQueryEngine.from_args(SelfMemRetriever(seeded, context=LOGIN), llm=MockLLM())

    response = await engine.aquery(QUERY)

    assert "episode" in kinds(response.source_nodes)
    assert "Past task: Fix the failing login test" in str(response)


async def test_fused_with_a_document_retriever(seeded: SelfLearningMemory) -> None:
    docs = [
        Document(text="Auth service: tokens expire after 15 minutes; 401 means expired."),
        Document(text="Deployment guide: run make deploy from the release branch."),
    ]
    documents = VectorStoreIndex.from_documents(docs, embed_model=MockEmbedding(embed_dim=8))
    fusion = QueryFusionRetriever(
        [documents.as_retriever(similarity_top_k=2), SelfMemRetriever(seeded, context=LOGIN)],
        llm=MockLLM(),
        num_queries=1,
        mode=FUSION_MODES.RECIPROCAL_RANK,
        similarity_top_k=10,
        use_async=True,
    )

    nodes = await fusion.aretrieve(QUERY)
    sync_nodes = fusion.retrieve(QUERY)

    sources = {n.node.metadata.get("source", "documents") for n in nodes}
    assert sources == {"selfmem", "documents"}
    assert {n.node.node_id for n in nodes} == {n.node.node_id for n in sync_nodes}
    engine = RetrieverQueryEngine.from_args(fusion, llm=MockLLM())
    response = await engine.aquery(QUERY)
    assert "tokens expire" in str(response) and "Past task:" in str(response)


async def test_as_an_agent_tool(seeded: SelfLearningMemory, tmp_path: Path) -> None:
    tool = SelfMemRetriever(seeded, context=LOGIN).as_tool()
    assert tool.metadata.name == "past_experience"
    llm = ScriptedLLM([call("past_experience", input=QUERY), answer("I will run the tests first")])
    agent = FunctionAgent(tools=[tool], llm=llm)

    with SelfMemRecorder(seeded) as recorder:
        assert str(await agent.run(user_msg="Fix the login test")) == "I will run the tests first"

    tool_result = llm.prompts[1][-1]
    assert tool_result.role == "tool"
    assert "run_tests -> edit_file -> run_tests" in str(tool_result.content)
    [episode] = [seeded.get_episode(eid) for eid in recorder.episode_ids]
    [step] = episode.steps
    assert step.tool == "past_experience" and step.parameters == {"input": QUERY}


def test_text_node_is_a_plain_llama_index_node(seeded: SelfLearningMemory) -> None:
    retriever = SelfMemRetriever(seeded, context=LOGIN, include=["pattern"], similarity_top_k=1)
    [node] = retriever.retrieve(QUERY)
    assert isinstance(node.node, TextNode)
    assert node.node.excluded_embed_metadata_keys == list(node.node.metadata)
