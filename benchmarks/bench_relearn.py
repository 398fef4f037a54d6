"""``python -m benchmarks.bench_relearn [N]``: time ``relearn()`` over N stored episodes.

The episodes come from the planted-truth generator (``benchmarks.synthetic``) and are written
straight through the store protocol (loading is not what is measured), then
``SelfLearningMemory.relearn()`` rebuilds every pattern and heuristic from them.
"""

from __future__ import annotations

import sys
import tempfile
import time

from selfmem import SelfLearningMemory

from .synthetic import generate


def main(n_episodes: int = 10_000) -> None:
    episodes, _ = generate(n_episodes, 1)
    with (
        tempfile.TemporaryDirectory() as root,
        SelfLearningMemory.open(root, flush_interval_s=None) as memory,
    ):
        store = memory._core.store
        started = time.perf_counter()
        for episode in episodes:
            episode = episode.model_copy(update={"namespace": memory.namespace})
            header = episode.model_copy(update={"steps": [], "end_time": None, "outcome": None})
            store.create_episode(header)
            store.finish_episode(episode, episode.steps)
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        seen = memory.relearn()
        took = time.perf_counter() - started
        served = len(memory.list_patterns(limit=10_000))
    print(f"stored {n_episodes} episodes in {loaded:.1f} s")
    print(
        f"relearn() over {seen} episodes: {took:.2f} s (target <= 10 s); {served} patterns served"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
