"""``selfmem import`` relearning in a second process beside the write
(``selfmem.cli.import_learning``): what it learns is what ``relearn()`` learns from the same
episodes, and whenever it cannot apply (the file out of order, a bad line, a failure) the
import still ends with the learning ``relearn()`` gives, or with nothing changed."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from selfmem import ExecutionStep, SelfLearningMemory, TaskContext, TaskOutcome
from selfmem.cli import import_learning, main
from selfmem.cli.import_learning import LearningBeside
from selfmem.cli.transfer import CheckedEpisodes, import_checked, scan_lines

from .helpers import run_episode

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """``run("--path", DIR, "import", FILE)`` -> (exit code, stdout, stderr); every file is
    large enough to learn beside the import."""
    for name in ("SELFMEM_PATH", "SELFMEM_NAMESPACE", "SELFMEM_DATABASE_URL", "TURSO_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.setattr(import_learning, "MIN_BYTES", 0)

    def invoke(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def _history(memory: SelfLearningMemory, runs: int = 24) -> list[str]:
    """Two kinds of task with a decision, errors and recoveries, and runs that followed
    earlier ones' plans."""
    ids = []
    for i in range(runs):
        ctx = TaskContext(domain="web", language="python", tags=["prod"] if i % 3 else [])
        tools = ["checkout", "lint" if i % 2 else "format", "test", "deploy"]
        ids.append(run_episode(memory, f"Deploy the billing API, take {i}", tools,
                               context=ctx, success=i % 4 != 0))  # fmt: skip
        eid = memory.start_episode(f"Rotate the database password, take {i}", ctx)
        memory.log_step(eid, ExecutionStep(tool="vault_read", error="timeout after 30s"))
        memory.log_step(eid, ExecutionStep(tool="vault_read", observation="read"))
        memory.log_step(eid, ExecutionStep(tool="rotate", observation="rotated"))
        if i > 2:
            memory.record_feedback(eid, followed_episode_ids=[ids[-2]])
        memory.complete_episode(eid, TaskOutcome.success("rotated") if i % 5 else
                                TaskOutcome.failure("locked out"))  # fmt: skip
        ids.append(eid)
    return ids


def _learned(path: Path, namespace: str = "default") -> list[str]:
    """Every stored pattern and heuristic, as comparable text."""
    with SelfLearningMemory.open(path, namespace=namespace) as memory:
        patterns = memory.list_patterns(include_unserved=True, limit=10_000)
        heuristics = memory.list_heuristics(limit=10_000)
        return sorted(
            json.dumps(item.model_dump(mode="json"), sort_keys=True)
            for item in [*patterns, *heuristics]
        )


def _relearned(path: Path, namespace: str = "default") -> list[str]:
    with SelfLearningMemory.open(path, namespace=namespace) as memory:
        memory.relearn()
    return _learned(path, namespace)


@pytest.fixture
def exported(tmp_path: Path, run: Run) -> Path:
    with SelfLearningMemory.open(tmp_path / "source", learn_inline=True) as memory:
        _history(memory)
    dump = tmp_path / "history.jsonl"
    assert run("--path", str(tmp_path / "source"), "export", str(dump))[0] == 0
    return dump


def test_export_writes_oldest_first(exported: Path) -> None:
    starts = [json.loads(line)["start_time"] for line in exported.read_text().splitlines()]
    assert starts == sorted(starts) and len(starts) == 48


def test_import_learns_beside_the_write_what_relearn_learns(
    tmp_path: Path, exported: Path, run: Run
) -> None:
    target = tmp_path / "target"
    ns = ("--namespace", "team")
    code, out, err = run("--path", str(target), *ns, "--json", "import", str(exported))
    assert code == 0, err
    assert json.loads(out)["relearned"] == 48
    learned = _learned(target, "team")
    assert len(learned) > 10  # sequences, a decision, a recovery, heuristics
    assert learned == _relearned(target, "team")
    assert _learned(target) == []  # nothing in the default namespace


def _a_year_earlier(line: str) -> str:
    record = json.loads(line)
    for name in ("start_time", "end_time"):
        when = datetime.fromisoformat(record[name])
        record[name] = (when - timedelta(days=365)).isoformat()
    return json.dumps(record) + "\n"


def test_a_history_from_last_year_serves_what_it_taught(
    tmp_path: Path, exported: Path, run: Run
) -> None:
    old = tmp_path / "last_year.jsonl"
    old.write_text("".join(_a_year_earlier(line) for line in exported.read_text().splitlines()))
    target = tmp_path / "target"
    assert run("--path", str(target), "import", str(old))[0] == 0
    with SelfLearningMemory.open(target, learn_inline=True) as memory:
        served = memory.list_patterns()
        assert any(p.kind.value == "error_recovery" for p in served)
        assert memory.find_recovery("vault_read", "timeout after 45s") is not None
        assert memory.recommend_patterns("Deploy the billing API")
        # going live: a new task today does not age what the history taught
        run_episode(memory, "Write the release notes", ["read_changelog", "write_notes"])
        assert [p.id for p in memory.list_patterns()][: len(served)] == [p.id for p in served]
        assert memory.find_recovery("vault_read", "timeout after 45s") is not None
        decayed = memory.pattern_effectiveness([p.id for p in served])
        assert all(decayed[p.id] == pytest.approx(p.confidence) for p in served)


