"""Small helpers shared by tests."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from selfmem import ExecutionStep, SelfLearningMemory, TaskContext, TaskOutcome, ToolSequence


def run_episode(
    memory: SelfLearningMemory,
    description: str,
    tools: list[str],
    *,
    context: TaskContext | None = None,
    fail_at: int | None = None,
    success: bool = True,
) -> str:
    """Record one episode with the given tool calls; returns its id."""
    eid = memory.start_episode(description, context or TaskContext(domain="web"))
    for index, tool in enumerate(tools):
        if index == fail_at:
            memory.log_step(eid, ExecutionStep(tool=tool, error=f"{tool} crashed"))
        else:
            memory.log_step(eid, ExecutionStep(tool=tool, observation=f"{tool} ok"))
    outcome = TaskOutcome.success("done") if success else TaskOutcome.failure("did not work")
    memory.complete_episode(eid, outcome)
    return eid


def learned_summary(memory: SelfLearningMemory) -> set[tuple[str, str, int, int]]:
    """(kind, key, support, successes) of every learned pattern, with each task family named by
    its tools: a family is keyed by the episode that started it, which relearning without a
    deleted episode may name differently."""
    patterns = memory.list_patterns(include_unserved=True, limit=10_000)
    names = {p.key: "+".join(p.tools) for p in patterns if isinstance(p, ToolSequence)}
    found = set()
    for p in patterns:
        family, _, rest = p.key.partition("|")
        key = f"{names[family]}|{rest}" if family in names else p.key
        found.add((p.kind.value, key, p.support, p.successes))
    return found


def cli_on(
    store: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., str]:
    """``cli("episode", "list")`` runs the ``selfmem`` command on ``store`` (no environment
    settings, stdin not a terminal), asserts it exited 0 and returns its stdout."""
    from selfmem.cli import main

    for name in ("SELFMEM_PATH", "SELFMEM_NAMESPACE", "SELFMEM_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    def cli(*args: str) -> str:
        code = main(["--path", str(store), *args])
        out, err = capsys.readouterr()
        assert code == 0, err
        return out

    return cli
