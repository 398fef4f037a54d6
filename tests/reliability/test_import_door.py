"""``selfmem import`` is a door, not a back door.

An export file is input: it may have been edited by hand or written by another program.
Import applies the limits and the redaction the API applies, refuses what the API would
refuse (naming the line, the field and the limit), and rolls back everything it wrote when
a write fails. Real libSQL files throughout; the one fault is injected by a store whose
completion write fails, as a server that goes away would make it.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from selfmem import (
    Limits,
    MemoryConfig,
    SelfLearningMemory,
    StoreUnavailableError,
    TaskContext,
    TaskOutcome,
)
from selfmem.cli import main
from selfmem.cli.transfer import (
    CheckedEpisodes,
    export_episodes,
    import_checked,
    import_episodes,
    scan_lines,
)
from selfmem.records.episodes import Episode
from selfmem.storage.libsql_store import LibSQLStore

SECRET = "sk-" + "proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv"

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    for name in ("SELFMEM_PATH", "SELFMEM_NAMESPACE", "SELFMEM_DATABASE_URL", "SELFMEM_REDACT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    def invoke(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def _exported(tmp_path: Path, count: int = 1) -> list[dict[str, Any]]:
    """Episodes as ``selfmem export`` writes them, to edit into hostile ones."""
    with SelfLearningMemory.open(tmp_path / "source", flush_interval_s=None) as memory:
        for number in range(count):
            eid = memory.start_episode(f"Rotate key {number}", TaskContext(domain="ops"))
            memory.log_step(eid, tool="vault", observation="rotated")
            memory.complete_episode(eid, TaskOutcome.success("rotated"))
        sink = io.StringIO()
        export_episodes(memory, sink)
    return [json.loads(line) for line in sink.getvalue().splitlines()]


def _write(path: Path, documents: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(document) + "\n" for document in documents))
    return path


def _stored_bytes(store: Path) -> bytes:
    return b"".join(f.read_bytes() for f in store.rglob("*") if f.is_file())


def test_a_raw_key_anywhere_in_a_file_is_redacted_on_import(tmp_path: Path, run: Run) -> None:
    [document] = _exported(tmp_path)
    document["task_description"] = f"Deploy with {SECRET}"
    document["context"]["domain"] = f"ops {SECRET}"
    document["context"]["tags"] = [f"key-{SECRET}"]
    step = document["steps"][0]
    step["tool"] = f"curl-{SECRET}"
    step["observation"] = f"export OPENAI_API_KEY={SECRET}"
    step["parameters"] = {"headers": {"Authorization": f"Bearer {SECRET}"}, SECRET: 1}
    document["outcome"]["verdict"] = f"used {SECRET}"
    document["reflection"]["insights"] = [f"the key {SECRET} works"]
    source = _write(tmp_path / "in.jsonl", [document])
    store = tmp_path / "store"
    code, _, err = run("--path", str(store), "import", str(source), "--no-relearn")
    assert code == 0, err
    with SelfLearningMemory.open(store) as memory:
        episode = memory.get_episode(document["id"])
        assert episode.task_description == "Deploy with [REDACTED]"
        assert episode.steps[0].tool == "curl-[REDACTED]"
    assert SECRET.encode() not in _stored_bytes(store)


@pytest.mark.parametrize(
    "edit, reason",
    [
        (lambda d: d.update(task_description="x" * 12_000_000),
         "task_description is 12000000 characters, over the limit of 10000 characters"),
        (lambda d: d.update(steps=[{"tool": "t"}] * 3_000),
         "steps per episode is 3000 steps, over the limit of 2000 steps"),
        (lambda d: d.update(id="i" * 1_000_000),
         "id is 1000000 characters, over the limit of 128 characters"),
        (lambda d: d["context"].update(domain="d" * 25_000),
         "context.domain is 25000 characters, over the limit of 200 characters"),
        (lambda d: d["steps"][0].update(step_number=2**63),
         "step.step_number must be an integer from 1 to 9007199254740991"),
        (lambda d: d["steps"][0].update(parameters={"n": 2**63 + 1}),
         "step.parameters['n'] is outside the signed 64-bit range"),
        (lambda d: d.update(start_time="3000-01-01T00:00:00Z"), "start_time is in the future"),
        (lambda d: d.update(outcome=None), "a completed episode has both an end_time and an"),
    ],
    ids=["12MB-description", "3000-steps", "1MB-id", "25KB-domain", "step-2**63", "int-2**63",
         "future", "end-without-outcome"],
)  # fmt: skip
def test_what_the_api_refuses_import_refuses_naming_line_field_and_limit(
    tmp_path: Path, run: Run, edit: Callable[[dict[str, Any]], None], reason: str
) -> None:
    good, bad = _exported(tmp_path, count=2)
    edit(bad)
    source = _write(tmp_path / "in.jsonl", [good, bad])
    store = tmp_path / "store"
    code, _, err = run("--path", str(store), "import", str(source))
    assert code == 2 and "nothing was imported" in err
    assert f"line 2: {reason}" in err
    assert "line 1" not in err
    assert len(err) < 2_000  # the reason, not the value
    with SelfLearningMemory.open(store) as memory:
        assert memory.stats().episodes == 0


def test_an_id_at_the_api_limit_imports_and_can_be_deleted(tmp_path: Path, run: Run) -> None:
    [document] = _exported(tmp_path)
    document["id"] = "i" * 128
    store = tmp_path / "store"
    code, _, err = run("--path", str(store), "import", str(_write(tmp_path / "in.jsonl",
                                                                   [document])))  # fmt: skip
    assert code == 0, err
    with SelfLearningMemory.open(store) as memory:
        memory.delete_episode("i" * 128)
        assert memory.stats().episodes == 0


class _SecondBatchFails(LibSQLStore):
    """A libSQL store whose second batch write fails, as when the server goes away half
    way through an import."""

    batches = 0

    def import_episodes(self, episodes: Sequence[Episode]) -> None:
        self.batches += 1
        if self.batches == 2:
            raise StoreUnavailableError("the server stopped answering")
        super().import_episodes(episodes)


@pytest.mark.parametrize("checked", [False, True], ids=["lines", "checked"])
def test_a_write_that_fails_half_way_leaves_no_stray_episode(tmp_path: Path, checked: bool) -> None:
    lines = [json.dumps(d).encode() + b"\n" for d in _exported(tmp_path, count=3)]
    config = MemoryConfig(flush_interval_s=None)
    store = _SecondBatchFails(str(tmp_path / "db"))
    with SelfLearningMemory(store, config=config) as memory, CheckedEpisodes() as kept:
        with pytest.raises(StoreUnavailableError):
            if checked:
                scan_lines(memory, lines, None, keep=kept)
                import_checked(memory, kept, batch_size=2)
            else:
                import_episodes(memory, lines, set(), batch_size=2)
        assert store.batches == 2  # the first batch was written, then deleted again
        assert memory.stats().episodes == 0
        assert memory.list_episodes(open_only=True) == []


def test_an_interrupted_import_is_rolled_back(tmp_path: Path) -> None:
    lines = [json.dumps(d).encode() + b"\n" for d in _exported(tmp_path, count=3)]

    def interrupt(done: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with SelfLearningMemory.open(tmp_path / "store", flush_interval_s=None) as memory:
        with pytest.raises(KeyboardInterrupt):
            import_episodes(memory, lines, set(), progress=interrupt, batch_size=1)
        assert memory.stats().episodes == 0


def test_imported_batches_join_the_live_index(tmp_path: Path) -> None:
    """A process whose index is loaded retrieves the imported episodes at once, open ones
    stay out of it, and the progress callback sees each batch."""
    documents = _exported(tmp_path, count=5)
    documents[4] |= {"end_time": None, "outcome": None, "reward": None, "reflection": None}
    lines = [json.dumps(d).encode() + b"\n" for d in documents]
    seen: list[int] = []
    with SelfLearningMemory.open(tmp_path / "store", flush_interval_s=None) as memory:
        assert (
            memory.retrieve_relevant_context("rotate key", TaskContext(domain="ops")).episodes == []
        )
        assert import_episodes(memory, lines, set(), progress=seen.append, batch_size=2) == 5
        assert seen == [2, 4, 5]
        found = memory.retrieve_relevant_context("rotate key", TaskContext(domain="ops"), 10)
        assert {e.episode.id for e in found.episodes} == {d["id"] for d in documents[:4]}
        assert [e.id for e in memory.list_episodes(open_only=True)] == [documents[4]["id"]]


def test_the_write_pass_writes_what_the_check_prepared_reading_the_file_once(
    tmp_path: Path,
) -> None:
    """The checking pass keeps the episodes it accepted, redacted and moved into the
    namespace; the write pass stores exactly those (not the bad line, not the one stored
    already) without reading the source again."""
    documents = _exported(tmp_path, count=4)
    documents[1]["task_description"] = f"Deploy with {SECRET}"
    documents[2]["steps"] = "not a list"
    lines = (json.dumps(d).encode() + b"\n" for d in documents)  # can be read only once
    seen: list[int] = []
    store = tmp_path / "store"
    with (
        SelfLearningMemory.open(store, namespace="copy", flush_interval_s=None) as memory,
        CheckedEpisodes() as kept,
    ):
        assert import_episodes(memory, [json.dumps(documents[3]).encode()], set()) == 1
        scan = scan_lines(memory, lines, None, keep=kept)
        assert [bad.number for bad in scan.bad] == [3] and scan.existing == [4]
        assert scan.good == kept.count == 2
        assert next(lines, None) is None
        assert import_checked(memory, kept, progress=seen.append, batch_size=1) == 2
        assert seen == [1, 2]
        stored = memory.get_episode(documents[1]["id"])
        assert stored.task_description == "Deploy with [REDACTED]"
        assert stored.namespace == "copy"
        assert memory.stats().episodes == 3
        assert [episode.id for _, episode in kept] == [d["id"] for d in documents[:2]]
    assert SECRET.encode() not in _stored_bytes(store)


def test_large_episodes_are_written_in_smaller_batches(tmp_path: Path) -> None:
    documents = _exported(tmp_path, count=5)
    lines = [json.dumps(d).encode() + b"\n" for d in documents]
    seen: list[int] = []
    with SelfLearningMemory.open(tmp_path / "store", flush_interval_s=None) as memory:
        budget = len(lines[0]) * 2  # two lines a batch, though 500 episodes would fit
        assert import_episodes(memory, lines, {3}, progress=seen.append, batch_bytes=budget) == 4
        assert seen == [2, 4]
        assert memory.stats().episodes == 4


def test_what_selfmem_exported_imports_unchanged(tmp_path: Path, run: Run) -> None:
    """Checking is idempotent on its own output: redacted text, truncated tool output and
    replaced surrogates come back byte for byte."""
    source = tmp_path / "source"
    limits = Limits(max_observation_chars=50)
    with SelfLearningMemory.open(source, flush_interval_s=None, limits=limits) as memory:
        eid = memory.start_episode(f"Use {SECRET} on report-\udcff.txt", TaskContext(tags=["a"]))
        memory.log_step(eid, tool="cat", observation="o" * 500, parameters={"token": "abc123"})
        memory.complete_episode(eid, TaskOutcome.partial("half", ["a"], [f"b {SECRET}"]))
        memory.start_episode("still open")
    first = tmp_path / "first.jsonl"
    assert run("--path", str(source), "export", str(first))[0] == 0
    copy = tmp_path / "copy"
    code, _, err = run("--path", str(copy), "import", str(first), "--no-relearn")
    assert code == 0, err
    second = tmp_path / "second.jsonl"
    assert run("--path", str(copy), "export", str(second))[0] == 0
    assert second.read_bytes() == first.read_bytes()
    assert "[REDACTED]" in first.read_text() and "truncated 450 characters" in first.read_text()
