"""SelfLearningMemory against a real libSQL server (sqld) started by a fixture."""

from __future__ import annotations

import base64
import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from selfmem import (
    Episode,
    EpisodeStateError,
    ExecutionStep,
    SchemaVersionError,
    SelfLearningMemory,
    StorageError,
    TaskOutcome,
)
from selfmem.errors import AuthenticationError, StoreUnavailableError
from selfmem.storage import EpisodeQuery
from selfmem.storage.libsql_store import LibSQLStore
from selfmem.storage.retry import Failure, RetryPolicy, classify

from .helpers import run_episode
from .sqld_server import SqldServer, free_port

QUICK = RetryPolicy(attempts=2, initial_backoff_s=0.01, max_backoff_s=0.01, deadline_s=1.0)
MARGIN_S = 0.75  # what a deadline may be overrun by: waking up, closing the socket


def test_lifecycle_over_the_server(sqld: SqldServer, namespace: str, tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    with SelfLearningMemory.open(sqld.url, namespace=namespace, cache=cache) as memory:
        eid = run_episode(memory, "Rotate the TLS certificates", ["openssl", "reload_nginx"])
        open_id = memory.start_episode("Left open on purpose")
        memory.log_step(open_id, tool="step_one")
    # a second "process" (fresh handle, no cache) sees everything durable on the server
    with SelfLearningMemory.open(sqld.url, namespace=namespace, cache=False) as other:
        assert [s.tool for s in other.get_episode(eid).steps] == ["openssl", "reload_nginx"]
        orphan = other.list_episodes(open_only=True)
        assert [e.id for e in orphan] == [open_id] and orphan[0].steps[0].tool == "step_one"
        other.complete_episode(open_id, TaskOutcome.success())
        hit = other.retrieve_relevant_context("rotate TLS certificates").episodes[0]
        assert hit.episode.id == eid
        other.delete_episode(eid)
        assert other.stats().episodes == 1


def test_environment_variables_choose_the_server(
    sqld: SqldServer, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SELFMEM_DATABASE_URL", sqld.url)
    monkeypatch.setenv("HOME", str(tmp_path))  # the server's local cache goes under ~/.cache
    with SelfLearningMemory.open(namespace=namespace) as memory:
        run_episode(memory, "Configured by environment", ["a"])
        assert memory.stats().episodes == 1
    assert any((tmp_path / ".cache" / "selfmem").iterdir())


def test_unreachable_server_gives_a_storage_error() -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="cannot reach the libSQL server") as info:
        LibSQLStore(f"http://127.0.0.1:{free_port()}", retry=QUICK)
    assert info.value.attempts == 2 and time.monotonic() - started < 5


def test_a_server_that_never_answers_times_out(sqld: SqldServer) -> None:
    sqld.pause()  # accepts connections, answers nothing
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError, match="timed out"):
            LibSQLStore(sqld.url, retry=QUICK, connect_timeout_s=0.3)
        assert time.monotonic() - started < 0.3 + MARGIN_S
    finally:
        sqld.resume()


def test_a_server_that_stops_answering_mid_session_times_out(
    sqld: SqldServer, namespace: str
) -> None:
    store = LibSQLStore(sqld.url, retry=QUICK, request_timeout_s=0.3)
    try:
        sqld.pause()  # returns once the server is really stopped, not just signalled
        try:
            started = time.monotonic()
            with pytest.raises(StoreUnavailableError, match=r"timed out after 0\.3 s"):
                store.count_episodes(EpisodeQuery(namespace))
            assert time.monotonic() - started < QUICK.deadline_s + MARGIN_S
        finally:
            sqld.resume()
        assert store.count_episodes(EpisodeQuery(namespace)) == 0  # reconnects afterwards
    finally:
        store.close()


