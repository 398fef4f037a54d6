"""The learned records of the libSQL store: patterns and heuristics, and the learning
version that keeps two processes that learn at once from overwriting each other.

Every write of a namespace's learned records is one transaction that also bumps the
namespace's version in ``learning_versions`` and logs a ``learning`` change, so other
processes reload. A write made from an older version is refused by a guard
(:class:`~selfmem.errors.ConflictError`); the writer token it leaves recognises a retry of a
write whose commit answer was lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence

from ..errors import ConflictError
from ..records.learned import AnyPattern, Heuristic, pattern_adapter
from .changes import LEARNING
from .libsql_connection import (
    GuardFailed,
    LibSQLConnection,
    SizedRead,
    id_chunks,
    insert_rows,
)
from .transport import Statement, guard

__all__ = ["LibSQLLearning"]


class LibSQLLearning(LibSQLConnection):
    """Patterns, heuristics and learning versions on a libSQL connection."""

    def save_learning(
        self,
        namespace: str,
        patterns: Sequence[AnyPattern],
        heuristics: Sequence[Heuristic],
        removed_heuristic_ids: Sequence[str] = (),
        removed_pattern_ids: Sequence[str] = (),
        *,
        expected_version: int | None = None,
    ) -> int:
        """Write learned records in one transaction; the namespace's new learning version.

        With ``expected_version``, the write is refused with
        :class:`~selfmem.errors.ConflictError` if another writer changed the namespace's
        learning since that version."""
        pattern_rows = [
            (p.id, namespace, p.kind.value, p.key, p.model_dump_json(), p.last_seen.timestamp())
            for p in patterns
        ]
        heuristic_rows = [
            (h.id, namespace, h.id, h.model_dump_json(), h.updated_at.timestamp())
            for h in heuristics
        ]
        statements = [
            *insert_rows(
                "INSERT INTO patterns (id, namespace, kind, key, data, updated_at)", 6,
                pattern_rows,
                " ON CONFLICT (id) DO UPDATE SET data = excluded.data, "
                "updated_at = excluded.updated_at",
            ),
            *insert_rows(
                "INSERT INTO heuristics (id, namespace, key, data, updated_at)", 5,
                heuristic_rows,
                " ON CONFLICT (id) DO UPDATE SET data = excluded.data, "
                "updated_at = excluded.updated_at",
            ),
            *self._delete_ids("heuristics", namespace, removed_heuristic_ids),
            *self._delete_ids("patterns", namespace, removed_pattern_ids),
        ]  # fmt: skip
        return self._write_learning(namespace, statements, expected_version)

    def _write_learning(
        self, namespace: str, statements: list[Statement], expected: int | None
    ) -> int:
        """``statements`` plus the change-log entry and the version bump, in one transaction
        (guarded by the expected version). A retry after a lost commit answer is recognised
        by the writer token it left."""
        writer = uuid.uuid4().hex
        checked = []
        if expected is not None:
            checked.append(
                guard(
                    "another writer changed the learning",
                    "coalesce((SELECT version FROM learning_versions WHERE namespace = ?), 0) != ?",
                    (namespace, expected),
                )
            )
        done = [
            *checked,
            *statements,
            Statement(
                "INSERT INTO selfmem_changes (namespace, kind, key) VALUES (?, ?, '')",
                (namespace, LEARNING),
            ),
            Statement(
                "INSERT INTO learning_versions (namespace, version, writer) VALUES (?, 1, ?) "
                "ON CONFLICT (namespace) DO UPDATE SET version = version + 1, "
                "writer = excluded.writer RETURNING version",
                (namespace, writer),
            ),
        ]
        try:
            return int(self._write(done)[-1][0][0])
        except GuardFailed as exc:
            rows = self._run(
                "SELECT version, writer FROM learning_versions WHERE namespace = ?", (namespace,)
            )
            if rows and rows[0][1] == writer:  # this very write committed; its answer was lost
                return int(rows[0][0])
            raise ConflictError(
                f"the learning of namespace {namespace!r} changed since version {expected}"
            ) from exc

    def learning_version(self, namespace: str) -> int:
        """How many times the namespace's learned records were written (0: never)."""
        rows = self._run("SELECT version FROM learning_versions WHERE namespace = ?", (namespace,))
        return int(rows[0][0]) if rows else 0

    @staticmethod
    def _delete_ids(table: str, namespace: str, ids: Sequence[str]) -> list[Statement]:
        return [
            Statement(
                f"DELETE FROM {table} WHERE namespace = ? AND id IN ({marks})", (namespace, *chunk)
            )
            for chunk, marks in id_chunks(ids)
        ]

    def _records(self, table: str, namespace: str) -> Iterator[str]:
        read = SizedRead(
            table, ("data",), ("id",), "octet_length(data)", "namespace = ?", (namespace,)
        )
        return (data for (data,) in self._paged(read))

    def load_patterns(self, namespace: str) -> list[AnyPattern]:
        return [
            pattern_adapter.validate_json(data) for data in self._records("patterns", namespace)
        ]

    def load_heuristics(self, namespace: str) -> list[Heuristic]:
        return [
            Heuristic.model_validate_json(data) for data in self._records("heuristics", namespace)
        ]

    def clear_learning(self, namespace: str) -> int:
        return self._write_learning(
            namespace,
            [
                Statement("DELETE FROM patterns WHERE namespace = ?", (namespace,)),
                Statement("DELETE FROM heuristics WHERE namespace = ?", (namespace,)),
            ],
            None,
        )
