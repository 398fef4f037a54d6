"""Two handles on one store learn like two processes: each has its own learner, and
neither overwrites what the other counted; each serves what the other learned."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from selfmem import SelfLearningMemory, TaskContext
from selfmem.records.learned import AnyPattern, ContextPattern, DecisionPoint, ToolSequence

from .helpers import run_episode
from .sqld_server import SqldServer

DB = TaskContext(domain="database", language="sql")


@pytest.fixture(params=["embedded", "server"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "server":
        server: SqldServer = request.getfixturevalue("sqld")
        return server.url
    return str(tmp_path / "shared")


@pytest.fixture
def pair(location: str, namespace: str) -> Iterator[tuple[SelfLearningMemory, SelfLearningMemory]]:
    # the change log read before each read, so each handle sees the other's learning at once
    options = {"namespace": namespace, "learn_inline": True, "flush_interval_s": None,
               "change_poll_interval_s": 0}  # fmt: skip
    with (
        SelfLearningMemory.open(location, cache=False, **options) as first,
        SelfLearningMemory.open(location, cache=False, **options) as second,
    ):
        yield first, second


def test_interleaved_learners_count_every_episode_once(
    pair: tuple[SelfLearningMemory, SelfLearningMemory],
) -> None:
    first = pair[0]
    for index in range(6):
        for memory in pair:
            run_episode(memory, f"Deploy the web service {index}", ["build", "test", "deploy"])
    support = _support(first._core.store.load_patterns(first.namespace))
    assert support["after build"] == 12  # the decision point after "build"
    assert support["domain=web|deploy"] == 12
    assert support["family"] == 12  # one task family, every run counted once
    # both learners end up with the same counts as the store
    for memory in pair:
        learned = _support(memory.list_patterns(include_unserved=True))
        assert learned["after build"] == 12


def _support(patterns: Iterable[AnyPattern]) -> dict[str, int]:
    found: dict[str, int] = {}
    for p in patterns:
        if isinstance(p, DecisionPoint):
            found[f"after {p.after_tool}"] = p.support
        elif isinstance(p, ContextPattern) and p.measure == "outcome":
            found[f"{p.feature}|{p.tool}"] = p.support
        elif isinstance(p, ToolSequence):
            found["family"] = found.get("family", 0) + p.members.n
    return found


def test_a_handle_serves_patterns_another_one_learned(
    pair: tuple[SelfLearningMemory, SelfLearningMemory],
) -> None:
    first, second = pair
    before = second.retrieve_relevant_context("migrate the database schema", DB)
    assert not before.patterns  # its learner is loaded, and knows nothing yet
    for index in range(6):
        run_episode(first, f"Migrate the database schema {index}",
                    ["dump", "migrate", "verify"], context=DB)  # fmt: skip
    after = second.retrieve_relevant_context("migrate the database schema", DB)
    sequences = [s.pattern for s in after.patterns if isinstance(s.pattern, ToolSequence)]
    assert sequences and list(sequences[0].tools) == ["dump", "migrate", "verify"]
