"""LangGraph ``InMemoryStore`` and LlamaIndex ``VectorStoreIndex`` on the same episodes,
queries and MiniLM vectors as selfmem."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from .progress import progress
from .retrieval_dataset import QUERIES
from .retrieval_metrics import QUALITY_LIMIT, percentiles, score_queries
from .retrieval_store import Store
from .retrieval_vectors import VectorBank, embedding_text


def _time_queries(
    search: Callable[[str], list[str]], passes: int
) -> tuple[list[float], list[list[str]]]:
    samples: list[float] = []
    rankings: list[list[str]] = []
    for index in range(passes):
        for query in QUERIES:
            start = time.perf_counter()
            keys = search(query.text)
            samples.append(time.perf_counter() - start)
            if index == 0:
                rankings.append(keys)
    return samples, rankings


def _measure(
    name: str, search: Callable[[str], list[str]], bank: VectorBank, repeats: int
) -> dict[str, Any]:
    search(QUERIES[0].text)  # warm-up
    _time_queries(search, 1)
    samples, rankings = _time_queries(search, repeats)
    bank.live = frozenset(q.text for q in QUERIES)
    try:
        live, _ = _time_queries(search, 1)
    finally:
        bank.live = frozenset()
    progress(f"  {name}: done")
    return {
        "quality": score_queries(QUERIES, rankings),
        "excluding_embedding": percentiles(samples),
        "including_embedding": percentiles(live),
    }


def langgraph_run(docs: list[tuple[str, str]], bank: VectorBank, repeats: int) -> dict[str, Any]:
    from langgraph.store.base import IndexConfig
    from langgraph.store.memory import InMemoryStore

    def embed(texts: Sequence[str]) -> list[list[float]]:
        return bank.embed(texts).tolist()  # type: ignore[no-any-return]

    store = InMemoryStore(index=IndexConfig(embed=embed, dims=bank.dim, fields=["text"]))
    namespace = ("episodes",)
    start = time.perf_counter()
    for key, text in docs:
        store.put(namespace, key, {"text": text})
    build = time.perf_counter() - start

    def search(text: str) -> list[str]:
        return [item.key for item in store.search(namespace, query=text, limit=QUALITY_LIMIT)]

    return {"build_s": build, **_measure("LangGraph InMemoryStore", search, bank, repeats)}


def llamaindex_run(docs: list[tuple[str, str]], bank: VectorBank, repeats: int) -> dict[str, Any]:
    from llama_index.core import VectorStoreIndex
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.core.schema import TextNode

    class BankEmbedding(BaseEmbedding):
        """LlamaIndex's embedding interface over the same MiniLM vectors."""

        def _get_query_embedding(self, query: str) -> list[float]:
            return bank.embed([query])[0].tolist()  # type: ignore[no-any-return]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return bank.embed([text])[0].tolist()  # type: ignore[no-any-return]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return bank.embed(texts).tolist()  # type: ignore[no-any-return]

    start = time.perf_counter()
    nodes = [
        TextNode(id_=key, text=text, embedding=bank.vector(text).tolist()) for key, text in docs
    ]
    index = VectorStoreIndex(nodes, embed_model=BankEmbedding(model_name=bank.model_id))
    build = time.perf_counter() - start
    retriever = index.as_retriever(similarity_top_k=QUALITY_LIMIT)

    def search(text: str) -> list[str]:
        return [hit.node.node_id for hit in retriever.retrieve(text)]

    return {"build_s": build, **_measure("LlamaIndex VectorStoreIndex", search, bank, repeats)}


def compare(store: Store, bank: VectorBank, repeats: int) -> dict[str, Any]:
    """LangGraph and LlamaIndex over the store's episodes (the text selfmem embeds)."""
    docs = [(spec.key, embedding_text(spec)) for spec in store.order[: store.size]]
    found: dict[str, Any] = {"items": len(docs)}
    for name, run in (("langgraph", langgraph_run), ("llamaindex", llamaindex_run)):
        progress(f"{name}: {len(docs)} items")
        try:
            found[name] = run(docs, bank, repeats)
        except ImportError as exc:
            found[name] = {"error": f"not installed: {exc}"}
    return found
