"""Fixtures of the LangChain integration tests: a real memory on disk and real tools."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.tools import BaseTool, StructuredTool, ToolException, tool

from selfmem import SelfLearningMemory


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[SelfLearningMemory]:
    """A libSQL + LMDB memory in a temporary directory that learns inside
    ``complete_episode`` (no background learning to wait for)."""
    with SelfLearningMemory.open(tmp_path / "mem", learn_inline=True) as opened:
        yield opened


_DATASETS = {
    "sales": "region,amount\nnorth,120\nsouth,80\nnorth,40\n",
    "visits": "page,count\nhome,10\nabout,3\n",
}


@tool
def fetch_data(dataset: str) -> str:
    """Fetch a CSV dataset by name."""
    if dataset not in _DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}")
    return _DATASETS[dataset]


@tool
def clean_data(csv: str) -> str:
    """Drop blank lines from a CSV text."""
    return "\n".join(line for line in csv.splitlines() if line.strip())


@tool
def summarize(csv: str, column: str) -> str:
    """Sum a numeric column of a CSV text."""
    header, *rows = csv.strip().splitlines()
    index = header.split(",").index(column)
    return f"total {column} = {sum(float(row.split(',')[index]) for row in rows):g}"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def flaky_service(request: str) -> str:
    """A service that always fails."""
    raise RuntimeError(f"service unavailable for {request}")


def _parse(text: str) -> str:
    raise ToolException(f"cannot parse {text!r}")


#: A parse failure is reported back to the model as an error ``ToolMessage``.
strict_parser = StructuredTool.from_function(
    _parse, name="strict_parser", description="Parse text.", handle_tool_error=True
)


@pytest.fixture
def tools() -> list[BaseTool]:
    return [fetch_data, clean_data, summarize, add, flaky_service, strict_parser]
