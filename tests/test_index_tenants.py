"""Namespaces share one store but never one index: an index loaded in bulk from the store
(first use after open, with or without its snapshot) holds only its own namespace's episodes."""

from __future__ import annotations

import shutil
from pathlib import Path

from selfmem import SelfLearningMemory, TaskContext

from .helpers import run_episode


def _ids(memory: SelfLearningMemory, query: str) -> set[str]:
    found = memory.retrieve_relevant_context(query, TaskContext(domain="web"), 10)
    return {hit.episode.id for hit in found.episodes}


def test_a_bulk_loaded_index_holds_only_its_own_namespace(tmp_path: Path) -> None:
    owned: dict[str, set[str]] = {"alpha": set(), "beta": set()}
    with SelfLearningMemory.open(tmp_path, namespace="alpha", flush_interval_s=None) as alpha:
        beta = alpha.scoped("beta")
        for n in range(6):
            owned["alpha"].add(run_episode(alpha, f"deploy docker service {n}", ["shell"]))
            owned["beta"].add(run_episode(beta, f"deploy docker service {n}", ["shell"]))
        alpha.flush()
    assert (tmp_path / "cache").is_dir()
    shutil.rmtree(tmp_path / "cache")  # no snapshot: the first reopen builds from the store
    for _ in range(2):  # the first reopen loads from the store, the second from the snapshot
        for name in ("alpha", "beta"):
            with SelfLearningMemory.open(tmp_path, namespace=name, flush_interval_s=None) as m:
                found = _ids(m, "deploy docker service")
                assert found, name
                assert found <= owned[name]
