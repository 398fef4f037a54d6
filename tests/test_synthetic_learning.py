"""The learner recovers the patterns planted by the synthetic generator (benchmarks/synthetic.py).

A fast guard of learning accuracy: the full learning curve, per-kind numbers and the cost
measurement are in ``python -m benchmarks.bench_learning`` and docs/learning_accuracy.md.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from benchmarks.bench_learning import Score, evaluate
from benchmarks.synthetic import FAMILIES, NO_RECOVERY, error_class, generate
from selfmem.learning.learner import PatternLearner
from selfmem.records.learned import PatternKind

EPISODES = 500  # tested comparisons need enough runs in each compared group
SEEDS = (1, 2, 3)


def _learned(seed: int) -> tuple[Score, Score]:
    episodes, truth = generate(EPISODES, seed)
    learner = PatternLearner("default")
    for episode in episodes:
        learner.observe(episode)
    result = evaluate(truth, learner.patterns(), seed=seed, episodes=EPISODES)
    return result.all_patterns, result.heuristics


def test_generation_is_seeded_complete_and_rewarded() -> None:
    start = datetime.now(UTC) - timedelta(days=1)
    first, truth = generate(40, seed=7, start=start)
    again, _ = generate(40, seed=7, start=start)
    assert first == again
    assert generate(40, seed=8, start=start)[0] != first
    assert all(e.is_complete and e.outcome and e.reward and e.steps for e in first)
    assert [e.start_time for e in first] == sorted(e.start_time for e in first)
    assert len(truth.patterns) == len(truth.heuristics) == 17


def test_planted_errors_vary_in_text_but_normalize_to_the_truth_class() -> None:
    episodes, truth = generate(400, seed=11)
    planted = {
        plant.tool: error_class(plant.message)
        for family in FAMILIES
        for plant in (family.error, family.context)
        if plant is not None
    }
    messages: dict[str, set[str]] = {tool: set() for tool in planted}
    for step in (s for e in episodes for s in e.steps if s.error and s.tool in planted):
        messages[step.tool].add(step.error or "")
    facts = {f.key for f in truth.patterns if f.kind is PatternKind.ERROR_RECOVERY}
    for tool, cls in planted.items():
        assert len(messages[tool]) > 3, tool  # the raw text varies ...
        assert {f"{tool}|{cls}"} <= facts  # ... the class is the one in the truth
    unrecovered = [f for f in truth.patterns if f.conclusion == (NO_RECOVERY,)]
    assert len(unrecovered) == 2  # one per context effect, implied rather than planted
    assert all("implied" in f.why for f in unrecovered)


def test_learner_recovers_the_planted_patterns_and_heuristics() -> None:
    patterns, heuristics = Score(0, 0, 0), Score(0, 0, 0)
    for seed in SEEDS:
        learned_patterns, learned_heuristics = _learned(seed)
        patterns += learned_patterns
        heuristics += learned_heuristics
    assert patterns.precision >= 0.9, patterns
    assert patterns.recall >= 0.9, patterns
    assert heuristics.precision >= 0.9, heuristics
    assert heuristics.recall >= 0.9, heuristics
