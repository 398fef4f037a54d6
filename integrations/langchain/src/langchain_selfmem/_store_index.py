"""The semantic index of :class:`~langchain_selfmem.SelfMemStore`, configured as LangGraph's
stores are: ``index={"dims": 1536, "embed": embeddings, "fields": ["text"]}``.

As in LangGraph's ``InMemoryStore``: each put embeds the text at the index's ``fields`` (or
at the put's own ``index=[...]``; ``"$"``, the default, is the whole value; a path with
``[*]`` gives one text per list entry), ``index=False`` embeds nothing, and a query scores an
item by its closest text (cosine similarity). The vectors are kept durably, beside the
items, as items under the reserved root label ``langgraph`` (which LangGraph forbids for
user namespaces): ``("langgraph", "selfmem-vectors", *namespace)``, same key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from langgraph.store.base import PutOp, ensure_embeddings, get_text_at_path, tokenize_path

from selfmem import InvalidInputError

__all__ = ["RESERVED", "VECTOR_ROOT", "StoreIndex", "cosine_scores"]

#: LangGraph's reserved root label: never a user namespace, so the store's own items live
#: under it.
RESERVED = "langgraph"
VECTOR_ROOT: tuple[str, ...] = (RESERVED, "selfmem-vectors")
_DIGITS = 6  # stored precision of vector components: plenty for cosine ranking


def cosine_scores(query: Sequence[float], vectors: Sequence[Sequence[float]]) -> list[float]:
    """Cosine similarity of ``query`` with each of ``vectors`` (0 for a zero vector)."""
    if not vectors:
        return []
    matrix = np.asarray(vectors, dtype=np.float64)
    target = np.asarray(query, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(target) or 1.0)
    scores = (matrix @ target) / np.where(norms == 0, 1.0, norms)
    return [float(score) for score in scores]


class StoreIndex:
    """A checked LangGraph ``IndexConfig`` and what follows from it."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        if not isinstance(config, Mapping):
            raise InvalidInputError(
                "index must be a dict like {'dims': 1536, 'embed': ..., 'fields': ['text']}",
                field="index",
            )
        unknown = set(config) - {"dims", "embed", "fields"}
        if unknown:
            raise InvalidInputError(f"index: unknown key(s) {sorted(unknown)}; known: dims, "
                                    "embed, fields", field="index")  # fmt: skip
        dims = config.get("dims")
        if isinstance(dims, bool) or not isinstance(dims, int) or dims < 1:
            raise InvalidInputError(
                f"index['dims'] must be a positive integer, got {dims!r}", field="index.dims"
            )
        embed = config.get("embed")
        if embed is None or not (isinstance(embed, str) or callable(embed)
                                 or hasattr(embed, "embed_documents")):  # fmt: skip
            raise InvalidInputError("index['embed'] is required: an Embeddings, a function "
                                    f"or a provider string, got {embed!r}",
                                    field="index.embed")  # fmt: skip
        fields = config.get("fields") or ["$"]
        if isinstance(fields, str) or not all(isinstance(f, str) and f for f in fields):
            raise InvalidInputError(
                f"index['fields'] must be a list of paths, got {fields!r}", field="index.fields"
            )
        try:
            self.embeddings = ensure_embeddings(embed)
        except (ValueError, TypeError, ImportError) as exc:
            raise InvalidInputError(f"index['embed']: {exc}", field="index.embed") from exc
        self.dims = dims
        self.fields: list[str] = list(fields)

    def texts(self, op: PutOp) -> list[str]:
        """The texts of a put to embed: at its ``index`` paths, or the index's fields."""
        if op.value is None or op.index is False:
            return []
        paths = self.fields if op.index is None else list(op.index)
        texts: list[str] = []
        for path in paths:
            tokens: Any = path if path == "$" else tokenize_path(path)
            texts.extend(text for text in get_text_at_path(op.value, tokens) if text)
        return texts

    def check(self, vectors: Sequence[Sequence[float]]) -> list[list[float]]:
        """The vectors an embedder returned, checked against ``dims`` and made storable."""
        checked: list[list[float]] = []
        for vector in vectors:
            if len(vector) != self.dims:
                raise InvalidInputError(
                    f"the index's embeddings have {len(vector)} dimensions, not "
                    f"index['dims'] = {self.dims}",
                    field="index.dims",
                )
            checked.append([round(float(x), _DIGITS) for x in vector])
        return checked

    def embed_puts(self, ops: Sequence[PutOp]) -> dict[int, list[list[float]]]:
        """The vectors of each put (by position in ``ops``), in one embedding call."""
        texts = [(n, text) for n, op in enumerate(ops) for text in self.texts(op)]
        if not texts:
            return {}
        vectors = self.check(self.embeddings.embed_documents([text for _, text in texts]))
        return _group(texts, vectors)

    async def aembed_puts(self, ops: Sequence[PutOp]) -> dict[int, list[list[float]]]:
        """Async twin of :meth:`embed_puts`."""
        texts = [(n, text) for n, op in enumerate(ops) for text in self.texts(op)]
        if not texts:
            return {}
        found = await self.embeddings.aembed_documents([text for _, text in texts])
        return _group(texts, self.check(found))

    def embed_query(self, query: str) -> list[float]:
        return self.check([self.embeddings.embed_query(query)])[0]

    async def aembed_query(self, query: str) -> list[float]:
        return self.check([await self.embeddings.aembed_query(query)])[0]

    def stored(self, vectors: list[list[float]]) -> dict[str, Any]:
        """The value of the item that keeps an item's vectors."""
        return {"dims": self.dims, "vectors": vectors}

    def usable(self, value: Mapping[str, Any]) -> list[list[float]]:
        """The vectors of a stored vector item, if they fit this index."""
        vectors = value.get("vectors")
        if value.get("dims") != self.dims or not isinstance(vectors, list):
            return []
        return [v for v in vectors if isinstance(v, list) and len(v) == self.dims]


def _group(
    texts: Sequence[tuple[int, str]], vectors: Sequence[list[float]]
) -> dict[int, list[list[float]]]:
    grouped: dict[int, list[list[float]]] = {}
    for (position, _), vector in zip(texts, vectors, strict=True):
        grouped.setdefault(position, []).append(vector)
    return grouped
