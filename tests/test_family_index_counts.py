"""The family index is kept up to date run by run; it must match one built from scratch."""

from __future__ import annotations

import random

from benchmarks.synthetic import generate
from selfmem.learning.families import FamilyIndex
from selfmem.learning.learner import PatternLearner


def test_index_counted_run_by_run_scores_as_one_built_from_the_families() -> None:
    episodes, _ = generate(600, 3)
    learner = PatternLearner("ns")
    for episode in episodes:
        learner.observe(episode)
    for episode in random.Random(3).sample(episodes, 150):  # forgetting counts back down
        learner.forget(episode)
    counted = learner.families
    rebuilt = FamilyIndex(counted.min_similarity)
    for family in counted.families.values():
        rebuilt.add(family)
    assert len(counted.families) > 3
    for episode in episodes[::7]:
        assert counted.scores(episode) == rebuilt.scores(episode)
        assert counted.match(episode.task_description, episode.context, episode.task_type) == (
            rebuilt.match(episode.task_description, episode.context, episode.task_type)
        )
    for family in counted.families.values():
        assert counted.context_counts(family) == rebuilt.context_counts(family)
        assert counted.twin(family) == rebuilt.twin(family)