def test_a_stopped_server_fails_within_the_retry_deadline(sqld: SqldServer, namespace: str) -> None:
    """The deadline is counted from the start of the first try, and bounds that try too."""
    retry = RetryPolicy(deadline_s=3.0)
    store = LibSQLStore(sqld.url, retry=retry, request_timeout_s=3.0)
    try:
        sqld.pause()
        try:
            started = time.monotonic()
            with pytest.raises(StoreUnavailableError, match="timed out"):
                store.count_episodes(EpisodeQuery(namespace))
            assert time.monotonic() - started < retry.deadline_s + MARGIN_S
        finally:
            sqld.resume()
    finally:
        store.close()


class TricklingServer:
    """Accepts connections on 127.0.0.1 and sends each one byte a second, forever: every
    read gets something before a per-read timeout, so only a deadline ends the wait."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._trickle, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _trickle(self, client: socket.socket) -> None:
        with client:
            for byte in itertools.cycle(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 60):
                try:
                    client.sendall(bytes([byte]))
                except OSError:
                    return
                if self._stop.wait(1.0):
                    return

    def close(self) -> None:
        self._stop.set()
        self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)


def test_a_server_that_trickles_bytes_cannot_hold_open() -> None:
    server = TricklingServer()
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError, match="timed out"):
            LibSQLStore(server.url, connect_timeout_s=2.0)  # the default 30 s retry deadline
        assert time.monotonic() - started < 2.0 + MARGIN_S
    finally:
        server.close()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.fixture
def secured_sqld(tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    """A sqld that requires a JWT signed by an Ed25519 key; yields its URL and private key."""
    ed25519 = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    key = ed25519.Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    key_file = tmp_path / "jwt.key"
    key_file.write_text(_b64(public))
    server = SqldServer(tmp_path / "secured", options=("--auth-jwt-key-file", str(key_file)))
    server.start()
    try:
        yield (
            server.url,
            key.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            ),
        )
    finally:
        server.stop()


def _token(private: bytes) -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    head = _b64(json.dumps({"alg": "EdDSA", "typ": "JWT"}).encode())
    body = _b64(json.dumps({"a": "rw"}).encode())
    signature = Ed25519PrivateKey.from_private_bytes(private).sign(f"{head}.{body}".encode())
    return f"{head}.{body}.{_b64(signature)}"


def test_wrong_or_missing_token_is_an_authentication_error(
    secured_sqld: tuple[str, bytes],
) -> None:
    url, _ = secured_sqld
    for token in (None, "not-a-jwt"):
        started = time.monotonic()
        with pytest.raises(AuthenticationError, match="refused the auth token"):
            SelfLearningMemory.open(url, auth_token=token, cache=False)
        assert time.monotonic() - started < 2  # not retried


def test_token_from_the_environment_opens_the_server(
    secured_sqld: tuple[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, private = secured_sqld
    monkeypatch.setenv("TURSO_DATABASE_URL", url)
    monkeypatch.setenv("TURSO_AUTH_TOKEN", _token(private))
    with SelfLearningMemory.open(cache=False) as memory:
        run_episode(memory, "Authenticated by token", ["a"])
        assert memory.stats().episodes == 1


def test_newer_schema_on_the_server_is_refused(tmp_path: Path) -> None:
    server = SqldServer(tmp_path / "sqld")
    server.start()
    try:
        store = LibSQLStore(server.url)
        store._run("UPDATE selfmem_schema SET version = 999")
        store.close()
        with pytest.raises(SchemaVersionError, match="schema version 999"):
            SelfLearningMemory.open(server.url, cache=False)
    finally:
        server.stop()


def test_retried_writes_are_idempotent(sqld: SqldServer, namespace: str) -> None:
    """A write whose commit answer was lost runs again: it must not fail or duplicate."""
    store = LibSQLStore(sqld.url)
    try:
        episode = Episode(namespace=namespace, task_description="Idempotent")
        store.create_episode(episode)
        store.create_episode(episode)  # the retry of a create that did land
        step = ExecutionStep(tool="a", step_number=1)
        store.append_steps({episode.id: [step]})
        store.append_steps({episode.id: [step]})
        done = episode.model_copy(
            update={"end_time": episode.start_time + timedelta(seconds=1),
                    "outcome": TaskOutcome.success(), "steps": [step]}
        )  # fmt: skip
        revision = store.finish_episode(done, [])
        assert store.finish_episode(done, []) == revision  # the same completion again
        later = done.model_copy(update={"end_time": done.end_time + timedelta(seconds=1)})
        with pytest.raises(EpisodeStateError, match="completed by another handle"):
            store.finish_episode(later, [])  # a different completion is still refused
        assert len(store.get_episode(namespace, episode.id).steps) == 1  # type: ignore[union-attr]
        clash = Episode(namespace=f"{namespace}-x", task_description="Clash")
        clash.id = episode.id
        with pytest.raises(StorageError, match="already exists"):
            store.create_episode(clash)
    finally:
        store.close()


def test_change_feed_reports_completions_and_deletes(sqld: SqldServer, namespace: str) -> None:
    store = LibSQLStore(sqld.url)
    try:
        cursor = store.change_counter()
        kept = run_episode_in(store, namespace, "Kept")
        gone = run_episode_in(store, namespace, "Gone")
        store.delete_episode(namespace, gone)
        changes = store.changes_since(cursor)
        assert changes.complete and changes.cursor == store.change_counter()
        assert changes.completed(namespace) == [kept]
        assert changes.deleted(namespace) == [gone]
        assert store.changes_since(changes.cursor).changes == ()
    finally:
        store.close()


def run_episode_in(store: LibSQLStore, namespace: str, description: str) -> str:
    episode = Episode(namespace=namespace, task_description=description)
    store.create_episode(episode)
    end = episode.start_time + timedelta(seconds=1)
    done = episode.model_copy(update={"end_time": end, "outcome": TaskOutcome.success()})
    store.finish_episode(done, [])
    return episode.id


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("Hrana: `api error: `status=401 Unauthorized, body=...``", Failure.AUTH),
        ("Hrana: `http error: `error trying to connect: tcp connect error: Connection "
         "refused (os error 111)``", Failure.RECONNECT),
        ("Hrana: `api error: `status=400 Bad Request, body=Received an invalid baton``",
         Failure.RECONNECT),
        ("database is locked", Failure.TRANSIENT),
        ("Hrana: `api error: `status=503 Service Unavailable, body=``", Failure.TRANSIENT),
        ("UNIQUE constraint failed: episodes.id", Failure.FATAL),
        ("no such table: episodes", Failure.FATAL),
    ],
)  # fmt: skip
def test_driver_errors_are_classified(message: str, kind: Failure) -> None:
    assert classify(message) is kind


def test_backoff_is_bounded_by_attempts_and_deadline() -> None:
    assert list(RetryPolicy(attempts=1).sleeps()) == []
    pauses = list(RetryPolicy(attempts=4, initial_backoff_s=0.001, max_backoff_s=0.002).sleeps())
    assert len(pauses) == 3 and all(0 < p <= 0.002 for p in pauses)
    started = time.monotonic()
    policy = RetryPolicy(attempts=100, initial_backoff_s=0.05, max_backoff_s=0.05, deadline_s=0.2)
    list(policy.sleeps())
    assert time.monotonic() - started < 0.5


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "db.sqlite")
    store = LibSQLStore(path)
    store._run("UPDATE selfmem_schema SET version = 999")
    store.close()
    with pytest.raises(SchemaVersionError, match="schema version 999"):
        LibSQLStore(path)


def test_closed_store_refuses_work(tmp_path: Path) -> None:
    store = LibSQLStore(str(tmp_path / "db.sqlite"))
    store.close()
    store.close()
    with pytest.raises(StorageError, match="closed"):
        store.get_episode("default", "x")
