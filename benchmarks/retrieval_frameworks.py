"""LangGraph ``InMemoryStore``, LlamaIndex ``VectorStoreIndex`` and mem0 ``Memory`` on the same
episodes, queries and MiniLM vectors as selfmem.

mem0 (``pip install mem0ai faiss-cpu langchain``, the ``bench-mem0`` extra) runs offline: its
local faiss store on disk, the MiniLM vectors through its ``langchain`` embedder, ``add(...,
infer=False)`` (no LLM call; the LLM it insists on building is a dummy that is never called)
and telemetry off. Without it the arm is skipped and the others run.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .machine import load_average
from .progress import progress
from .retrieval_dataset import QUERIES
from .retrieval_metrics import QUALITY_LIMIT, percentiles, score_queries
from .retrieval_report import table
from .retrieval_store import Store
from .retrieval_variants import HYBRID
from .retrieval_vectors import VectorBank, embedding_text

MEM0_USER = "bench"  # mem0 scopes every memory to a user, agent or run id
MEM0_MISSING = "skipped: mem0ai not installed"


def rss_mb() -> float | None:
    """This process's resident set in MB (None where /proc is missing)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


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
        "rss_after_mb": rss_mb(),  # the arm's structures are still alive here
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


def mem0_missing() -> str | None:
    """Why the mem0 arm cannot run (None when it can)."""
    if importlib.util.find_spec("mem0") is None:
        return MEM0_MISSING
    if importlib.util.find_spec("faiss") is None:
        return "skipped: faiss-cpu not installed (mem0's local vector store)"
    if importlib.util.find_spec("langchain") is None:
        return "skipped: langchain not installed (mem0's embedder for the MiniLM vectors)"
    return None


def mem0_config(bank: VectorBank, directory: Path) -> dict[str, Any]:
    """mem0 on local disk only: faiss, MiniLM vectors from the bank, an LLM never called."""
    from langchain_core.embeddings import Embeddings

    class BankEmbeddings(Embeddings):
        """The same MiniLM vectors, through mem0's ``langchain`` embedder."""

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return bank.embed(texts).tolist()  # type: ignore[no-any-return]

        def embed_query(self, text: str) -> list[float]:
            return bank.embed([text])[0].tolist()  # type: ignore[no-any-return]

    return {
        "embedder": {"provider": "langchain", "config": {"model": BankEmbeddings()}},
        "vector_store": {"provider": "faiss", "config": {
            "collection_name": "episodes", "path": str(directory / "faiss"),
            "embedding_model_dims": bank.dim, "distance_strategy": "cosine"}},
        # mem0 builds an LLM client in its constructor; add(infer=False) and search never
        # call it, and a call would fail at once on this closed local port.
        "llm": {"provider": "openai", "config": {
            "api_key": "unused-offline", "openai_base_url": "http://127.0.0.1:9/v1"}},
        "history_db_path": str(directory / "history.db"),
    }  # fmt: skip


def mem0_run(docs: list[tuple[str, str]], bank: VectorBank, repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="selfmem-bench-mem0-") as tmp:
        directory = Path(tmp)
        os.environ["MEM0_TELEMETRY"] = "False"  # read when mem0 is imported: no posthog calls
        os.environ.setdefault("MEM0_DIR", str(directory / "home"))
        from mem0 import Memory

        memory = Memory.from_config(mem0_config(bank, directory))
        start = time.perf_counter()
        for count, (key, text) in enumerate(docs, 1):
            memory.add(text, user_id=MEM0_USER, infer=False, metadata={"episode_key": key})
            if count % 1_000 == 0:
                progress(f"  mem0: {count}/{len(docs)} added, {time.perf_counter() - start:.0f} s")
        build = time.perf_counter() - start
        scope = {"user_id": MEM0_USER}

        def search(text: str) -> list[str]:
            found = memory.search(text, filters=scope, top_k=QUALITY_LIMIT, threshold=0.0)
            return [hit["metadata"]["episode_key"] for hit in found["results"]]

        result = _measure("mem0 Memory (faiss)", search, bank, repeats)
        disk = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file()) / 2**20
        return {"build_s": build, "disk_mb": disk, **result}


