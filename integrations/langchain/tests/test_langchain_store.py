"""SelfMemStore: a conformance test of the LangGraph ``BaseStore`` contract, and an agent
that uses it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain.tools import ToolRuntime
from langchain_core.tools import tool
from langchain_selfmem import ScriptedChatModel, SelfMemStore
from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchOp,
)
from langgraph.store.memory import InMemoryStore

from selfmem import SelfLearningMemory


class StoreContract:
    """The behaviour every LangGraph store shows; run against ``SelfMemStore`` and, as a
    reference that keeps the contract honest, LangGraph's own ``InMemoryStore``."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[BaseStore]:
        raise NotImplementedError

    def test_put_get_replace_delete(self, store: BaseStore) -> None:
        assert store.get(("users", "alice"), "prefs") is None
        store.put(("users", "alice"), "prefs", {"theme": "dark", "size": 3})
        item = store.get(("users", "alice"), "prefs")
        assert item is not None
        assert (item.namespace, item.key, item.value) == (
            ("users", "alice"), "prefs", {"theme": "dark", "size": 3},
        )  # fmt: skip
        created = item.created_at
        store.put(("users", "alice"), "prefs", {"theme": "light"})
        replaced = store.get(("users", "alice"), "prefs")
        assert replaced is not None and replaced.value == {"theme": "light"}
        assert replaced.updated_at >= created
        store.delete(("users", "alice"), "prefs")
        assert store.get(("users", "alice"), "prefs") is None
        store.delete(("users", "alice"), "missing")  # deleting nothing is fine

    def test_search_by_prefix_and_pages(self, store: BaseStore) -> None:
        for user in ("bob", "alice"):
            for key in ("b", "a", "c"):
                store.put(("users", user), key, {"user": user, "key": key})
        store.put(("teams", "x"), "a", {"team": "x"})

        found = store.search(("users",), limit=10)
        assert sorted((i.namespace[1], i.key) for i in found) == [
            ("alice", "a"), ("alice", "b"), ("alice", "c"), ("bob", "a"), ("bob", "b"),
            ("bob", "c"),
        ]  # fmt: skip
        assert all(i.score is None for i in found)
        assert sorted(i.key for i in store.search(("users", "bob"))) == ["a", "b", "c"]
        pages = [store.search(("users",), limit=2, offset=offset) for offset in (0, 2, 4)]
        assert [len(page) for page in pages] == [2, 2, 2]
        assert {(i.namespace, i.key) for page in pages for i in page} == {
            (i.namespace, i.key) for i in found
        }
        assert len(store.search((), limit=100)) == 7
        assert store.search(("nobody",)) == []
        assert len(store.search(("users",), limit=5_000)) == 6  # more than one page allowed

    def test_search_filters(self, store: BaseStore) -> None:
        for n in range(6):
            store.put(("docs",), f"d{n}", {"n": n, "kind": "even" if n % 2 == 0 else "odd"})

        def keys(**kw: Any) -> list[str]:
            return sorted(i.key for i in store.search(("docs",), **kw))

        assert keys(filter={"kind": "odd"}) == ["d1", "d3", "d5"]
        assert keys(filter={"n": {"$gte": 4}}) == ["d4", "d5"]
        assert keys(filter={"n": {"$lt": 2}, "kind": "even"}) == ["d0"]
        assert keys(filter={"n": {"$ne": 3}, "kind": "odd"}) == ["d1", "d5"]
        assert keys(filter={"missing": "x"}) == []

    def test_list_namespaces(self, store: BaseStore) -> None:
        for namespace in [("a", "b", "c"), ("a", "b", "d"), ("a", "e"), ("f", "b")]:
            store.put(namespace, "k", {"v": 1})

        assert store.list_namespaces() == [("a", "b", "c"), ("a", "b", "d"), ("a", "e"),
                                           ("f", "b")]  # fmt: skip
        assert store.list_namespaces(prefix=("a", "b")) == [("a", "b", "c"), ("a", "b", "d")]
        assert store.list_namespaces(suffix=("b",)) == [("f", "b")]
        assert store.list_namespaces(prefix=("a", "*")) == [("a", "b", "c"), ("a", "b", "d"),
                                                            ("a", "e")]  # fmt: skip
        assert store.list_namespaces(max_depth=2) == [("a", "b"), ("a", "e"), ("f", "b")]
        assert store.list_namespaces(limit=1, offset=1) == [("a", "b", "d")]

    async def test_async_methods(self, store: BaseStore) -> None:
        await store.aput(("ns", "x"), "k", {"text": "hello async world"})
        item = await store.aget(("ns", "x"), "k")
        assert item is not None and item.value == {"text": "hello async world"}
        assert [i.key for i in await store.asearch(("ns",))] == ["k"]
        assert await store.alist_namespaces(prefix=("ns",)) == [("ns", "x")]
        await store.adelete(("ns", "x"), "k")
        assert await store.aget(("ns", "x"), "k") is None

    def test_label_rules(self, store: BaseStore) -> None:
        for bad in [(), ("a.b",), ("",), ("langgraph", "x")]:
            with pytest.raises(InvalidNamespaceError):
                store.put(bad, "k", {"v": 1})

    def test_a_query_never_hides_what_the_prefix_and_filter_select(self, store: BaseStore) -> None:
        store.put(("users", "alice"), "prefs", {"text": "prefers dark mode", "theme": "dark"})
        store.put(("users", "bob"), "prefs", {"text": "likes big fonts", "theme": "light"})
        store.put(("teams", "x"), "prefs", {"text": "dark mode for everyone", "theme": "dark"})

        found = store.search(("users",), query="which theme does alice like")
        assert sorted(i.namespace[1] for i in found) == ["alice", "bob"]
        found = store.search(("users",), query="which theme does alice like",
                             filter={"theme": "dark"})  # fmt: skip
        assert [(i.namespace, i.key) for i in found] == [(("users", "alice"), "prefs")]
        assert store.search(("users",), query="zzz unrelated words", limit=1)
        assert len(store.search(("users",), query="dark", limit=10, offset=1)) == 1


