"""Once ``delete_episode`` returns, the episode cannot be recovered from the store's files,
even while the handle that deleted it stays open: no byte of its text is in any file, and
neither is a key that would open the stale cache pages LMDB's copy-on-write leaves behind."""

from __future__ import annotations

import base64
from pathlib import Path

from selfmem import NotFoundError, SelfLearningMemory, TaskOutcome


def _files(root: Path) -> dict[str, bytes]:
    """Every file under the store directory (database, WAL, shm, LMDB data and lock)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _forms(key: bytes) -> list[bytes]:
    return [key, key.hex().encode(), key.hex().upper().encode(), base64.b64encode(key),
            base64.urlsafe_b64encode(key), base64.b64encode(key).rstrip(b"=")]  # fmt: skip


def _record(memory: SelfLearningMemory, marker: str) -> str:
    eid = memory.start_episode(f"Rotate the {marker} credentials")
    memory.log_step(eid, tool="vault", observation=f"issued {marker}token for the gateway")
    memory.complete_episode(eid, TaskOutcome.success("rotated"))
    return eid


def test_a_deleted_episode_leaves_no_text_and_no_key_in_the_files(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, flush_interval_s=None) as memory:
        kept = _record(memory, "qzkeptmarker")
        doomed = {_record(memory, marker): marker for marker in ("qzfirstmarker", "qzsecondmarker")}
        memory.flush()
        for eid in (kept, *doomed):  # cached and indexed, so every layer held them
            memory.get_episode(eid)
        assert memory.retrieve_relevant_context("rotate credentials", limit=5).episodes
        files = _files(tmp_path)
        assert any(name.startswith("cache") for name in files)
        for eid, marker in doomed.items():
            old_key = memory._core.cache_key  # what opens the cache pages written so far
            memory.delete_episode(eid)
            # the handle is still open: nothing may depend on closing it
            with_key = [(name, form) for name, raw in _files(tmp_path).items()
                        for form in _forms(old_key) if form in raw]  # fmt: skip
            assert with_key == [], f"the old sealing key survives in {with_key}"
            for text in (f"{marker} credentials", f"{marker}token"):
                holding = [name for name, raw in _files(tmp_path).items() if text.encode() in raw]
                assert holding == [], f"{text!r} survives in {holding}"
            with_marker = [name for name, raw in _files(tmp_path).items() if marker.encode() in raw]
            assert with_marker == [], f"{marker!r} survives in {with_marker}"
            try:
                memory.get_episode(eid)
            except NotFoundError:
                pass
            else:
                raise AssertionError("a deleted episode was served")
        assert memory.get_episode(kept).task_description == "Rotate the qzkeptmarker credentials"