ARMS: tuple[tuple[str, str, Callable[..., dict[str, Any]]], ...] = (
    ("langgraph", "LangGraph InMemoryStore", langgraph_run),
    ("llamaindex", "LlamaIndex VectorStoreIndex", llamaindex_run),
    ("mem0", "mem0 Memory (faiss, infer=False)", mem0_run),
)


def compare(store: Store, bank: VectorBank, repeats: int) -> dict[str, Any]:
    """Every arm over the store's episodes (the text selfmem embeds), one after another."""
    docs = [(spec.key, embedding_text(spec)) for spec in store.order[: store.size]]
    found: dict[str, Any] = {"items": len(docs), "load_average_before": load_average()}
    for key, _, run in ARMS:
        skipped = mem0_missing() if key == "mem0" else None
        if skipped:
            progress(f"{key}: {skipped}")
            found[key] = {"skipped": skipped}
            continue
        progress(f"{key}: {len(docs)} items")
        gc.collect()
        before = rss_mb()
        try:
            found[key] = run(docs, bank, repeats)
        except ImportError as exc:
            found[key] = {"error": f"not installed: {exc}"}
            continue
        after = found[key].get("rss_after_mb")
        found[key]["rss_added_mb"] = after - before if after and before else None
    found["load_average_after"] = load_average()
    return found


# -- the table ---------------------------------------------------------------------------------


def _cell(value: Any, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) else "n/a"


def _at(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, Mapping) or key not in data:
            return None
        data = data[key]
    return data


def _ratio(value: Any, own: Any) -> str:
    both = isinstance(value, float) and isinstance(own, float) and own
    return f"{value / own:.1f}" if both else "n/a"


def side_by_side(report: Mapping[str, Any]) -> str:
    """Every arm beside selfmem's hybrid ranking, with build time, RSS and the p50 ratios."""
    entry = next((e for e in report["sizes"] if "compare" in e), None)
    if entry is None:
        return ""
    compared = entry["compare"]
    own_q = _at(entry, "quality", HYBRID.name, "all")
    own_lat = _at(entry, "latency", HYBRID.name)
    own = _at(own_lat, "excluding_embedding", "p50_ms")
    own_live = _at(own_lat, "including_embedding", "p50_ms")
    build = _at(entry, "build") or {}
    rows = [[f"selfmem {HYBRID.name}", _cell(_at(own_q, "recall@5"), 3),
             _cell(_at(own_q, "mrr"), 3), _cell(_at(own_q, "ndcg@10"), 3),
             _cell(float(build.get("public_api_s", 0.0) + build.get("direct_s", 0.0)), 1),
             _cell(own), _cell(_at(own_lat, "excluding_embedding", "p95_ms")), _cell(own_live),
             _cell(_at(own_lat, "including_embedding", "p95_ms")),
             f"{_cell(_at(entry, 'rss', 'vectors', 'after_queries_mb'), 0)} (fresh process)",
             "1.0", "1.0"]]  # fmt: skip
    for key, label, _ in ARMS:
        result = compared.get(key, {})
        if "skipped" in result or "error" in result:
            rows.append([label, result.get("skipped") or result["error"], *[""] * 10])
            continue
        quality = result["quality"]["all"]
        p50 = _at(result, "excluding_embedding", "p50_ms")
        p50_live = _at(result, "including_embedding", "p50_ms")
        rows.append([label, _cell(quality["recall@5"], 3), _cell(quality["mrr"], 3),
                     _cell(quality["ndcg@10"], 3), _cell(result["build_s"], 1), _cell(p50),
                     _cell(_at(result, "excluding_embedding", "p95_ms")), _cell(p50_live),
                     _cell(_at(result, "including_embedding", "p95_ms")),
                     f"+{_cell(result.get('rss_added_mb'), 0)} (added)",
                     _ratio(p50, own), _ratio(p50_live, own_live)])  # fmt: skip
    headers = ["system", "recall@5", "MRR", "nDCG@10", "build s", "p50 ms (excl.)",
               "p95 ms (excl.)", "p50 ms (incl.)", "p95 ms (incl.)", "RSS MB",
               "p50 / selfmem (excl.)", "p50 / selfmem (incl.)"]  # fmt: skip
    load = (f"load average {compared.get('load_average_before')} before the arms, "
            f"{compared.get('load_average_after')} after")  # fmt: skip
    return (
        f"\n\n## Side by side, every arm at {compared['items']:,} items "
        f"(one run; {load})\n\n" + table(headers, rows)
    )
