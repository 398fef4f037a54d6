"""Embeddings: the ``Embedder`` protocol and a lazy sentence-transformers implementation."""

from .base import Embedder, HashingEmbedder
from .sentence_transformers import DEFAULT_MODEL, SentenceTransformerEmbedder

__all__ = ["DEFAULT_MODEL", "Embedder", "HashingEmbedder", "SentenceTransformerEmbedder"]
