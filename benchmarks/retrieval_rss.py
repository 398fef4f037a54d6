"""RSS of a fresh process that opens the benchmark store and queries it, never importing torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .retrieval_dataset import QUERIES
from .retrieval_store import Store
from .retrieval_vectors import VectorBank

_RSS_CHILD = r"""
import json, sys
import numpy as np

def rss():
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            fields[name] = value.split()
    return int(fields["VmRSS"][0]) / 1024, int(fields["VmHWM"][0]) / 1024

path, queries_file, vectors_file, mode, model_id = sys.argv[1:6]
queries = json.loads(open(queries_file).read())
vectors = np.load(vectors_file)
by_text = {q["text"]: vectors[i] for i, q in enumerate(queries)}

class StoredVectors:
    # The model's id and size, and the queries' precomputed vectors: no model is loaded.
    model_id = model_id
    dim = int(vectors.shape[1])
    misses = 0
    def embed(self, texts):
        rows = []
        for text in texts:
            if text not in by_text:
                StoredVectors.misses += 1
            rows.append(by_text.get(text, np.zeros(self.dim, np.float32)))
        return np.stack(rows).astype(np.float32)

import selfmem
base, _ = rss()
kwargs = {"flush_interval_s": None}
if mode == "vectors":
    kwargs["embedder"] = StoredVectors()
memory = selfmem.SelfLearningMemory.open(path, **kwargs)
opened, _ = rss()
import inspect, time
engine = getattr(memory._core, "retrieval", None)
index = engine.index(memory.namespace) if engine is not None else None
ann = getattr(index, "ann", None)
while ann is not None and not ann.ready:
    time.sleep(0.05)
loaded, _ = rss()
takes_vector = "query_vector" in inspect.signature(memory.retrieve_relevant_context).parameters
returned = 0
for i, q in enumerate(queries):
    extra = {"query_vector": vectors[i]} if mode == "vectors" and takes_vector else {}
    returned += len(memory.retrieve_relevant_context(q["text"], q["context"], 5, **extra).episodes)
after, peak = rss()
memory.close()
print(json.dumps({"import_mb": base, "open_mb": opened, "index_loaded_mb": loaded,
                  "ann": ann is not None, "after_queries_mb": after,
                  "peak_mb": peak, "returned": returned, "misses": StoredVectors.misses,
                  "torch_loaded": "torch" in sys.modules,
                  "sentence_transformers_loaded": "sentence_transformers" in sys.modules}))
"""


def rss(store: Store, bank: VectorBank, workdir: Path) -> dict[str, Any]:
    if not Path("/proc/self/status").exists():
        return {}
    queries_file, vectors_file = workdir / "queries.json", workdir / "query_vectors.npy"
    payload = [{"text": q.text, "context": q.context} for q in QUERIES]
    queries_file.write_text(json.dumps(payload))
    np.save(vectors_file, np.stack([bank.vector(q.text) for q in QUERIES]))
    found: dict[str, Any] = {}
    for mode in ("lexical", "vectors"):
        args = [str(store.path), str(queries_file), str(vectors_file), mode, bank.model_id]
        done = subprocess.run(
            [sys.executable, "-c", _RSS_CHILD, *args], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            found[mode] = {"error": done.stderr.strip().splitlines()[-1:]}
            continue
        found[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    return found
