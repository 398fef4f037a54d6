"""Build the default backends for a location: a libSQL store plus an LMDB cache."""

from __future__ import annotations

from pathlib import Path

from ..config import MemoryConfig, is_remote
from ..errors import ConfigError
from .base import EpisodeStore, HotCache
from .libsql_store import LibSQLStore
from .lmdb_cache import LmdbCache
from .retry import RetryPolicy
from .schema import CACHE_DIR, DATABASE_FILE

__all__ = ["DATABASE_FILE", "open_backends"]



def _remote_cache_dir(url: str) -> Path:
    safe = "".join(ch if ch.isalnum() else "_" for ch in url.split("://", 1)[-1])[:80]
    return Path.home() / ".cache" / "selfmem" / safe


def open_backends(
    location: str,
    auth_token: str | None,
    config: MemoryConfig,
    *,
    cache: bool | str = True,
) -> tuple[EpisodeStore, HotCache | None]:
    """Open the store at ``location`` and its cache.

    A local location is a directory holding ``selfmem.db`` and ``cache/`` (created on first
    use). A URL opens a libSQL server; its cache lives under ``~/.cache/selfmem/`` unless
    ``cache`` is a directory path. ``cache=False`` disables the cache.
    """
    retry = RetryPolicy(
        attempts=config.retry_attempts,
        initial_backoff_s=config.retry_initial_backoff_s,
        max_backoff_s=config.retry_max_backoff_s,
        deadline_s=config.retry_deadline_s,
    )
    if is_remote(location):
        store = LibSQLStore(
            location,
            auth_token=auth_token,
            busy_timeout_ms=config.busy_timeout_ms,
            retry=retry,
            connect_timeout_s=config.connect_timeout_s,
            request_timeout_s=config.request_timeout_s,
        )
        cache_dir = Path(cache) if isinstance(cache, str) else _remote_cache_dir(location)
    else:
        root = Path(location)
        if root.exists() and not root.is_dir():
            raise ConfigError(f"{root} exists and is not a directory; selfmem needs a directory")
        root.mkdir(parents=True, exist_ok=True)
        store = LibSQLStore(
            str(root / DATABASE_FILE), busy_timeout_ms=config.busy_timeout_ms, retry=retry
        )
        cache_dir = Path(cache) if isinstance(cache, str) else root / CACHE_DIR
    if cache is False:
        return store, None
    hot = LmdbCache(
        cache_dir,
        max_entries={"episode": config.cache_max_episodes},
        map_size=config.cache_map_size,
    )
    return store, hot
