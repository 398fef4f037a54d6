"""The retrieval benchmark's results as Markdown tables."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .retrieval_dataset import QUERIES, SEEDS
from .retrieval_variants import HYBRID, HYBRID_EXACT, LATENCY_LIMIT, PLAIN, SEMANTIC


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table with aligned columns."""
    body = [list(headers), *[list(row) for row in rows]]
    widths = [max(len(row[i]) for row in body) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
             for row in body]  # fmt: skip
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _f(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) else "n/a"


def _get(data: Mapping[str, Any], *path: str) -> Any:
    current: Any = data
    for key in path:
        if not isinstance(current, Mapping) or key not in current:
            return None
        current = current[key]
    return current


def quality_table(entry: Mapping[str, Any]) -> str:
    rows = []
    for name, result in entry["quality"].items():
        if "error" in result:
            rows.append([name, "n/a", "n/a", "n/a", "n/a", "n/a", "n/a"])
            continue
        rows.append([name, _f(result["all"]["recall@5"]), _f(result["all"]["mrr"]),
                     _f(result["all"]["ndcg@10"]),
                     *(f"{_f(_get(result, kind, 'recall@5'))} / {_f(_get(result, kind, 'mrr'))}"
                       for kind in ("lexical", "paraphrase", "context"))])  # fmt: skip
    counts = {kind: _get(next(iter(entry["quality"].values())), kind, "queries")
              for kind in ("lexical", "paraphrase", "context")}  # fmt: skip
    headers = ["ranking", "recall@5", "MRR", "nDCG@10",
               *(f"{kind} ({counts[kind]}): R@5 / MRR" for kind in counts)]  # fmt: skip
    return table(headers, rows)


def size_table(report: Mapping[str, Any]) -> str:
    rows = []
    names = dict.fromkeys(name for entry in report["sizes"] for name in entry["quality"])
    for name in names:
        cells = [name]
        for entry in report["sizes"]:
            q = entry["quality"].get(name, {})
            cells.append(f"{_f(_get(q, 'all', 'recall@5'))} / {_f(_get(q, 'all', 'ndcg@10'))}")
        rows.append(cells)
    headers = ["ranking", *(f"{e['size']:,} stored: recall@5 / nDCG@10" for e in report["sizes"])]
    return table(headers, rows)


def _build_cell(build: Mapping[str, Any]) -> str:
    cells = []
    if build.get("public_api"):
        cells.append(f"{build['public_api']:,} in {build['public_api_s']:.0f} s")
    if build.get("direct"):
        cells.append(f"{build['direct']:,} in {build['direct_s']:.0f} s")
    return " / ".join(cells) or "-"


def _pair(data: Any, *path: str) -> str:
    p50, p95 = _get(data, *path, "p50_ms"), _get(data, *path, "p95_ms")
    return f"{_f(p50, 1)} / {_f(p95, 1)}" if p50 is not None else "n/a"


def latency_table(report: Mapping[str, Any]) -> str:
    rows = []
    for entry in report["sizes"]:
        lat = entry["latency"]
        peak = _get(entry, "rss", "vectors", "peak_mb")
        rows.append([
            f"{entry['size']:,}",
            _build_cell(entry["build"]),
            _pair(lat, PLAIN.name, "excluding_embedding"),
            _pair(lat, HYBRID.name, "excluding_embedding"),
            _pair(lat, HYBRID_EXACT.name, "excluding_embedding"),
            _pair(lat, HYBRID.name, "including_embedding"),
            _f(_get(lat, HYBRID.name, "first_query_ms"), 0),
            _f(_get(lat, HYBRID.name, "index", "ann_wait_s"), 1)
            if _get(lat, HYBRID.name, "index", "ann") else "no HNSW",
            _f(_get(entry, "rss", "lexical", "after_queries_mb"), 0),
            f"{_f(_get(entry, 'rss', 'vectors', 'after_queries_mb'), 0)} ({_f(peak, 0)})",
        ])  # fmt: skip
    headers = ["stored", "added: API / direct", "no embedder", "hybrid", "hybrid, exact search",
               "hybrid incl. query embedding", "first query ms", "HNSW build s",
               "RSS lexical MB", "RSS vectors MB (peak)"]  # fmt: skip
    return "p50 / p95 ms per call; without query embedding unless stated\n\n" + table(headers, rows)


