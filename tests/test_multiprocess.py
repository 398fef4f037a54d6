"""Many processes on one store: a real sqld (killed and restarted mid-run), one embedded
directory, and the cache of one process seeing another process's deletes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from selfmem import (
    ContextPattern,
    DecisionPoint,
    NotFoundError,
    SelfLearningMemory,
    ToolSequence,
)
from selfmem.engine.episode_cache import episode_key
from selfmem.storage import EpisodeQuery
from selfmem.storage.libsql_store import LibSQLStore
from selfmem.storage.schema import SCHEMA_VERSION

from .helpers import run_episode
from .sqld_server import SqldServer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def own_sqld(tmp_path: Path) -> Iterator[SqldServer]:
    """A fresh server for one test: it may be killed, restarted, and migrated from scratch."""
    server = SqldServer(tmp_path / "sqld")
    server.start()
    yield server
    server.stop()


def _spawn(
    location: str, namespace: str, workers: int, episodes: int, out: Path, **options: Any
) -> list[tuple[subprocess.Popen[bytes], Path]]:
    """Start ``workers`` child processes that begin writing together."""
    start_at = time.time() + options.pop("delay", 2.0)
    children = []
    for worker in range(workers):
        report = out / f"worker-{worker}.json"
        command = [
            sys.executable, "-m", "tests.multiprocess_worker", location, namespace,
            str(worker), str(episodes), str(report), "--start-at", str(start_at),
        ]  # fmt: skip
        for name, value in options.items():
            command += [f"--{name.replace('_', '-')}", str(value)]
        children.append((subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE), report))
    return children


def _reports(children: list[tuple[subprocess.Popen[bytes], Path]]) -> list[dict[str, Any]]:
    reports = []
    try:
        for child, report in children:
            _, err = child.communicate(timeout=300)
            assert child.returncode == 0, err.decode()[-3000:]
            reports.append(json.loads(report.read_text()))
    finally:
        for child, _ in children:  # never leave writers behind a failed test
            if child.poll() is None:
                child.kill()
                child.wait()
    return reports


def _check_every_write_present_once(
    store: LibSQLStore, namespace: str, acknowledged: list[str], steps: int
) -> None:
    assert len(acknowledged) == len(set(acknowledged))
    rows = store._run(
        "SELECT e.id, e.end_time IS NOT NULL, "
        "(SELECT count(*) FROM steps s WHERE s.episode_id = e.id), "
        "(SELECT count(DISTINCT step_number) FROM steps s WHERE s.episode_id = e.id) "
        "FROM episodes e WHERE e.namespace = ?",
        (namespace,),
    )
    found = {row[0]: row[1:] for row in rows}
    assert len(found) == len(rows)  # ids are unique
    missing = [eid for eid in acknowledged if eid not in found]
    assert not missing, f"{len(missing)} acknowledged episodes are missing"
    for eid in acknowledged:
        complete, count, distinct = found[eid]
        assert complete and count == distinct == steps, (eid, found[eid])
    indexed = [row.episode_id for row in store.index_rows(namespace)]
    assert sorted(indexed) == sorted(acknowledged)  # each searchable exactly once


def _check_learning_counted_every_episode(
    store: LibSQLStore, namespace: str, workers: int, episodes: int
) -> None:
    """Learners in several processes never overwrite each other's counts: the patterns
    every worker's episodes share were counted once per episode, the per-worker ones once
    per episode of that worker."""
    support: dict[str, int] = {}
    families = []
    for p in store.load_patterns(namespace):
        if isinstance(p, DecisionPoint):
            support[p.after_tool] = support.get(p.after_tool, 0) + p.support
        elif isinstance(p, ContextPattern) and p.measure == "outcome":
            key = f"{p.feature}|{p.tool}"
            support[key] = support.get(key, 0) + p.support
        elif isinstance(p, ToolSequence):
            families.append(p)
    assert support["domain=ops|tool_0"] == workers * episodes
    assert support["tool_0"] == support["tool_1"] == workers * episodes  # decision points
    # every run joined one task family, counted once (its sequence's support counts a window
    # of recent runs, not all)
    assert sum(f.members.n for f in families) == workers * episodes
    assert [f.tools for f in families if f.tools] == [["tool_0", "tool_1", "tool_2"]]
    for worker in range(workers):
        assert support[f"tag=w{worker}|tool_0"] == episodes


def _run_eight_writers(location: str, namespace: str, out: Path, **options: Any) -> list[str]:
    reports = _reports(_spawn(location, namespace, 8, 250, out, **options))
    failed = [f for r in reports for f in r["failed"]]
    assert failed == []
    assert [f for r in reports for f in r["learning_failures"]] == []
    acknowledged = [eid for r in reports for eid in r["acknowledged"]]
    assert len(acknowledged) == 8 * 250
    return acknowledged


def test_eight_processes_write_to_one_server(
    own_sqld: SqldServer, namespace: str, tmp_path: Path
) -> None:
    # The server is fresh: the eight processes also race to create the schema.
    acknowledged = _run_eight_writers(own_sqld.url, namespace, tmp_path)
    store = LibSQLStore(own_sqld.url)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        _check_every_write_present_once(store, namespace, acknowledged, steps=3)
        _check_learning_counted_every_episode(store, namespace, 8, 250)
    finally:
        store.close()


def test_eight_processes_share_one_embedded_directory(namespace: str, tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    acknowledged = _run_eight_writers(str(directory), namespace, tmp_path, cache="on")
    store = LibSQLStore(str(directory / "selfmem.db"))
    try:
        _check_every_write_present_once(store, namespace, acknowledged, steps=3)
        _check_learning_counted_every_episode(store, namespace, 8, 250)
    finally:
        store.close()


def test_server_killed_and_restarted_mid_run_loses_no_write(
    own_sqld: SqldServer, namespace: str, tmp_path: Path
) -> None:
    children = _spawn(own_sqld.url, namespace, 4, 150, tmp_path, delay=2.0)
    probe = LibSQLStore(own_sqld.url)
    deadline = time.monotonic() + 60
    while probe.count_episodes(EpisodeQuery(namespace)) < 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    probe.close()
    own_sqld.kill()  # no shutdown: like a crash or a power cut
    time.sleep(1.5)  # every worker hits the dead server and backs off
    own_sqld.start()  # same port, same data
    reports = _reports(children)

    acknowledged = [eid for r in reports for eid in r["acknowledged"]]
    failed = [f for r in reports for f in r["failed"]]
    # Nothing silently lost: every episode is either acknowledged (and then fully stored)
    # or was reported to the caller as an error.
    assert len(acknowledged) + len(failed) == 4 * 150
    assert failed == []  # and with a 30 s retry deadline, a 1.5 s outage is ridden out
    store = LibSQLStore(own_sqld.url)
    try:
        _check_every_write_present_once(store, namespace, acknowledged, steps=3)
    finally:
        store.close()


_DELETE_ELSEWHERE = textwrap.dedent(
    """
    import sys
    from selfmem import SelfLearningMemory
    url, namespace, cache, episode_id = sys.argv[1:]
    with SelfLearningMemory.open(url, namespace=namespace, cache=cache) as other:
        assert other.get_episode(episode_id).id == episode_id
        other.delete_episode(episode_id)
    """
)


def _eventually(check: Any, timeout_s: float = 20.0) -> None:
    """Wait until ``check()`` is true: in server mode a handle follows the change log in the
    background (every ``change_poll_interval_s``), so another process's write reaches it
    shortly after, not at once. The deadline only bounds a failing run."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "another process's change never arrived"
        time.sleep(0.05)


