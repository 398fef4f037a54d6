"""Backup and restore of an embedded store.

A backup is one SQLite file written by ``VACUUM INTO`` (SQLite's online backup): a
consistent snapshot, taken while other processes keep reading and writing, compacted,
with the WAL folded in. The LMDB cache is not backed up: it only holds copies, and a
restore empties it. Restoring replaces the store's database file; stop servers and
agents that use the store first.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import StorageError
from .schema import CACHE_DIR, DATABASE_FILE, SCHEMA_VERSION

__all__ = ["BackupInfo", "backup_store", "inspect_backup", "restore_store"]

_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class BackupInfo:
    path: str
    bytes: int
    schema_version: int
    episodes: int


def _query(path: Path, sql: str) -> list[tuple[object, ...]]:
    import libsql  # the driver loads only when a backup is read or written

    connection = libsql.connect(str(path), timeout=_TIMEOUT_S)
    try:
        return list(connection.execute(sql).fetchall())
    finally:
        connection.close()


def inspect_backup(path: Path) -> BackupInfo:
    """Check that ``path`` is an intact selfmem database this version can open."""
    if not path.is_file():
        raise StorageError(f"no such backup file: {path}")
    try:
        integrity = _query(path, "PRAGMA integrity_check")
        version = _query(path, "SELECT version FROM selfmem_schema WHERE id = 1")
        episodes = _query(path, "SELECT count(*) FROM episodes")
    except ValueError as exc:  # libsql raises ValueError for every database error
        raise StorageError(f"{path} is not a selfmem database: {exc}") from None
    if not integrity or integrity[0][0] != "ok":
        raise StorageError(f"{path} is damaged: integrity check says {integrity[:3]}")
    schema = int(str(version[0][0])) if version else 0
    if schema > SCHEMA_VERSION:
        raise StorageError(
            f"{path} has schema version {schema}; this selfmem reads up to {SCHEMA_VERSION}. "
            "Upgrade selfmem to restore it."
        )
    count = int(str(episodes[0][0]))
    return BackupInfo(str(path), path.stat().st_size, schema, count)


def backup_store(store_dir: Path, destination: Path, *, overwrite: bool = False) -> BackupInfo:
    """Snapshot ``store_dir``'s database into ``destination`` (one file)."""
    database = store_dir / DATABASE_FILE
    if not database.is_file():
        raise StorageError(f"no selfmem database at {database}")
    if destination.exists() and not overwrite:
        raise StorageError(f"{destination} exists; pass --force to replace it")
    partial = destination.with_name(destination.name + ".partial")
    partial.unlink(missing_ok=True)
    import libsql

    connection = libsql.connect(str(database), timeout=_TIMEOUT_S)
    try:
        connection.execute("VACUUM INTO ?", (str(partial),)).fetchall()
    except ValueError as exc:
        partial.unlink(missing_ok=True)
        raise StorageError(f"backup of {database} failed: {exc}") from None
    finally:
        connection.close()
    os.replace(partial, destination)
    return inspect_backup(destination)


def restore_store(source: Path, store_dir: Path) -> BackupInfo:
    """Replace ``store_dir``'s database with the backup ``source`` and empty its cache."""
    info = inspect_backup(source)
    if store_dir.exists() and not store_dir.is_dir():
        raise StorageError(f"{store_dir} exists and is not a directory")
    store_dir.mkdir(parents=True, exist_ok=True)
    staged = store_dir / f"{DATABASE_FILE}.restoring"
    shutil.copyfile(source, staged)
    for suffix in ("-wal", "-shm"):  # the old database's log must not meet the new file
        (store_dir / f"{DATABASE_FILE}{suffix}").unlink(missing_ok=True)
    os.replace(staged, store_dir / DATABASE_FILE)
    shutil.rmtree(store_dir / CACHE_DIR, ignore_errors=True)
    return info
