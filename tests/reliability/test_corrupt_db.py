"""The database files: deleted text does not stay in them, and a damaged one is named.

Once ``delete_episode`` or ``delete_item`` returns, no byte of the deleted text is left in
``selfmem.db`` or ``selfmem.db-wal``, while the handle that deleted it stays open
(``secure_delete`` zeroes freed pages; the delete checkpoints the WAL and truncates it).
A database file that is not one, or is damaged, raises a ``StorageError`` that names the
file and says how to restore it (``selfmem --path DIR restore BACKUP.db``), not the
driver's bare ``ValueError``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from selfmem import SelfLearningMemory, StorageError, TaskOutcome
from selfmem.storage.libsql_store import LibSQLStore

_DB_FILES = ("selfmem.db", "selfmem.db-wal", "selfmem.db-shm")


def _holding(root: Path, text: str) -> list[str]:
    """The database files whose raw bytes contain ``text``."""
    return [
        name
        for name in _DB_FILES
        if (root / name).is_file() and text.encode() in (root / name).read_bytes()
    ]


def test_a_deleted_item_leaves_no_text_in_the_database_files(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, cache=False) as memory:
        memory.put_item(("notes",), "kept", {"text": "qzkeptitemmarker about invoices"})
        memory.put_item(("notes",), "doomed", {"text": "qzdoomeditemmarker " * 40})
        memory.put_item(("notes", "old"), "a", {"text": "qzprefixitemmarker one"})
        memory.put_item(("notes", "old"), "b", {"text": "qzprefixitemmarker two"})
        assert _holding(tmp_path, "qzdoomeditemmarker")  # it was written to the files
        assert memory.delete_item(("notes",), "doomed")
        assert _holding(tmp_path, "qzdoomeditemmarker") == []
        assert memory.delete_items(("notes", "old")) == 2
        assert _holding(tmp_path, "qzprefixitemmarker") == []
        assert memory.get_item(("notes",), "kept") is not None
        assert _holding(tmp_path, "qzkeptitemmarker")  # only what was deleted is gone


def test_a_deleted_episode_leaves_no_text_in_the_database_files(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, cache=False, flush_interval_s=None) as memory:
        eid = memory.start_episode("Rotate the qzdoomedepisodemarker credentials")
        memory.log_step(eid, tool="vault", observation="issued qzdoomedstepmarker " * 30)
        memory.complete_episode(eid, TaskOutcome.success("rotated"))
        memory.flush()
        assert _holding(tmp_path, "qzdoomedstepmarker")
        memory.delete_episode(eid)
        for text in ("qzdoomedepisodemarker", "qzdoomedstepmarker"):
            assert _holding(tmp_path, text) == [], text


def test_embedded_connections_zero_freed_pages(tmp_path: Path) -> None:
    store = LibSQLStore(str(tmp_path / "selfmem.db"))
    try:
        assert store._run("PRAGMA secure_delete") == [(1,)]
    finally:
        store.close()


@pytest.mark.parametrize("damage", ["not a database", "truncated", "scrambled pages"])
def test_a_damaged_database_file_is_named_with_the_way_out(tmp_path: Path, damage: str) -> None:
    with SelfLearningMemory.open(tmp_path, cache=False) as memory:
        for number in range(30):
            memory.put_item(("notes",), f"n{number}", {"text": f"note {number} " * 200})
    db = tmp_path / "selfmem.db"
    raw = db.read_bytes()
    if damage == "not a database":
        db.write_bytes(b"this is a text file, not SQLite" * 200)
    elif damage == "truncated":
        db.write_bytes(raw[:1500])
    else:
        page = int.from_bytes(raw[16:18], "big")
        db.write_bytes(raw[: page * 2] + bytes(range(256)) * (len(raw[page * 2 :]) // 256))
    with (
        pytest.raises(StorageError, match="is damaged or is not a selfmem database") as caught,
        SelfLearningMemory.open(tmp_path, cache=False) as memory,
    ):
        memory.search_items(("notes",), limit=100)
    message = str(caught.value)
    assert str(db) in message and f"selfmem --path {tmp_path} restore" in message, message
    assert not isinstance(caught.value, ValueError)