class TestInMemoryStoreReference(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[BaseStore]:
        yield InMemoryStore()


class TestSelfMemStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[BaseStore]:
        with SelfLearningMemory.open(tmp_path / "mem") as memory:
            yield SelfMemStore(memory)

    def test_search_is_ordered_by_namespace_then_key(self, store: BaseStore) -> None:
        for user in ("bob", "alice"):
            for key in ("b", "a"):
                store.put(("users", user), key, {"user": user})
        assert [(i.namespace[1], i.key) for i in store.search(("users",))] == [
            ("alice", "a"), ("alice", "b"), ("bob", "a"), ("bob", "b"),
        ]  # fmt: skip
        assert [i.key for i in store.search(("users",), limit=2, offset=1)] == ["b", "a"]

    def test_query_search_ranks_and_scores(self, store: BaseStore) -> None:
        store.put(("notes",), "a", {"text": "the user prefers dark mode in the editor"})
        store.put(("notes",), "b", {"text": "deploys happen on friday afternoons"})
        store.put(("notes",), "c", {"text": "lunch is at noon"})

        found = store.search(("notes",), query="which editor mode does the user prefer")
        assert found and found[0].key == "a"

        found = store.search(("notes",), query="dark editor")
        assert found[0].key == "a" and found[0].score is not None and found[0].score > 0
        assert [(i.key, i.score) for i in found[1:]] == [("b", None), ("c", None)]
        found = store.search(("notes",), query="the user deploys on friday")
        scores = [i.score for i in found]
        assert [i.key for i in found] == ["b", "a", "c"] and scores[2] is None
        assert scores[0] is not None and scores[1] is not None and scores[0] > scores[1] > 0

    def test_batch_runs_ops_in_the_order_given(self, store: BaseStore) -> None:
        results = store.batch([
            PutOp(("ns",), "k", {"v": 1}),
            GetOp(("ns",), "k"),
            PutOp(("ns",), "k", None),
            GetOp(("ns",), "k"),
            SearchOp(("ns",)),
            ListNamespacesOp(match_conditions=(MatchCondition("prefix", ("ns",)),)),
        ])  # fmt: skip
        assert results[0] is None and results[2] is None
        assert results[1] is not None and results[1].value == {"v": 1}  # type: ignore[union-attr]
        assert results[3] is None and results[4] == [] and results[5] == []

    def test_batch_checks_labels_too(self, store: BaseStore) -> None:
        for bad in [("a.b",), ("langgraph",), ()]:
            with pytest.raises(InvalidNamespaceError):
                store.batch([PutOp(bad, "k", {"v": 1})])

    def test_index_fields_and_index_false(self, store: BaseStore) -> None:
        store.put(("n",), "title", {"title": "editor themes", "body": "unrelated"},
                  index=["title"])  # fmt: skip
        store.put(("n",), "hidden", {"title": "editor themes"}, index=False)
        found = store.search(("n",), query="editor")
        assert [(i.key, i.score is None) for i in found] == [("title", False), ("hidden", True)]
        assert [(i.key, i.score) for i in store.search(("n",), query="unrelated")] == [
            ("hidden", None), ("title", None),
        ]  # fmt: skip
        assert [i.key for i in store.search(("n",))] == ["hidden", "title"]

    def test_items_survive_a_restart_and_stay_in_their_namespace(self, tmp_path: Path) -> None:
        with SelfLearningMemory.open(tmp_path / "persist") as memory:
            SelfMemStore(memory).put(("users", "alice"), "prefs", {"theme": "dark"})
            SelfMemStore(memory.scoped("other")).put(("users", "alice"), "prefs", {"x": 1})
        with SelfLearningMemory.open(tmp_path / "persist") as memory:
            item = SelfMemStore(memory).get(("users", "alice"), "prefs")
            assert item is not None and item.value == {"theme": "dark"}
            other = SelfMemStore(memory.scoped("other")).get(("users", "alice"), "prefs")
            assert other is not None and other.value == {"x": 1}


def test_an_agent_reads_and_writes_its_store(tmp_path: Path) -> None:
    @tool
    def remember(fact: str, runtime: ToolRuntime) -> str:
        """Remember a fact about the user."""
        assert runtime.store is not None
        runtime.store.put(("facts",), str(len(runtime.store.search(("facts",)))), {"fact": fact})
        return "saved"

    @tool
    def recall(topic: str, runtime: ToolRuntime) -> str:
        """Recall facts about a topic."""
        assert runtime.store is not None
        [best] = runtime.store.search(("facts",), query=topic, limit=1)
        return str(best.value["fact"])

    with SelfLearningMemory.open(tmp_path / "agent") as memory:
        store = SelfMemStore(memory)
        model = ScriptedChatModel(turns=[
            ("remember", {"fact": "the user likes green tea"}),
            ("remember", {"fact": "the user lives in Lisbon"}),
            ("recall", {"topic": "tea"}),
        ])  # fmt: skip
        agent = create_agent(model, [remember, recall], store=store)
        output = agent.invoke({"messages": [("user", "Remember my tea and city")]})

        assert output["messages"][-1].content == "Done: the user likes green tea"
        assert [i.value["fact"] for i in store.search(("facts",))] == [
            "the user likes green tea", "the user lives in Lisbon",
        ]  # fmt: skip


@pytest.mark.slow
def test_query_search_is_semantic_with_embeddings(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    from selfmem.embeddings import SentenceTransformerEmbedder

    with SelfLearningMemory.open(tmp_path / "sem", embedder=SentenceTransformerEmbedder()) as m:
        store = SelfMemStore(m)
        store.put(("facts",), "tea", {"text": "Alice drinks green tea every morning"})
        store.put(("facts",), "car", {"text": "Bob parks his bicycle in the garage"})
        found = store.search(("facts",), query="what hot beverage does she like")
        assert found[0].key == "tea"  # not one word in common with the query
        top, last = found[0].score, found[-1].score
        assert top is not None and last is not None and top > last
