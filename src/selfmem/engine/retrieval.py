"""The orchestrator's retrieval half: one in-process index per namespace, and embeddings.

Indexes are built lazily from the store's index rows on the first query of a namespace and
kept current as episodes complete or are deleted. With an embedder, episode vectors are
computed in batches by a background worker, stored in libSQL (float32 bytes, tagged by
:func:`vector_tag` with the model id and the version of the embedded text) and attached to
the index; vectors of another model or text version are ignored and the episodes
re-embedded, so changing either triggers a re-embed. With ``snapshots``, an index
is restored from its sealed copy in the hot cache plus the changes logged since
(:mod:`.retrieval.snapshot`), and its HNSW graph is read back from beside the cache when it
is current (:mod:`.ann_files`) instead of being rebuilt.
"""

from __future__ import annotations

import ctypes
import logging
import queue
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import numpy.typing as npt

from ..embeddings.base import Embedder
from ..errors import EmbeddingError, StorageError
from ..records.episodes import Episode
from ..records.index_rows import index_row
from ..retrieval.ann import ann_available
from ..retrieval.index import EpisodeIndex
from ..storage.base import EpisodeStore
from .snapshot import IndexSnapshots

__all__ = ["EMBEDDING_TEXT_VERSION", "RetrievalEngine", "embedding_text", "vector_tag"]

logger = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
_BATCH = 64
_QUERY_CACHE = 256
_STOP = ("", "")


#: Version of :func:`embedding_text`; part of every stored vector's tag, so vectors of an
#: older text are recomputed. 1 was "task | domain D | language L"; 2 is the task alone.
EMBEDDING_TEXT_VERSION = 2


def embedding_text(episode: Episode) -> str:
    """What an episode's vector represents: its task description, the same kind of text a
    query is (the context is a separate signal; mixed into the text it pulled episodes of
    one context together and narrowed the gap between the right task and the others)."""
    return episode.task_description


def vector_tag(model_id: str) -> str:
    """The tag stored episode vectors carry: the model and the version of the text.
    Version 1 vectors were tagged with the bare model id."""
    return f"{model_id}#text{EMBEDDING_TEXT_VERSION}"


