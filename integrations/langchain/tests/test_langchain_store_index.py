"""SelfMemStore with LangGraph's own ``index={"dims", "embed", "fields"}`` configuration,
checked against LangGraph's ``InMemoryStore`` configured the same way."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings
from langchain_selfmem import SelfMemStore
from langgraph.store.base import BaseStore, SearchItem
from langgraph.store.memory import InMemoryStore

from selfmem import InvalidInputError, SelfLearningMemory

DIMS = 32
_SYNONYMS = {"tea": "drink", "coffee": "drink", "beverage": "drink", "bicycle": "bike"}


class WordEmbeddings(Embeddings):
    """A deterministic toy embedding: a bag of words (with a few synonyms folded together)
    hashed into ``DIMS`` buckets. Counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * DIMS
        for word in re.findall(r"[a-z]+", text.lower()):
            word = _SYNONYMS.get(word, word)
            vector[sum(map(ord, word)) % DIMS] += 1.0
        return vector

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return [self._vector(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        self.calls += 1
        return self._vector(text)


def index(**extra: Any) -> dict[str, Any]:
    return {"dims": DIMS, "embed": WordEmbeddings(), **extra}


def fill(store: BaseStore) -> None:
    store.put(("facts", "alice"), "tea", {"text": "Alice drinks green tea every morning",
                                          "topic": "food"})  # fmt: skip
    store.put(("facts", "bob"), "bike", {"text": "Bob rides a bicycle to work", "topic": "move"})
    store.put(("facts", "bob"), "lunch", {"text": "Bob has soup for lunch", "topic": "food"})
    store.put(("facts", "carol"), "note", {"text": "Carol likes coffee"}, index=False)
    store.put(("docs",), "guide", {"title": "Coffee guide", "parts": [
        {"text": "grinding beans"}, {"text": "brewing a hot beverage"},
    ]}, index=["parts[*].text"])  # fmt: skip


def ranked(found: list[SearchItem]) -> list[tuple[str, float | None]]:
    return [(i.key, None if i.score is None else round(i.score, 4)) for i in found]


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[BaseStore, BaseStore]]:
    with SelfLearningMemory.open(tmp_path / "mem") as memory:
        ours, theirs = SelfMemStore(memory, index=index()), InMemoryStore(index=index())  # type: ignore[arg-type]
        fill(ours)
        fill(theirs)
        yield ours, theirs


@pytest.mark.parametrize(
    ("prefix", "query", "options"),
    [
        (("facts",), "what hot beverage does she like", {}),
        (("facts",), "who rides a bike", {}),
        (("facts",), "food", {"filter": {"topic": "food"}}),
        (("facts", "bob"), "lunch soup", {}),
        ((), "a hot beverage", {}),
        (("facts",), "tea", {"limit": 2}),
    ],
)
def test_query_ranks_as_langgraph_ranks(
    stores: tuple[BaseStore, BaseStore], prefix: tuple[str, ...], query: str,
    options: dict[str, Any],
) -> None:  # fmt: skip
    ours, theirs = stores
    expected = ranked(theirs.search(prefix, query=query, **options))
    assert ranked(ours.search(prefix, query=query, **options)) == expected
    assert expected, "the reference found something"


def test_index_false_and_per_put_fields(stores: tuple[BaseStore, BaseStore]) -> None:
    ours, _ = stores
    found = ours.search(("facts",), query="coffee")
    assert found[-1].key == "note" and found[-1].score is None  # index=False: last, no score
    [guide] = ours.search(("docs",), query="hot beverage")
    assert guide.score is not None and guide.score > 0.5  # the best of its two texts


def test_fields_of_the_index_choose_what_is_embedded(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path / "mem") as memory:
        ours = SelfMemStore(memory, index=index(fields=["title"]))
        theirs = InMemoryStore(index=index(fields=["title"]))  # type: ignore[arg-type]
        for store in (ours, theirs):
            store.put(("n",), "a", {"title": "green tea", "body": "bicycle"})
            store.put(("n",), "b", {"title": "bicycle repair", "body": "tea"})
        assert ranked(ours.search(("n",), query="bicycle")) == (
            ranked(theirs.search(("n",), query="bicycle"))
        )
        assert [i.key for i in ours.search(("n",), query="bicycle")] == ["b", "a"]


def test_the_docs_example_finds_alice_without_an_embedder(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path / "mem") as memory:
        store = SelfMemStore(memory)
        store.put(("users", "alice"), "prefs", {"text": "prefers dark mode", "theme": "dark"})
        [found] = store.search(("users",), query="which theme does alice like", limit=3)
        assert found.key == "prefs" and found.value["theme"] == "dark"


def test_vectors_are_durable_and_the_store_keeps_them_out_of_sight(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path / "mem") as memory:
        fill(SelfMemStore(memory, index=index()))
    embeddings = WordEmbeddings()
    with SelfLearningMemory.open(tmp_path / "mem") as memory:
        store = SelfMemStore(memory, index={"dims": DIMS, "embed": embeddings})
        assert store.search(("facts",), query="hot beverage")[0].key == "tea"
        assert embeddings.calls == 1  # the query only: nothing was embedded again
        assert store.list_namespaces() == [("docs",), ("facts", "alice"), ("facts", "bob"),
                                           ("facts", "carol")]  # fmt: skip
        assert len(store.search((), limit=100)) == 5
        assert store.search(("langgraph",)) == []
        store.delete(("facts", "alice"), "tea")
        assert [i.key for i in store.search(("facts", "alice"), query="tea")] == []
        assert memory.search_items(("langgraph",), limit=100) != []  # the others' vectors
        assert all(i.key != "tea" for i in memory.search_items(("langgraph",), limit=100))


async def test_async_embedding_functions_are_awaited(tmp_path: Path) -> None:
    words = WordEmbeddings()

    async def embed(texts: list[str]) -> list[list[float]]:
        return words.embed_documents(texts)

    with SelfLearningMemory.open(tmp_path / "mem") as memory:
        store = SelfMemStore(memory, index={"dims": DIMS, "embed": embed, "fields": ["text"]})
        await store.aput(("f",), "tea", {"text": "green tea"})
        await store.aput(("f",), "bike", {"text": "a red bicycle"})
        found = await store.asearch(("f",), query="a cup of tea")
        assert [i.key for i in found] == ["tea", "bike"]


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"dims": 0, "embed": WordEmbeddings()}, "index.dims"),
        ({"dims": DIMS}, "index.embed"),
        ({"dims": DIMS, "embed": WordEmbeddings(), "fields": "text"}, "index.fields"),
        ({"dims": DIMS, "embed": WordEmbeddings(), "model": "x"}, "index"),
        ({"dims": DIMS, "embed": 42}, "index.embed"),
    ],
)
def test_a_wrong_index_fails_when_the_store_is_built(
    memory: SelfLearningMemory, config: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        SelfMemStore(memory, index=config)
    assert raised.value.field == field


def test_embeddings_of_the_wrong_size_are_refused(memory: SelfLearningMemory) -> None:
    store = SelfMemStore(memory, index={"dims": 8, "embed": WordEmbeddings()})
    with pytest.raises(InvalidInputError, match="32 dimensions"):
        store.put(("f",), "k", {"text": "tea"})
    assert store.get(("f",), "k") is None
