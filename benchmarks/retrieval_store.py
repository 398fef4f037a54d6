"""The retrieval benchmark's store: which episodes, in what order, and how they get in."""

from __future__ import annotations

import inspect
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selfmem import ExecutionStep, MemoryConfig, SelfLearningMemory, TaskContext
from selfmem.embeddings import Embedder
from selfmem.learning import compute_reward
from selfmem.records.episodes import Episode, utc_now
from selfmem.retrieval.ranking import RankingWeights

from .progress import progress
from .retrieval_dataset import SEEDS, EpisodeSpec, fillers
from .retrieval_vectors import VectorBank

DIRECT_BATCH = 1_000  # episodes per transaction of the store's batch write


def episode_order(total: int, window: int, seed: int = 11) -> list[EpisodeSpec]:
    """Seeds spread at random over the first ``window`` positions, fillers around them."""
    filler_count = max(0, total - len(SEEDS))
    specs: list[EpisodeSpec] = list(fillers(filler_count))
    rng = random.Random(seed)
    slots = sorted(rng.sample(range(min(window, total)), len(SEEDS)))
    for slot, seed_spec in zip(slots, SEEDS, strict=True):
        specs.insert(slot, seed_spec)
    return specs[:total]


def supports(name: str, call: Callable[..., Any]) -> bool:
    return name in inspect.signature(call).parameters


def ann_threshold() -> int | None:
    """selfmem's default HNSW threshold (None if this selfmem has no ANN)."""
    value = getattr(MemoryConfig(), "ann_threshold", None)
    return int(value) if value is not None else None


def open_memory(
    path: Path, embedder: Embedder | None, weights: RankingWeights | None, *, exact: bool = False
) -> SelfLearningMemory:
    """Open the store with an embedder and ranking weights, on any selfmem that has them;
    ``exact=True`` turns the HNSW index off (exact vector search at any size)."""
    kwargs: dict[str, Any] = {}
    if exact and ann_threshold() is not None:
        kwargs["ann_threshold"] = 10**12
    if embedder is not None:
        if not supports("embedder", SelfLearningMemory.open):
            raise NotImplementedError("this selfmem has no embedder= (no semantic retrieval)")
        kwargs["embedder"] = embedder
    if weights is not None and supports("ranking", SelfLearningMemory.open):
        kwargs["ranking"] = weights
    memory = SelfLearningMemory.open(path, flush_interval_s=None, **kwargs)
    if weights is not None and "ranking" not in kwargs:
        memory._ranking = weights  # older open() without ranking=: what __init__ would do
    return memory


@dataclass(slots=True)
class Store:
    """The benchmark store: its directory, episode order and id -> seed key map."""

    path: Path
    order: list[EpisodeSpec]
    keys: dict[str, str] = field(default_factory=dict)  # episode id -> spec key
    size: int = 0
    builds: list[dict[str, float]] = field(default_factory=list)

    def grow(self, target: int, bank: VectorBank | None, public_api_max: int) -> dict[str, Any]:
        """Store episodes until ``target`` are in: through the public API up to
        ``public_api_max`` episodes, through the store protocol after that."""
        public = self.order[self.size : max(self.size, min(target, public_api_max))]
        direct = self.order[self.size + len(public) : target]
        build: dict[str, Any] = {"size": target, "public_api": len(public), "direct": len(direct)}
        with open_memory(self.path, bank, None) as memory:
            if public:
                progress(f"storing {len(public)} episodes through the public API")
                build["public_api_s"], build["drain_s"] = self._add_public(memory, public)
                build["public_api_per_s"] = len(public) / build["public_api_s"]
            if direct:
                progress(f"storing {len(direct)} episodes through the store protocol")
                build["direct_s"] = self._add_direct(memory, direct)
                build["direct_per_s"] = len(direct) / build["direct_s"]
            if bank is not None:
                build["reembed_s"], build["reembedded"] = _reembed(memory)
        self.size = target
        self.builds.append(build)
        return build

    def _add_public(
        self, memory: SelfLearningMemory, specs: Sequence[EpisodeSpec]
    ) -> tuple[float, float]:
        """``start_episode`` / ``log_step`` / ``complete_episode``; returns the seconds of
        the whole and of the final ``flush()`` (learner and embedding worker drained)."""
        start = time.perf_counter()
        for count, spec in enumerate(specs, 1):
            eid = memory.start_episode(spec.description, dict(spec.context), spec.task_type)
            for step in spec.steps:
                memory.log_step(eid, **step.as_fields())
            memory.complete_episode(eid, spec.task_outcome())
            self.keys[eid] = spec.key
            if count % 5_000 == 0:
                progress(f"  {count}/{len(specs)} in {time.perf_counter() - start:.0f} s")
        stored = time.perf_counter()
        memory.flush()
        end = time.perf_counter()
        return end - start, end - stored

    def _add_direct(self, memory: SelfLearningMemory, specs: Sequence[EpisodeSpec]) -> float:
        """The store's batch write (``import_episodes``, ``DIRECT_BATCH`` episodes a
        transaction) of completed episodes with a computed reward (no reflection, no
        learning); returns the seconds taken."""
        store = memory._core.store
        start = time.perf_counter()
        for first in range(0, len(specs), DIRECT_BATCH):
            batch = [
                completed_episode(spec, memory.namespace)
                for spec in specs[first : first + DIRECT_BATCH]
            ]
            store.import_episodes(batch)
            for episode, spec in zip(batch, specs[first : first + DIRECT_BATCH], strict=True):
                self.keys[episode.id] = spec.key
            if (first + DIRECT_BATCH) % 20_000 == 0:
                progress(
                    f"  {first + DIRECT_BATCH}/{len(specs)} in {time.perf_counter() - start:.0f} s"
                )
        return time.perf_counter() - start


def completed_episode(spec: EpisodeSpec, namespace: str) -> Episode:
    """The spec as a completed episode with a computed reward."""
    steps = [
        ExecutionStep(step_number=number, **step.as_fields())
        for number, step in enumerate(spec.steps, 1)
    ]
    episode = Episode(
        namespace=namespace,
        task_description=spec.description,
        context=TaskContext(**spec.context),
        task_type=spec.task_type,
        steps=steps,
    )
    episode.end_time, episode.outcome = utc_now(), spec.task_outcome()
    episode.reward = compute_reward(episode)
    return episode


def _reembed(memory: SelfLearningMemory) -> tuple[float, int]:
    """``reembed()``: vectors for every stored episode that has none (selfmem embeds
    lazily, in the background, once a process first queries); returns (seconds, count)."""
    start = time.perf_counter()
    memory.flush()
    reembed = getattr(memory, "reembed", None)
    count = reembed() if callable(reembed) else 0
    return time.perf_counter() - start, int(count)
