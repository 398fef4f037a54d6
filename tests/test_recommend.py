"""recommend_patterns: a new task gets the sequence of the family it belongs to, or, when its
nearest successful runs agree on a more specific one, that sequence first."""

from __future__ import annotations

from pathlib import Path

from selfmem import SelfLearningMemory, TaskContext, TaskOutcome, ToolSequence
from selfmem.config import LearningConfig
from selfmem.learning.sequences import neighbour_sequence

from .helpers import run_episode

TRAVEL = TaskContext(domain="travel")
CITIES = ["Paris", "Rome", "Oslo", "Lima", "Kyiv", "Doha"]


def _book(memory: SelfLearningMemory, city: str, *, with_reviews: bool) -> None:
    if with_reviews:
        text = f"Find hotels in {city} and read the guest reviews of the best two"
        tools = ["search_location", "search_hotels", "get_reviews", "get_reviews"]
    else:
        text = f"Find hotels in {city} for next weekend"
        tools = ["search_location", "search_hotels"]
    eid = memory.start_episode(text, TRAVEL)
    for index, tool in enumerate(tools):
        memory.log_step(eid, tool=tool, parameters={"n": index}, observation="ok")
    memory.complete_episode(eid, TaskOutcome.success("done"))


def test_the_nearest_runs_sequence_goes_first_when_most_of_them_followed_it(
    tmp_path: Path,
) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for city in CITIES:
            _book(memory, city, with_reviews=False)
            _book(memory, city, with_reviews=True)
        task = "Find hotels in Cairo and read the guest reviews of the best two"
        top = memory.recommend_patterns(task, TRAVEL)[0]
        assert isinstance(top.pattern, ToolSequence)
        # repeated calls on other arguments are steps of the procedure too
        assert top.pattern.tools == [
            "search_location",
            "search_hotels",
            "get_reviews",
            "get_reviews",
        ]
        assert top.pattern.successes >= 3
        assert "most similar successful runs" in top.pattern.describe()
        other = memory.recommend_patterns("Find hotels in Cairo for next weekend", TRAVEL)[0]
        assert isinstance(other.pattern, ToolSequence)
        assert other.pattern.tools == ["search_location", "search_hotels"]


def test_no_neighbour_sequence_without_enough_agreeing_successful_runs(tmp_path: Path) -> None:
    cfg = LearningConfig()
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for tools in (["a", "b"], ["c", "d"], ["e", "f"]):
            run_episode(memory, "Tidy the repository", tools, context=TRAVEL)
        runs = memory.list_episodes(limit=10)
        assert neighbour_sequence("default", "Tidy the repository", runs, cfg) is None
        assert neighbour_sequence("default", "Tidy the repository", runs[:0], cfg) is None