def test_learning_beside_includes_the_episodes_stored_before(
    tmp_path: Path, exported: Path, run: Run
) -> None:
    target = tmp_path / "target"
    lines = exported.read_text().splitlines(keepends=True)
    first, rest = tmp_path / "first.jsonl", tmp_path / "rest.jsonl"
    first.write_text("".join(lines[:20]))
    rest.write_text("".join(lines[20:]))
    assert run("--path", str(target), "import", str(first))[0] == 0
    code, out, err = run("--path", str(target), "--json", "import", str(rest))
    assert code == 0, err
    assert json.loads(out)["relearned"] == 48
    assert _learned(target) == _relearned(target)


def _import_beside(
    memory: SelfLearningMemory, location: Path, source: Path, pause_s: float = 0.0
) -> int | None:
    """The import's passes with a learner beside them, ``pause_s`` between the two; what
    :meth:`finish` returned."""
    with (
        CheckedEpisodes(named=True) as checked,
        LearningBeside(memory, str(location), None, checked) as beside,
    ):
        with source.open("rb") as lines:
            scan_lines(memory, lines, None, keep=checked)
        time.sleep(pause_s)
        import_checked(memory, checked)
        return beside.finish()


def test_a_file_out_of_learning_order_is_relearned_after_the_import(
    tmp_path: Path, exported: Path, run: Run
) -> None:
    lines = exported.read_text().splitlines(keepends=True)
    newest_first = tmp_path / "newest_first.jsonl"
    newest_first.write_text("".join(reversed(lines)))
    target = tmp_path / "target"
    with SelfLearningMemory.open(target) as memory:
        assert _import_beside(memory, target, newest_first) is None  # stopped, wrote nothing
        assert memory.list_patterns(include_unserved=True) == []
    other = tmp_path / "other"
    code, out, err = run("--path", str(other), "--json", "import", str(newest_first))
    assert code == 0, err
    assert json.loads(out)["relearned"] == 48
    assert _learned(other) == _relearned(other) != []


def test_the_learner_beside_reports_what_it_learned(tmp_path: Path, exported: Path) -> None:
    target = tmp_path / "target"
    with SelfLearningMemory.open(target) as memory:
        assert _import_beside(memory, target, exported) == 48
        # the importing process serves what the other one learned
        assert memory.list_patterns(include_unserved=True, limit=10_000)
    assert _learned(target) == _relearned(target)


def test_a_run_that_followed_an_episode_not_yet_written_waits_for_it(
    tmp_path: Path, exported: Path
) -> None:
    """The learner beside has every checked episode long before the write pass stores the
    ones they followed: it must wait, or it learns those runs as following nothing."""
    target = tmp_path / "target"
    with SelfLearningMemory.open(target) as memory:
        assert _import_beside(memory, target, exported, pause_s=3.0) == 48
    assert any('"followed": {"' in p for p in _learned(target))  # the follower runs counted
    assert _learned(target) == _relearned(target)


def test_a_learner_beside_that_cannot_open_the_store_leaves_relearning_to_the_import(
    tmp_path: Path, exported: Path
) -> None:
    not_a_store = tmp_path / "a-file"
    not_a_store.write_text("not a directory")
    target = tmp_path / "target"
    with SelfLearningMemory.open(target) as memory:
        assert _import_beside(memory, not_a_store, exported) is None
        assert memory.list_patterns(include_unserved=True) == []


def test_an_import_refused_for_a_bad_line_learns_nothing(
    tmp_path: Path, exported: Path, run: Run
) -> None:
    target = tmp_path / "target"
    assert run("--path", str(target), "import", str(exported))[0] == 0
    before = _learned(target)
    with SelfLearningMemory.open(tmp_path / "newer", learn_inline=True) as memory:
        run_episode(memory, "Deploy the billing API once more", ["checkout", "deploy"])
    newer = tmp_path / "newer.jsonl"
    assert run("--path", str(tmp_path / "newer"), "export", str(newer))[0] == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text(newer.read_text() + "{not json\n")
    code, _, err = run("--path", str(target), "import", str(bad))
    assert code == 2 and "nothing was imported" in err
    assert _learned(target) == before


_KILLED = """
import sys, time
from selfmem import SelfLearningMemory
from selfmem.cli.import_learning import LearningBeside
from selfmem.cli.transfer import CheckedEpisodes
memory = SelfLearningMemory.open(sys.argv[1])
checked = CheckedEpisodes(named=True)
beside = LearningBeside(memory, sys.argv[1], None, checked)
time.sleep(4)  # started, and waiting for chunks
print(beside._process.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_the_learner_beside_does_not_outlive_a_killed_import(tmp_path: Path) -> None:
    importer = subprocess.Popen(
        [sys.executable, "-c", _KILLED, str(tmp_path / "target")], stdout=subprocess.PIPE, text=True
    )
    assert importer.stdout is not None
    learner = int(importer.stdout.readline())
    os.kill(importer.pid, signal.SIGKILL)
    importer.wait()
    deadline = time.monotonic() + 20
    while _alive(learner) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(learner)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a child of the killed process is reaped by init; a zombie has exited
    state = Path(f"/proc/{pid}/stat")
    return not (state.exists() and state.read_text().split(") ")[1].startswith("Z"))
