"""Abandoned runs (stopped before they finished) are kept, listed and filterable, but teach
nothing: no pattern, heuristic, family or feedback count moves, and success statistics leave
them out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from selfmem import (
    ExecutionStep,
    OutcomeStatus,
    SelfLearningMemory,
    TaskContext,
    TaskOutcome,
)

from .helpers import cli_on

WEB = TaskContext(domain="web", language="python")
FIX = ("run_tests", "edit_file", "run_tests")


def fix_run(memory: SelfLearningMemory, n: int, tools: tuple[str, ...] = FIX) -> str:
    eid = memory.start_episode(f"Fix the failing login test (ticket {n})", WEB, "debugging")
    for tool in tools:
        memory.log_step(eid, ExecutionStep(tool=tool, observation=f"{tool} ok"))
    return eid


def learned(memory: SelfLearningMemory) -> dict[str, Any]:
    """Every learned count, by pattern id: what an abandoned run must not move."""
    return {
        p.id: p.model_dump(include={"support", "successes", "failures", "feedback_uses",
                                    "feedback_successes", "episode_ids", "confidence"})
        for p in memory.list_patterns(limit=1000)
    }  # fmt: skip


@pytest.fixture
def memory(tmp_path: Path) -> Any:
    with SelfLearningMemory.open(
        tmp_path / "mem", flush_interval_s=None, learn_inline=True
    ) as handle:
        for n in range(4):
            handle.complete_episode(fix_run(handle, n), TaskOutcome.success("passes"))
        yield handle


def test_an_abandoned_run_is_kept_listed_and_counted_apart(memory: SelfLearningMemory) -> None:
    before = memory.stats()
    eid = fix_run(memory, 9, ("run_tests", "delete_test"))
    done = memory.abandon_episode(eid, "cancelled by the user")
    assert done.outcome is not None and done.outcome.status is OutcomeStatus.ABANDONED
    assert done.outcome.summary() == "abandoned: cancelled by the user"
    assert done.reward is None and done.reflection is None  # no verdict to score
    assert [e.id for e in memory.list_episodes(outcome="abandoned")] == [eid]
    assert memory.get_episode(eid).steps[1].tool == "delete_test"
    stats = memory.stats()
    assert (stats.episodes, stats.abandoned) == (before.episodes + 1, 1)
    assert (stats.successes, stats.failures, stats.success_rate) == (4, 0, 1.0)
    assert "abandoned" in stats._repr_html_()
    assert "abandoned" in done._repr_html_()


def test_an_abandoned_run_changes_no_learned_count(memory: SelfLearningMemory) -> None:
    counts = learned(memory)
    assert counts  # the four runs taught a sequence
    used = [p.id for p in memory.list_patterns()]
    eid = fix_run(memory, 9, ("run_tests", "delete_test"))
    memory.record_feedback(eid, pattern_ids=used)  # applied on completion, if it teaches
    memory.abandon_episode(eid, "stream closed")
    memory.flush()
    assert learned(memory) == counts
    memory.record_feedback(eid, pattern_ids=used)  # after completion: ignored too
    assert learned(memory) == counts
    memory.delete_episode(eid)  # forgetting it takes nothing away
    assert learned(memory) == counts


def test_relearning_leaves_abandoned_runs_out(memory: SelfLearningMemory) -> None:
    counts = learned(memory)
    for n in range(3):
        memory.abandon_episode(fix_run(memory, 10 + n, ("run_tests", "delete_test")))
    assert memory.relearn() == 7  # every completed episode is read...
    assert learned(memory) == counts  # ...and the abandoned ones teach nothing


def test_retrieval_returns_an_abandoned_run_marked_as_such(memory: SelfLearningMemory) -> None:
    eid = fix_run(memory, 9, ("run_tests", "delete_test"))
    memory.abandon_episode(eid, "stream closed")
    result = memory.retrieve_relevant_context("Fix the failing login test", WEB, limit=10)
    assert eid in [s.episode.id for s in result.abandoned]
    assert eid not in [s.episode.id for s in result.successes + result.failures]
    text = result.render(max_tokens=800)
    assert "Stopped before finishing (no verdict):" in text
    assert "[abandoned: stream closed] via run_tests -> delete_test" in text
    assert "delete_test" not in text.split("Stopped before finishing")[0]  # not what worked


def test_the_cli_completes_lists_and_counts_an_abandoned_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = cli_on(tmp_path / "store", capsys, monkeypatch)

    eid = cli("episode", "start", "Rotate the keys").strip()
    cli("episode", "complete", eid, "--status", "abandoned", "--reason", "operator stopped it")
    (row,) = json.loads(cli("episode", "list", "--outcome", "abandoned", "--json"))
    assert row["id"] == eid
    shown = cli("episode", "show", eid)
    assert "abandoned: operator stopped it" in shown
    stats = json.loads(cli("stats", "--json"))
    assert (stats["abandoned"], stats["failures"], stats["successes"]) == (1, 0, 0)