def _release_freed_memory() -> None:
    """Give the heap pages a load freed back to the system (glibc only). Loading an index
    allocates and frees many mid-sized buffers (vectors read from the store, snapshot parts,
    the saved graph); glibc keeps them, which at 100,000 vectors left ~160 MB of RSS that
    nothing used."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to trim
        return


class RetrievalEngine:
    """Indexes per namespace plus the embedding worker, shared by every handle."""

    def __init__(
        self,
        store: EpisodeStore,
        embedder: Embedder | None,
        ann_threshold: int = 20_000,
        snapshots: IndexSnapshots | None = None,
    ) -> None:
        self._store = store
        self._snapshots = snapshots
        #: Saved HNSW graphs (beside the cache; None without snapshots or a cache folder).
        self.ann_files = snapshots.ann_files() if snapshots is not None else None
        self._ann_saved: dict[str, tuple[int, int]] = {}  # graph and its changes when saved
        self._ann_save_lock = threading.Lock()
        self._closing = False
        self._savers: dict[str, threading.Thread] = {}  # per namespace, at most one
        self._again: set[str] = set()  # namespaces changed while their snapshot was written
        self._unsaved: set[str] = set()  # loaded from the store, no snapshot written yet
        self.ann_threshold = ann_threshold
        self.embedder = embedder
        self._indexes: dict[str, EpisodeIndex] = {}
        self._lock = threading.Lock()
        self._queries: OrderedDict[str, F32] = OrderedDict()
        self._jobs: queue.Queue[tuple[str, str]] = queue.Queue()
        self._texts: dict[tuple[str, str], str] = {}
        self._worker: threading.Thread | None = None
        if embedder is not None:
            self._worker = threading.Thread(target=self._run, name="selfmem-embedder", daemon=True)
            self._worker.start()

    # -- indexes ----------------------------------------------------------------------------

    def index(self, namespace: str, *, embed_missing: bool = True) -> EpisodeIndex:
        with self._lock:
            found = self._indexes.get(namespace)
            if found is not None:
                return found
            snapshots, model = self._snapshots, self._model
            if self.ann_files is not None and model is not None:
                self.ann_files.begin(namespace)
            found = snapshots.restore(namespace, model) if snapshots else None
            restored = found is not None
            if found is None:
                if snapshots is not None:
                    snapshots.begin_load(namespace)
                found = EpisodeIndex()
                found.load(self._store.index_rows(namespace))
            self._indexes[namespace] = found
        if restored:
            self._start_vectors(namespace, found, embed_missing)
            _release_freed_memory()
            return found
        if self.embedder is not None:
            self._attach_stored_vectors(namespace, found, embed_missing)
        if snapshots is not None:
            with self._lock:
                self._unsaved.add(namespace)  # saved once the query that loaded it is done
        _release_freed_memory()
        return found

    @contextmanager
    def querying(self, namespace: str) -> Iterator[EpisodeIndex]:
        """The namespace's index, for one query. If the query loaded it from the store, its
        first snapshot is written in the background once the query is done: writing it in
        the query would add 2 s to a first answer at a million episodes, and exporting the
        index in another thread meanwhile would hold the index's lock the query needs."""
        try:
            yield self.index(namespace)
        finally:
            with self._lock:
                unsaved = namespace in self._unsaved
                self._unsaved.discard(namespace)
                index = self._indexes.get(namespace)
            if unsaved and index is not None:
                self._save_in_background(namespace, index)

    @property
    def _model(self) -> str | None:
        """The tag of this engine's episode vectors (None without an embedder)."""
        return vector_tag(self.embedder.model_id) if self.embedder is not None else None

    def _changed(self, namespace: str, index: EpisodeIndex) -> None:
        """Count a change; every ``save_every`` changes, snapshot the index in a background
        thread (a snapshot of a large index takes a while; completions must not wait)."""
        snapshots = self._snapshots
        if snapshots is None or not snapshots.note(namespace):
            return
        self._save_in_background(namespace, index)

    def _save_in_background(self, namespace: str, index: EpisodeIndex) -> None:
        """Snapshot the index in a thread. While one of the namespace is being written, it
        is asked to write once more when done, so the last change is never left out."""
        with self._lock:
            if namespace in self._savers:
                self._again.add(namespace)
                return
            saver = threading.Thread(
                target=self._saving, args=(namespace, index),
                name="selfmem-snapshot", daemon=True,
            )  # fmt: skip
            self._savers[namespace] = saver
        saver.start()

    def _saving(self, namespace: str, index: EpisodeIndex) -> None:
        snapshots = self._snapshots
        assert snapshots is not None
        while True:
            snapshots.save(namespace, index, self._model)
            _release_freed_memory()  # the encoded copy of a large index (300 MB at 1M)
            with self._lock:
                if namespace not in self._again:
                    if self._savers.get(namespace) is threading.current_thread():
                        del self._savers[namespace]
                    return
                self._again.discard(namespace)

    def _attach_stored_vectors(
        self, namespace: str, index: EpisodeIndex, embed_missing: bool
    ) -> None:
        assert self._model is not None
        model = self._model
        stored = self._store.load_embeddings(namespace, model)
        index.set_vectors(
            model, [(eid, np.frombuffer(blob, dtype=np.float32)) for eid, blob in stored]
        )
        self._start_vectors(namespace, index, embed_missing)

    def _start_vectors(self, namespace: str, index: EpisodeIndex, embed_missing: bool) -> None:
        if self._model is None:
            return
        model = self._model
        self._read_ann(namespace, index, model)
        self._save_when_built(namespace, index, index.start_ann(self.ann_threshold))
        missing = index.missing_vectors()
        if missing and embed_missing:
            logger.info("embedding %d episodes of %r with %s", len(missing), namespace, model)
            for episode_id in missing:
                self._jobs.put((namespace, episode_id))

    def _read_ann(self, namespace: str, index: EpisodeIndex, model: str) -> None:
        """Use the namespace's saved HNSW graph if it is current (no rebuild)."""
        files = self.ann_files
        if files is None or index.ann is not None or not ann_available():
            return
        with index.lock:
            embedded = int(index.has_vector[: index.size].sum())
        if embedded < self.ann_threshold:
            return
        found = files.load(namespace, model, index)
        with index.lock:
            if found is not None and index.ann is None and index.vectors is not None:
                index.ann = found
                index.vectors.use(found)  # one copy of the vectors: the graph's

    def add(self, episode: Episode) -> None:
        """Index a just-completed episode (if its namespace is loaded) and queue its vector."""
        with self._lock:
            index = self._indexes.get(episode.namespace)
        if index is not None:
            index.add(index_row(episode))
            self._changed(episode.namespace, index)
        if self.embedder is not None:
            self._texts[(episode.namespace, episode.id)] = embedding_text(episode)
            self._jobs.put((episode.namespace, episode.id))

    def lacks(self, namespace: str, episode_id: str) -> bool:
        """True if the namespace's index is loaded and does not hold the episode."""
        with self._lock:
            index = self._indexes.get(namespace)
        return index is not None and episode_id not in index.row_of

    def remove(self, namespace: str, episode_id: str) -> None:
        with self._lock:
            index = self._indexes.get(namespace)
        if index is not None and index.remove(episode_id):
            self._changed(namespace, index)

    # -- embeddings -------------------------------------------------------------------------

    def query_vector(self, text: str) -> F32 | None:
        """The embedding of a query (cached), or None without an embedder."""
        if self.embedder is None:
            return None
        with self._lock:
            cached = self._queries.get(text)
            if cached is not None:
                self._queries.move_to_end(text)
                return cached
        vector: F32 = np.asarray(self.embedder.embed([text])[0], dtype=np.float32)
        with self._lock:
            self._queries[text] = vector
            while len(self._queries) > _QUERY_CACHE:
                self._queries.popitem(last=False)
        return vector

    def _text_for(self, namespace: str, episode_id: str) -> str | None:
        text = self._texts.pop((namespace, episode_id), None)
        if text is not None:
            return text
        episode = self._store.get_episode(namespace, episode_id)
        return embedding_text(episode) if episode is not None and episode.is_complete else None

    def embed_batch(self, jobs: Sequence[tuple[str, str]]) -> int:
        """Embed, store and index a batch of episodes; returns how many got vectors."""
        assert self.embedder is not None and self._model is not None
        model = self._model
        by_namespace: dict[str, list[tuple[str, str]]] = {}
        for namespace, episode_id in dict.fromkeys(jobs):
            text = self._text_for(namespace, episode_id)
            if text is not None:
                by_namespace.setdefault(namespace, []).append((episode_id, text))
        done = 0
        for namespace, items in by_namespace.items():
            vectors = self.embedder.embed([text for _, text in items])
            pairs = [(eid, vectors[i]) for i, (eid, _) in enumerate(items)]
            self._store.save_embeddings(
                namespace, model, [(eid, v.astype(np.float32).tobytes()) for eid, v in pairs]
            )
            with self._lock:
                index = self._indexes.get(namespace)
            if index is not None:
                index.set_vectors(model, pairs)
                self._save_when_built(namespace, index, index.start_ann(self.ann_threshold))
                self._changed(namespace, index)
            done += len(pairs)
        return done

    def _run(self) -> None:
        while True:
            first = self._jobs.get()
            batch = [first]
            while len(batch) < _BATCH:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            stop = _STOP in batch
            work = [job for job in batch if job != _STOP]
            try:
                if work:
                    self.embed_batch(work)
            except (EmbeddingError, StorageError, ValueError, RuntimeError):
                logger.warning("embedding %d episodes failed; they stay lexical-only",
                               len(work), exc_info=True)  # fmt: skip
            finally:
                for _ in batch:
                    self._jobs.task_done()
            if stop:
                return

    def reembed(self, namespace: str, progress: Callable[[int, int], None] | None) -> int:
        """Embed every episode of the namespace that lacks a vector of the current model."""
        if self.embedder is None:
            raise EmbeddingError("no embedder configured: open with embedder=...")
        self.drain()
        index = self.index(namespace, embed_missing=False)
        missing = index.missing_vectors()
        done = 0
        for start in range(0, len(missing), _BATCH):
            done += self.embed_batch([(namespace, eid) for eid in missing[start : start + _BATCH]])
            if progress is not None:
                progress(min(start + _BATCH, len(missing)), len(missing))
        return done

    def wait_for_snapshots(self) -> None:
        """Wait until a snapshot being written in the background is written."""
        with self._lock:
            savers, self._savers = self._savers, {}
        for saver in savers.values():
            saver.join()

    def drain(self) -> None:
        if self._worker is not None:
            self._jobs.join()

    def close(self) -> None:
        self._closing = True
        if self._worker is not None:
            self._jobs.put(_STOP)
            self._worker.join()
            self._worker = None
        if self._snapshots is not None:
            self.wait_for_snapshots()
            with self._lock:
                loaded = list(self._indexes.items())
                unsaved, self._unsaved = self._unsaved, set()
            for namespace, index in loaded:
                if namespace in unsaved or self._snapshots.is_dirty(namespace):
                    self._snapshots.save(namespace, index, self._model)
                self._save_ann(namespace, index)

    def _save_when_built(
        self, namespace: str, index: EpisodeIndex, build: threading.Thread | None
    ) -> None:
        """Save a graph as soon as its background build ends, so a process that is stopped
        without ``close()`` does not leave the next start to rebuild it."""
        if build is None or self.ann_files is None:
            return

        def save() -> None:
            build.join()
            if self._closing:
                return  # close() saves it
            try:
                self._save_ann(namespace, index)
            except StorageError:  # the store went away under it: the next start rebuilds
                logger.warning("saving the HNSW index of %r failed", namespace, exc_info=True)

        threading.Thread(target=save, name="selfmem-ann-save", daemon=True).start()

    def _save_ann(self, namespace: str, index: EpisodeIndex) -> None:
        """Save a graph built or changed here since it was last saved or read."""
        ann, model = index.ann, self._model
        if self.ann_files is None or ann is None or model is None or not ann.ready:
            return
        with self._ann_save_lock:
            state = (id(ann), ann.changes)
            if self._ann_saved.get(namespace) == state or not (ann.built or ann.changes):
                return
            if self.ann_files.save(namespace, model, index):
                self._ann_saved[namespace] = state
