"""MiniLM vectors for the retrieval benchmark, each text embedded once and shared by every
system measured (selfmem, LangGraph, LlamaIndex)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from selfmem import TaskContext
from selfmem.embeddings import Embedder
from selfmem.records.episodes import Episode

from .progress import progress
from .retrieval_dataset import EpisodeSpec

F32 = npt.NDArray[np.float32]


class VectorBank:
    """An :class:`~selfmem.embeddings.Embedder` that computes each text once.

    Every vector comes from the wrapped MiniLM embedder; the bank keeps them, so the
    store, LangGraph and LlamaIndex all see the same vectors and the build is not slowed by
    one-at-a-time embedding. Texts in ``live`` are always embedded by the model (to time
    retrieval *including* the query embedding).
    """

    def __init__(self, model: Embedder) -> None:
        self._model = model
        self._vectors: dict[str, F32] = {}
        self.live: frozenset[str] = frozenset()
        self.model_texts = 0

    @property
    def model_id(self) -> str:
        return self._model.model_id

    @property
    def dim(self) -> int:
        return self._model.dim

    def __contains__(self, text: str) -> bool:
        return text in self._vectors

    def vector(self, text: str) -> F32:
        return self._vectors[text] if text in self._vectors else self.embed([text])[0]

    def embed(self, texts: Sequence[str]) -> F32:
        wanted = [t for t in dict.fromkeys(texts) if t in self.live or t not in self._vectors]
        if wanted:
            fresh = self._model.embed(wanted)
            self.model_texts += len(wanted)
            self._vectors.update(zip(wanted, fresh, strict=True))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts]).astype(np.float32, copy=False)

    def warm(self, texts: Iterable[str], chunk: int = 4_096) -> float:
        """Embed every new text in large batches; returns the seconds spent."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        start = time.perf_counter()
        for begin in range(0, len(todo), chunk):
            self.embed(todo[begin : begin + chunk])
            if len(todo) > chunk:
                progress(f"  embedded {min(begin + chunk, len(todo))}/{len(todo)} texts")
        return time.perf_counter() - start

    def _cache_path(self, cache_dir: str) -> Path:
        digest = hashlib.sha1(self.model_id.encode()).hexdigest()[:10]
        return Path(cache_dir) / f"minilm-{digest}"

    def load(self, cache_dir: str) -> int:
        base = self._cache_path(cache_dir)
        if not base.with_suffix(".npy").exists():
            return 0
        texts = json.loads(base.with_suffix(".json").read_text())
        matrix = np.load(base.with_suffix(".npy"))
        self._vectors.update(zip(texts, matrix, strict=True))
        return len(texts)

    def save(self, cache_dir: str) -> None:
        base = self._cache_path(cache_dir)
        base.parent.mkdir(parents=True, exist_ok=True)
        texts = list(self._vectors)
        np.save(base.with_suffix(".npy"), np.stack([self._vectors[t] for t in texts]))
        base.with_suffix(".json").write_text(json.dumps(texts))


def embedding_text(spec: EpisodeSpec) -> str:
    """The text selfmem embeds for an episode (its own function when it has one)."""
    try:
        from selfmem.engine.retrieval import embedding_text as selfmem_text
    except ImportError:
        return spec.description
    episode = Episode(task_description=spec.description, context=TaskContext(**spec.context))
    return selfmem_text(episode)