def compare_table(report: Mapping[str, Any]) -> str:
    entry = next((e for e in report["sizes"] if "compare" in e), None)
    if entry is None:
        return ""
    hybrid = HYBRID.name
    own = _get(entry, "latency", hybrid, "excluding_embedding", "p50_ms")
    own_live = _get(entry, "latency", hybrid, "including_embedding", "p50_ms")
    rows = []
    for name in (hybrid, SEMANTIC.name):
        q = entry["quality"].get(name, {})
        lat = entry["latency"].get(name, {}) if name == hybrid else {}
        rows.append([f"selfmem {name}", _f(_get(q, "all", "recall@5")),
                     _f(_get(q, "paraphrase", "recall@5")), _f(_get(q, "context", "recall@5")),
                     "n/a", _f(_get(lat, "excluding_embedding", "p50_ms"), 2),
                     _f(_get(lat, "excluding_embedding", "p95_ms"), 2),
                     _f(_get(lat, "including_embedding", "p50_ms"), 2),
                     "1.0" if name == hybrid else "", ""])  # fmt: skip
    for key, label in (("langgraph", "LangGraph InMemoryStore"),
                       ("llamaindex", "LlamaIndex VectorStoreIndex")):  # fmt: skip
        result = entry["compare"].get(key, {})
        p50 = _get(result, "excluding_embedding", "p50_ms")
        p50_live = _get(result, "including_embedding", "p50_ms")
        rows.append([label, _f(_get(result, "quality", "all", "recall@5")),
                     _f(_get(result, "quality", "paraphrase", "recall@5")),
                     _f(_get(result, "quality", "context", "recall@5")),
                     _f(result.get("build_s"), 1), _f(p50, 2),
                     _f(_get(result, "excluding_embedding", "p95_ms"), 2), _f(p50_live, 2),
                     f"{p50 / own:.1f}" if p50 and own else "n/a",
                     f"{p50_live / own_live:.1f}" if p50_live and own_live else "n/a"])  # fmt: skip
    headers = ["system", "recall@5", "paraphrase", "context", "build s", "p50 ms (excl.)",
               "p95 ms (excl.)", "p50 ms (incl.)", "p50 / selfmem (excl.)",
               "p50 / selfmem (incl.)"]  # fmt: skip
    return f"At {entry['compare']['items']:,} items:\n\n" + table(headers, rows)


def render(report: Mapping[str, Any], elapsed: float) -> str:
    info = report["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    first = report["sizes"][0]
    embed = report["embed_query"]
    load = (
        f"load average {info['load_average']} at the start, {report['load_average_at_end']} at end"
    )
    parts = [
        f"Machine: {info['cpu']}, {info['cpus']} CPUs, {info['memory_gb']} GB, "
        f"Python {info['python']}; {versions}; {load}; selfmem checkout {info['git']}",
        f"\n## Quality at {first['size']:,} stored episodes ({len(SEEDS)} seeds + fillers, "
        f"{len(QUERIES)} queries)\n",
        quality_table(first),
        "\n## Quality by store size\n",
        size_table(report),
        f"\n## Latency (limit {LATENCY_LIMIT}) and RSS\n",
        latency_table(report),
        f"\nMiniLM query embedding alone: p50 {embed['p50_ms']:.1f} ms, "
        f"p95 {embed['p95_ms']:.1f} ms",
        "\n## Side by side (same episodes, queries and MiniLM vectors)\n",
        compare_table(report),
        f"\n{'quick' if report.get('quick') else 'full'} run, {elapsed:.0f} s",
    ]
    return "\n".join(parts)
