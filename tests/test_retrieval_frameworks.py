"""The side-by-side retrieval benchmark's mem0 arm without mem0 installed: one skip line,
the other arms still run, and the table shows the skip (benchmarks/retrieval_frameworks.py)."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from benchmarks import retrieval_frameworks as frameworks
from benchmarks.retrieval_dataset import SEEDS, EpisodeSpec
from benchmarks.retrieval_variants import HYBRID


@dataclass
class _Store:
    order: Sequence[EpisodeSpec]
    size: int


def _without(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        return None if name == missing else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_mem0_arm_is_skipped_with_one_line_and_the_others_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _without(monkeypatch, "mem0")
    ran: list[int] = []

    def other(docs: list[tuple[str, str]], bank: Any, repeats: int) -> dict[str, Any]:
        ran.append(len(docs))
        return {"build_s": 0.5, "rss_after_mb": None}

    def mem0(docs: list[tuple[str, str]], bank: Any, repeats: int) -> dict[str, Any]:
        raise AssertionError("the mem0 arm ran without mem0ai")

    monkeypatch.setattr(frameworks, "ARMS", (("langgraph", "LangGraph", other),
                                             ("mem0", "mem0", mem0)))  # fmt: skip
    found = frameworks.compare(_Store(SEEDS[:5], 5), bank=None, repeats=1)  # type: ignore[arg-type]
    assert ran == [5]
    assert found["mem0"] == {"skipped": "skipped: mem0ai not installed"}
    lines = [line for line in capsys.readouterr().err.splitlines() if "mem0" in line]
    assert lines == ["[bench] mem0: skipped: mem0ai not installed"]


def test_missing_faiss_is_named_when_mem0ai_is_there(monkeypatch: pytest.MonkeyPatch) -> None:
    present = {"mem0", "langchain"}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: name if name in present else None)
    reason = frameworks.mem0_missing()
    assert reason is not None and "faiss-cpu" in reason


def test_table_shows_the_skip_and_the_ratios_to_selfmem() -> None:
    timing = {"excluding_embedding": {"p50_ms": 2.0, "p95_ms": 3.0},
              "including_embedding": {"p50_ms": 12.0, "p95_ms": 14.0}}  # fmt: skip
    quality = {"all": {"recall@5": 0.9, "mrr": 0.8, "ndcg@10": 0.85}}
    arm = {"build_s": 4.0, "quality": quality, "rss_added_mb": 50.0,
           "excluding_embedding": {"p50_ms": 100.0, "p95_ms": 110.0},
           "including_embedding": {"p50_ms": 120.0, "p95_ms": 130.0}}  # fmt: skip
    report = {"sizes": [{
        "size": 1_000, "quality": {HYBRID.name: quality}, "latency": {HYBRID.name: timing},
        "build": {"public_api_s": 3.0}, "rss": {"vectors": {"after_queries_mb": 80.0}},
        "compare": {"items": 1_000, "langgraph": arm, "llamaindex": arm,
                    "mem0": {"skipped": frameworks.MEM0_MISSING}},
    }]}  # fmt: skip
    text = frameworks.side_by_side(report)
    mem0_row = next(line for line in text.splitlines() if line.startswith("| mem0"))
    assert frameworks.MEM0_MISSING in mem0_row
    langgraph_row = next(line for line in text.splitlines() if line.startswith("| LangGraph"))
    cells = [cell.strip() for cell in langgraph_row.strip("|").split("|")]
    assert cells[-2:] == ["50.0", "10.0"]  # 100 / 2 ms and 120 / 12 ms
    assert "+50 (added)" in cells
