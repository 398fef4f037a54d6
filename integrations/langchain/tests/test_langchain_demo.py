"""The demo runs offline in a few seconds and shows what it learned."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_selfmem.demo import main

from selfmem import SelfLearningMemory


def test_demo_learns_and_injects(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out

    assert "Summarize the churn dataset      -> failed: no dataset named 'churn'" in out
    assert out.count("success  reward") == 4 and out.count("failure  reward") == 1
    assert "[tool_sequence]" in out and "follow fetch_dataset -> clean_rows" in out
    prompt = out.split("System prompt the model received:")[1].split("Answer:")[0]
    assert "| Suggested tool sequence: fetch_dataset -> clean_rows -> summarize_column" in prompt
    assert "| What to avoid:" in prompt and "churn" in prompt
    assert "Answer: eur: total 55, mean 27.5" in out
    assert "(temporary memory removed)" in out


def test_demo_keeps_its_memory_with_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--path", str(tmp_path / "demo")]) == 0
    assert f"Memory kept in {tmp_path / 'demo'}" in capsys.readouterr().out
    with SelfLearningMemory.open(tmp_path / "demo") as memory:
        stats = memory.stats()
        assert (stats.episodes, stats.successes, stats.failures) == (6, 5, 1)
