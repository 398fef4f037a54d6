"""Storage: the Protocols the orchestrator depends on, and their implementations.

``EpisodeStore`` is the durable source of truth (libSQL, or the in-memory reference);
``HotCache`` is a bounded, disposable cache in front of it (LMDB, or a no-op).
"""

from .base import EpisodeQuery, EpisodeStore, HotCache
from .memory_store import InMemoryStore, NullCache

__all__ = ["EpisodeQuery", "EpisodeStore", "HotCache", "InMemoryStore", "NullCache"]
