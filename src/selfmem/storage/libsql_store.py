"""The durable store on libSQL: an embedded file, a libSQL server (sqld) or Turso.

One connection per store, used under a lock: the ``libsql`` driver holds the GIL while
SQLite runs, so a second writer connection in the same process would only contend for the
file lock. Locally the database runs in WAL mode with a busy timeout, so several *processes*
can share one file. Deletes scrub: ``secure_delete`` zeroes freed pages, the full-text index
is merged so no term of a deleted episode survives, and the WAL is checkpointed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import libsql

from ..config import is_remote
from ..errors import EpisodeStateError, SchemaVersionError, StorageError
from ..learning.records import AnyPattern, Heuristic, pattern_adapter
from ..models import Episode, ExecutionStep
from ..retrieval.index_rows import IndexRow, decode_row, encode_row, index_row
from ..retrieval.lexical import fts_query
from .base import EpisodeQuery, LexicalHit
from .libsql_items import LibSQLItems
from .schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["LibSQLStore"]

logger = logging.getLogger(__name__)

_CHUNK = 500


class LibSQLStore:
    """An :class:`~selfmem.storage.base.EpisodeStore` on libSQL.

    ``location`` is a file path (``":memory:"`` works too) or a ``libsql://``, ``http(s)://``
    URL; ``auth_token`` authenticates to a server. ``scrub_on_delete`` merges the full-text
    index after each delete so deleted text leaves no trace (costs time on large stores).
    """

    def __init__(
        self,
        location: str,
        *,
        auth_token: str | None = None,
        busy_timeout_ms: int = 10_000,
        scrub_on_delete: bool = True,
    ) -> None:
        self.location = location
        self.remote = is_remote(location)
        self._scrub = scrub_on_delete
        self._lock = threading.RLock()
        self._closed = False
        try:
            self._conn = libsql.connect(
                location,
                timeout=busy_timeout_ms / 1000,
                isolation_level=None,
                auth_token=auth_token or "",
            )
        except ValueError as exc:
            raise StorageError(f"cannot open libSQL database at {location!r}: {exc}") from exc
        if not self.remote:
            self._pragmas(busy_timeout_ms)
        self._migrate()
        self.items = LibSQLItems(self)

    # -- plumbing ---------------------------------------------------------------------------

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Execute one statement and fetch every row (an open cursor would hold a read lock)."""
        try:
            rows = self._conn.execute(sql, tuple(params)).fetchall()
            return list(rows) if rows else []
        except ValueError as exc:
            raise StorageError(f"libSQL error: {exc}") from exc

    def _run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            try:
                self._conn.executemany(sql, [tuple(row) for row in rows])
            except ValueError as exc:
                raise StorageError(f"libSQL error: {exc}") from exc

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._check_open()
            self._run("BEGIN" if self.remote else "BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                try:
                    self._run("ROLLBACK")
                except StorageError:
                    logger.warning("rollback failed on %s", self.location, exc_info=True)
                raise
            self._run("COMMIT")

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("the store is closed")

    def _pragmas(self, busy_timeout_ms: int) -> None:
        self._run(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        self._run("PRAGMA journal_mode = WAL")
        # WAL + NORMAL: a commit survives a crash of the process; only a power loss can undo
        # the last commits (the database itself stays consistent). FULL fsyncs every commit.
        self._run("PRAGMA synchronous = NORMAL")
        self._run("PRAGMA secure_delete = ON")

    def _migrate(self) -> None:
        self._run(
            "CREATE TABLE IF NOT EXISTS selfmem_schema "
            "(id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)"
        )
        if self.schema_version() == SCHEMA_VERSION:
            return
        with self._transaction():
            current = self.schema_version()  # re-read under the write lock
            for statements in MIGRATIONS[current:]:
                for statement in statements:
                    self._run(statement)
            self._run(
                "INSERT INTO selfmem_schema (id, version) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET version = excluded.version",
                (SCHEMA_VERSION,),
            )
        logger.info("migrated %s from schema %d to %d", self.location, current, SCHEMA_VERSION)

    def schema_version(self) -> int:
        rows = self._run("SELECT version FROM selfmem_schema WHERE id = 1")
        version = int(rows[0][0]) if rows else 0
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"database {self.location!r} has schema version {version}; this selfmem "
                f"understands up to {SCHEMA_VERSION}. Upgrade selfmem."
            )
        return version

    # -- writes -----------------------------------------------------------------------------

    @staticmethod
    def _header_row(episode: Episode) -> tuple[Any, ...]:
        return (
            episode.task_type.value,
            episode.context.domain,
            episode.context.language,
            episode.outcome.status.value if episode.outcome else None,
            episode.start_time.timestamp(),
            episode.end_time.timestamp() if episode.end_time else None,
            episode.reward.total if episode.reward else None,
            episode.model_dump_json(exclude={"steps"}),
        )

    def create_episode(self, episode: Episode) -> None:
        with self._lock:
            self._check_open()
            self._run(
                "INSERT INTO episodes (id, namespace, task_type, domain, language, outcome, "
                "start_time, end_time, reward, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (episode.id, episode.namespace, *self._header_row(episode)),
            )

    def _insert_steps(self, episode_id: str, steps: Sequence[ExecutionStep]) -> None:
        self._run_many(
            "INSERT OR REPLACE INTO steps (episode_id, step_number, tool, success, data) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (episode_id, step.step_number, step.tool, int(step.success), step.model_dump_json())
                for step in steps
            ],
        )

    def append_steps(self, batches: Mapping[str, Sequence[ExecutionStep]]) -> None:
        if not any(batches.values()):
            return
        with self._transaction():
            for episode_id, steps in batches.items():
                self._insert_steps(episode_id, steps)

    def finish_episode(self, episode: Episode, pending_steps: Sequence[ExecutionStep]) -> int:
        with self._transaction():
            self._insert_steps(episode.id, pending_steps)
            rows = self._run(
                "UPDATE episodes SET task_type = ?, domain = ?, language = ?, outcome = ?, "
                "start_time = ?, end_time = ?, reward = ?, data = ?, index_row = ?, "
                "revision = revision + 1 "
                "WHERE id = ? AND namespace = ? AND end_time IS NULL RETURNING seq, revision",
                (
                    *self._header_row(episode),
                    encode_row(index_row(episode)),
                    episode.id,
                    episode.namespace,
                ),
            )
            if not rows:
                raise EpisodeStateError(
                    f"episode {episode.id!r} was deleted or completed by another handle"
                )
            seq = rows[0][0]
            self._run("DELETE FROM episodes_fts WHERE rowid = ?", (seq,))
            self._run(
                "INSERT INTO episodes_fts (rowid, task_text, step_text) VALUES (?, ?, ?)",
                (seq, episode.task_description, episode.step_text()),
            )
            return int(rows[0][1])

    def delete_episode(self, namespace: str, episode_id: str) -> bool:
        with self._transaction():
            rows = self._run(
                "SELECT seq FROM episodes WHERE id = ? AND namespace = ?", (episode_id, namespace)
            )
            if not rows:
                return False
            self._run("DELETE FROM episodes_fts WHERE rowid = ?", (rows[0][0],))
            self._run("DELETE FROM steps WHERE episode_id = ?", (episode_id,))
            self._run(
                "DELETE FROM embeddings WHERE owner_kind = 'episode' AND owner_id = ?",
                (episode_id,),
            )
            self._run("DELETE FROM episodes WHERE seq = ?", (rows[0][0],))
        return True

    def scrub(self) -> None:
        """Merge the full-text index (dropping deleted terms) and checkpoint the WAL, so
        deleted text is gone from the files (freed pages are zeroed by ``secure_delete``).
        Does nothing when ``scrub_on_delete`` is off."""
        if not self._scrub:
            return
        with self._lock:
            self._check_open()
            self._run("INSERT INTO episodes_fts (episodes_fts) VALUES ('optimize')")
            if not self.remote:
                self._run("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- reads ------------------------------------------------------------------------------

    def _steps_for(self, episode_ids: Sequence[str]) -> dict[str, list[ExecutionStep]]:
        found: dict[str, list[ExecutionStep]] = {eid: [] for eid in episode_ids}
        for start in range(0, len(episode_ids), _CHUNK):
            chunk = list(episode_ids[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            for episode_id, data in self._run(
                f"SELECT episode_id, data FROM steps WHERE episode_id IN ({marks}) "
                "ORDER BY episode_id, step_number",
                chunk,
            ):
                found[episode_id].append(ExecutionStep.model_validate_json(data))
        return found

    def get_episode(self, namespace: str, episode_id: str) -> Episode | None:
        with self._lock:
            self._check_open()
            rows = self._run(
                "SELECT data FROM episodes WHERE id = ? AND namespace = ?", (episode_id, namespace)
            )
            if not rows:
                return None
            episode = Episode.model_validate_json(rows[0][0])
            episode.steps = self._steps_for([episode_id])[episode_id]
            return episode

    @staticmethod
    def _where(query: EpisodeQuery) -> tuple[str, list[Any]]:
        clauses = ["namespace = ?"]
        params: list[Any] = [query.namespace]
        optional: list[tuple[str, Any]] = [
            ("domain = ?", query.domain),
            ("task_type = ?", query.task_type.value if query.task_type else None),
            ("outcome = ?", query.outcome.value if query.outcome else None),
            ("start_time >= ?", query.started_after.timestamp() if query.started_after else None),
            ("start_time < ?", query.started_before.timestamp() if query.started_before else None),
        ]
        for clause, value in optional:
            if value is not None:
                clauses.append(clause)
                params.append(value)
        if query.open_only:
            clauses.append("end_time IS NULL")
        if query.completed_only:
            clauses.append("end_time IS NOT NULL")
        return " AND ".join(clauses), params

    def list_episodes(self, query: EpisodeQuery) -> list[Episode]:
        where, params = self._where(query)
        with self._lock:
            self._check_open()
            order = "ASC" if query.oldest_first else "DESC"
            rows = self._run(
                f"SELECT id, data FROM episodes WHERE {where} "
                f"ORDER BY start_time {order}, id {order} LIMIT ? OFFSET ?",
                [*params, query.limit, query.offset],
            )
            episodes = [Episode.model_validate_json(data) for _, data in rows]
            if query.include_steps and episodes:
                steps = self._steps_for([ep.id for ep in episodes])
                for episode in episodes:
                    episode.steps = steps[episode.id]
            return episodes

    def count_episodes(self, query: EpisodeQuery) -> int:
        where, params = self._where(query)
        with self._lock:
            self._check_open()
            return int(self._run(f"SELECT count(*) FROM episodes WHERE {where}", params)[0][0])

    def search_episodes(self, namespace: str, text: str, limit: int) -> list[LexicalHit]:
        match = fts_query(text)
        if match is None:
            return []
        with self._lock:
            self._check_open()
            rows = self._run(
                "SELECT e.id, bm25(episodes_fts, 2.0, 1.0) AS rank FROM episodes_fts "
                "JOIN episodes e ON e.seq = episodes_fts.rowid "
                "WHERE episodes_fts MATCH ? AND e.namespace = ? ORDER BY rank LIMIT ?",
                (match, namespace, limit),
            )
        return [LexicalHit(episode_id, -float(rank)) for episode_id, rank in rows]

    def episode_revisions(self, namespace: str, episode_ids: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        with self._lock:
            self._check_open()
            for start in range(0, len(episode_ids), _CHUNK):
                chunk = list(episode_ids[start : start + _CHUNK])
                marks = ",".join("?" * len(chunk))
                for episode_id, revision in self._run(
                    f"SELECT id, revision FROM episodes WHERE namespace = ? AND id IN ({marks})",
                    [namespace, *chunk],
                ):
                    found[episode_id] = int(revision)
        return found

    # -- learned records --------------------------------------------------------------------

    def save_learning(
        self,
        namespace: str,
        patterns: Sequence[AnyPattern],
        heuristics: Sequence[Heuristic],
        removed_heuristic_ids: Sequence[str] = (),
        removed_pattern_ids: Sequence[str] = (),
    ) -> None:
        if not (patterns or heuristics or removed_heuristic_ids or removed_pattern_ids):
            return
        with self._transaction():
            self._run_many(
                "INSERT INTO patterns (id, namespace, kind, key, data, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "data = excluded.data, updated_at = excluded.updated_at",
                [
                    (p.id, namespace, p.kind.value, p.key, p.model_dump_json(),
                     p.last_seen.timestamp())
                    for p in patterns
                ],
            )  # fmt: skip
            self._run_many(
                "INSERT INTO heuristics (id, namespace, key, data, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "data = excluded.data, updated_at = excluded.updated_at",
                [
                    (h.id, namespace, h.id, h.model_dump_json(), h.updated_at.timestamp())
                    for h in heuristics
                ],
            )
            self._run_many(
                "DELETE FROM heuristics WHERE id = ? AND namespace = ?",
                [(hid, namespace) for hid in removed_heuristic_ids],
            )
            self._run_many(
                "DELETE FROM patterns WHERE id = ? AND namespace = ?",
                [(pid, namespace) for pid in removed_pattern_ids],
            )

    def load_patterns(self, namespace: str) -> list[AnyPattern]:
        with self._lock:
            self._check_open()
            rows = self._run("SELECT data FROM patterns WHERE namespace = ?", (namespace,))
        return [pattern_adapter.validate_json(data) for (data,) in rows]

    def load_heuristics(self, namespace: str) -> list[Heuristic]:
        with self._lock:
            self._check_open()
            rows = self._run("SELECT data FROM heuristics WHERE namespace = ?", (namespace,))
        return [Heuristic.model_validate_json(data) for (data,) in rows]

    def clear_learning(self, namespace: str) -> None:
        with self._transaction():
            self._run("DELETE FROM patterns WHERE namespace = ?", (namespace,))
            self._run("DELETE FROM heuristics WHERE namespace = ?", (namespace,))

    def index_rows(self, namespace: str) -> list[IndexRow]:
        with self._lock:
            self._check_open()
            rows = self._run(
                "SELECT id, index_row FROM episodes WHERE namespace = ? AND end_time IS NOT NULL",
                (namespace,),
            )
        found: list[IndexRow] = []
        for episode_id, text in rows:
            if text is not None:
                found.append(decode_row(episode_id, text))
                continue
            episode = self.get_episode(namespace, episode_id)  # written before schema 3
            if episode is not None and episode.is_complete:
                found.append(index_row(episode))
        return found

    def save_embeddings(
        self, namespace: str, model: str, vectors: Sequence[tuple[str, bytes]]
    ) -> None:
        if not vectors:
            return
        with self._transaction():
            self._run_many(
                "INSERT OR REPLACE INTO embeddings (owner_kind, owner_id, namespace, model, dim, "
                "vector) VALUES ('episode', ?, ?, ?, ?, ?)",
                [(eid, namespace, model, len(blob) // 4, blob) for eid, blob in vectors],
            )

    def load_embeddings(self, namespace: str, model: str) -> list[tuple[str, bytes]]:
        with self._lock:
            self._check_open()
            rows = self._run(
                "SELECT owner_id, vector FROM embeddings "
                "WHERE namespace = ? AND owner_kind = 'episode' AND model = ?",
                (namespace, model),
            )
        return [(eid, bytes(blob)) for eid, blob in rows]

    def get_meta(self, name: str) -> bytes | None:
        with self._lock:
            self._check_open()
            rows = self._run("SELECT value FROM selfmem_meta WHERE name = ?", (name,))
        return bytes(rows[0][0]) if rows else None

    def set_meta(self, name: str, value: bytes) -> None:
        with self._lock:
            self._check_open()
            self._run(
                "INSERT INTO selfmem_meta (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, bytes(value)),
            )

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._conn.close()
            except ValueError:
                logger.warning("closing %s failed", self.location, exc_info=True)
