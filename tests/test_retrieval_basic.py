"""First-version retrieval: lexical + context + outcome, ranked, explained, rendered."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfmem import SelfLearningMemory, TaskContext, TaskOutcome, TaskType
from selfmem.retrieval.result import estimate_tokens

from .helpers import run_episode

PY = TaskContext(domain="web", language="python", framework="django", tags=["orm", "db"])
JS = TaskContext(domain="web", language="javascript", framework="react", tags=["ui"])


@pytest.fixture
def seeded(memory: SelfLearningMemory) -> dict[str, str]:
    return {
        "migration": run_episode(memory, "Add a database migration for the orders table",
                                 ["makemigrations", "migrate", "run_tests"], context=PY),
        "migration_failed": run_episode(memory, "Add a database migration for invoices",
                                        ["makemigrations", "migrate"], context=PY, fail_at=1,
                                        success=False),
        "react": run_episode(memory, "Build a React form for orders",
                             ["create_component", "npm_test"], context=JS),
        "unrelated": run_episode(memory, "Summarise quarterly sales", ["read_csv"],
                                 context=TaskContext(domain="finance")),
    }  # fmt: skip


def test_most_relevant_success_ranks_first_with_signals(
    memory: SelfLearningMemory, seeded: dict[str, str]
) -> None:
    result = memory.retrieve_relevant_context("database migration for the orders table", PY)
    top = result.episodes[0]
    assert top.episode.id == seeded["migration"]
    assert set(top.signals) == {"lexical", "context", "outcome", "recency"}
    assert top.signals["lexical"] == 1.0 and top.signals["context"] == 1.0
    assert "lexical 1.00" in top.explain()
    scores = [s.score for s in result.episodes]
    assert scores == sorted(scores, reverse=True)  # diversified picks, shown in score order
    assert seeded["unrelated"] not in [s.episode.id for s in result.episodes]


def test_failures_surface_as_what_to_avoid(
    memory: SelfLearningMemory, seeded: dict[str, str]
) -> None:
    result = memory.retrieve_relevant_context("database migration for invoices", PY)
    assert seeded["migration_failed"] in [s.episode.id for s in result.failures]
    text = result.render(max_tokens=500)
    assert "What to avoid:" in text and "migrate crashed" in text
    assert "Suggested tool sequence: makemigrations -> migrate -> run_tests" in text


def test_filters_success_only_and_task_type(
    memory: SelfLearningMemory, seeded: dict[str, str]
) -> None:
    result = memory.retrieve_relevant_context("database migration", PY, success_only=True)
    assert result.failures == [] and result.successes
    none = memory.retrieve_relevant_context("database migration", PY, task_type=TaskType.TESTING)
    assert none.episodes == [] and len(none) == 0 and none.render() == ""


def test_a_context_match_alone_is_not_evidence(
    memory: SelfLearningMemory, seeded: dict[str, str]
) -> None:
    """Sharing the domain says nothing about the task: without a shared term (or semantic
    similarity) nothing is served."""
    assert memory.retrieve_relevant_context("zzz qqq", TaskContext(domain="finance")).episodes == []
    found = memory.retrieve_relevant_context("quarterly numbers", TaskContext(domain="finance"))
    assert [s.episode.id for s in found.episodes] == [seeded["unrelated"]]
    assert found.episodes[0].signals["lexical"] > 0


def test_render_respects_the_token_budget(
    memory: SelfLearningMemory, seeded: dict[str, str]
) -> None:
    result = memory.retrieve_relevant_context("orders", PY, limit=10)
    full = result.render(max_tokens=10_000)
    short = result.render(max_tokens=40)
    assert estimate_tokens(short) <= 40 < estimate_tokens(full)
    assert full.startswith("Relevant past experience:")
    assert result.render(max_tokens=3) == ""


def test_limit_is_validated(memory: SelfLearningMemory) -> None:
    from selfmem import InvalidInputError

    with pytest.raises(InvalidInputError, match="limit"):
        memory.retrieve_relevant_context("x", limit=0)


def test_after_deleting_one_of_two_matching_episodes_the_other_is_still_found(
    tmp_path: Path,
) -> None:
    """Deleted rows stay in the postings until the index is rebuilt; they must not count in a
    term's document frequency (two matches, one deleted, one episode left: the idf stays
    positive)."""
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        ids = []
        for text in ("Rotate the gateway signing keys", "Rotate the database signing keys"):
            eid = memory.start_episode(text)
            memory.log_step(eid, tool="rotate_keys", observation="ok")
            memory.complete_episode(eid, TaskOutcome.success("rotated"))
            ids.append(eid)
        memory.delete_episode(ids[0])
        found = memory.retrieve_relevant_context("rotate the signing keys").episodes
        assert [s.episode.id for s in found] == [ids[1]]