def _gone(memory: SelfLearningMemory, episode_id: str) -> bool:
    try:
        memory.get_episode(episode_id)
    except NotFoundError:
        return True
    return False


def test_cache_never_serves_an_episode_another_process_deleted(
    sqld: SqldServer, namespace: str, tmp_path: Path
) -> None:
    with SelfLearningMemory.open(
        sqld.url, namespace=namespace, cache=str(tmp_path / "cache-a"), flush_interval_s=None
    ) as memory:
        doomed = run_episode(memory, "Rotate the signing keys", ["vault", "deploy"])
        kept = run_episode(memory, "Renew the certificates", ["certbot"])
        assert memory.get_episode(doomed).id == doomed
        assert memory._core.cache.get("episode", episode_key(namespace, doomed)) is not None

        # another process, with its own cache, deletes it
        subprocess.run(
            [sys.executable, "-c", _DELETE_ELSEWHERE, sqld.url, namespace,
             str(tmp_path / "cache-b"), doomed],
            check=True, cwd=ROOT, timeout=60,
        )  # fmt: skip

        _eventually(lambda: _gone(memory, doomed))
        assert memory._core.cache.get("episode", episode_key(namespace, doomed)) is None
        hits = memory.retrieve_relevant_context("rotate signing keys").episodes
        assert doomed not in {hit.episode.id for hit in hits}
        # the rest of the cache keeps serving, under the rotated sealing key
        assert memory.get_episode(kept).id == kept
        assert memory.get_episode(kept).id == kept
        store = memory._core.store
        _eventually(lambda: memory._core.cache_key == store.get_meta("cache_sealing_key"))


_COMPLETE_ELSEWHERE = textwrap.dedent(
    """
    import sys
    from selfmem import SelfLearningMemory
    from tests.helpers import run_episode
    location, namespace, cache = sys.argv[1:]
    with SelfLearningMemory.open(location, namespace=namespace, cache=cache) as other:
        print(run_episode(other, "Rotate the database password", ["vault", "psql"]))
    """
)


@pytest.mark.parametrize("where", ["embedded", "server"])
def test_retrieval_finds_what_another_process_completed(
    where: str, sqld: SqldServer, namespace: str, tmp_path: Path
) -> None:
    location = sqld.url if where == "server" else str(tmp_path / "shared")
    with SelfLearningMemory.open(
        location, namespace=namespace, cache=str(tmp_path / "cache-a"), flush_interval_s=None
    ) as memory:
        mine = run_episode(memory, "Renew the TLS certificates", ["certbot"])
        before = memory.retrieve_relevant_context("rotate the database password").episodes
        assert {hit.episode.id for hit in before} <= {mine}  # the index is loaded now
        theirs = subprocess.run(
            [sys.executable, "-c", _COMPLETE_ELSEWHERE, location, namespace,
             str(tmp_path / "cache-b")],
            check=True, cwd=ROOT, timeout=60, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip

        def found() -> bool:
            hits = memory.retrieve_relevant_context("rotate the database password").episodes
            return bool(hits) and hits[0].episode.id == theirs

        _eventually(found)
