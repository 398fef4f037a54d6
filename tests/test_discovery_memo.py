"""Comparisons are tested again only when their counts change: what is served after every
episode equals what a learner that saw the same episodes at once serves."""

from __future__ import annotations

from benchmarks.bench_planted_ops import _episode
from benchmarks.planted_ops import generate
from selfmem.learning import PatternLearner


def served(learner: PatternLearner) -> list[tuple[str, object, object, object]]:
    return [
        (p.id, getattr(p, "best", None), getattr(p, "worst", None), getattr(p, "p_value", None))
        for p in learner.patterns()
    ]


def test_served_patterns_do_not_depend_on_how_often_they_were_asked_for() -> None:
    episodes = [_episode(g) for g in generate(240, seed=3)]
    asked_every_time = PatternLearner("default")
    for index, episode in enumerate(episodes, start=1):
        asked_every_time.observe(episode)
        now = served(asked_every_time)
        if index % 60 == 0:
            asked_once = PatternLearner("default")
            for earlier in episodes[:index]:
                asked_once.observe(earlier)
            assert now == served(asked_once)
    # the comparison here is one a memo could get wrong: a served decision point
    assert any(p.kind.value == "decision_point" for p in asked_every_time.patterns())
