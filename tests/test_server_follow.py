"""Server mode reads from what the handle holds: the change log is followed in the
background, a handle sees its own writes at once and other handles' within the documented
interval, a query answers while the server does not, and a completed episode is durable
the moment ``complete_episode`` returns (a kill right after loses nothing).

Everything runs against a real sqld; waits poll with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from selfmem import SelfLearningMemory, TaskContext, TaskOutcome
from selfmem.errors import NotFoundError

from .helpers import run_episode
from .sqld_server import SqldServer

#: Generous bounds for waits that normally take milliseconds (the machine may be loaded).
DEADLINE_S = 30.0
INTERVAL_S = 0.2  # the change log poll interval the readers here use


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE_S:.0f} s: {what}")
        time.sleep(0.01)


def ids(memory: SelfLearningMemory, query: str) -> list[str]:
    return [s.episode.id for s in memory.retrieve_relevant_context(query, limit=10).episodes]


@pytest.fixture(params=["lmdb", "no-cache"])
def cache(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], bool | str]:
    """The hot cache of each handle: its own LMDB directory, or none."""
    if request.param == "no-cache":
        return lambda name: False
    return lambda name: str(tmp_path / f"cache-{name}")


@pytest.fixture
def pair(
    sqld: SqldServer, namespace: str, cache: Callable[[str], bool | str]
) -> Iterator[tuple[SelfLearningMemory, SelfLearningMemory]]:
    """Two handles on one server, like two processes: a writer and a reader."""
    options = {"namespace": namespace, "flush_interval_s": None,
               "change_poll_interval_s": INTERVAL_S}  # fmt: skip
    with (
        SelfLearningMemory.open(sqld.url, cache=cache("writer"), learn_inline=True, **options)
        as writer,
        SelfLearningMemory.open(sqld.url, cache=cache("reader"), **options) as reader,
    ):  # fmt: skip
        yield writer, reader


def test_a_reader_sees_another_handles_episode_within_the_interval(
    pair: tuple[SelfLearningMemory, SelfLearningMemory],
) -> None:
    writer, reader = pair
    first = run_episode(writer, "Deploy the web service", ["build", "deploy"])
    assert ids(reader, "deploy the web service") == [first]  # loads the index
    second = run_episode(writer, "Deploy the web service again", ["build", "deploy"])
    eventually(lambda: second in ids(reader, "deploy the web service"), "the new episode")
    found = reader.get_episode(second)
    assert found.is_complete and [s.tool for s in found.steps] == ["build", "deploy"]


def test_a_reader_stops_serving_an_episode_another_handle_deleted(
    pair: tuple[SelfLearningMemory, SelfLearningMemory],
) -> None:
    writer, reader = pair
    gone = run_episode(writer, "Rotate the database credentials", ["vault"])
    kept = run_episode(writer, "Rotate the cache credentials", ["vault"])
    eventually(lambda: {gone, kept} <= set(ids(reader, "rotate credentials")), "both episodes")
    assert reader.get_episode(gone).id == gone  # cached by the reader now
    writer.delete_episode(gone)
    eventually(lambda: gone not in ids(reader, "rotate credentials"), "the deletion")
    with pytest.raises(NotFoundError):
        reader.get_episode(gone)
    assert reader.get_episode(kept).id == kept


def test_a_reader_serves_what_another_handle_learned(
    pair: tuple[SelfLearningMemory, SelfLearningMemory],
) -> None:
    writer, reader = pair
    assert reader.list_patterns(include_unserved=True) == []  # loads the reader's learner
    for index in range(4):
        run_episode(writer, f"Migrate the billing schema {index}", ["dump", "migrate", "check"])
    learned = {p.id for p in writer.list_patterns(include_unserved=True)}
    assert learned
    eventually(
        lambda: {p.id for p in reader.list_patterns(include_unserved=True)} == learned,
        "the writer's patterns",
    )


def test_a_handle_sees_its_own_writes_at_once(
    sqld: SqldServer, namespace: str, cache: Callable[[str], bool | str]
) -> None:
    # the change log is never read in this test's lifetime: what the handle sees of its own
    # writes cannot come from it
    with SelfLearningMemory.open(
        sqld.url, namespace=namespace, cache=cache("own"), flush_interval_s=None,
        change_poll_interval_s=3600,
    ) as memory:  # fmt: skip
        run_episode(memory, "Restart the payment queue", ["kubectl"])
        first = run_episode(memory, "Scale the web workers", ["kubectl"])
        assert ids(memory, "scale the web workers") == [first]
        second = run_episode(memory, "Scale the web workers up", ["kubectl", "verify"])
        assert second in ids(memory, "scale the web workers")  # no wait, no poll
        assert [s.tool for s in memory.get_episode(second).steps] == ["kubectl", "verify"]
        memory.delete_episode(first)
        assert ids(memory, "scale the web workers") == [second]
        with pytest.raises(NotFoundError):
            memory.get_episode(first)


def test_a_query_answers_while_a_writers_request_is_stalled(
    tmp_path: Path, cache: Callable[[str], bool | str]
) -> None:
    server = SqldServer(tmp_path / "stalled")  # its own: this test stops it
    server.start()
    try:
        with SelfLearningMemory.open(
            server.url, cache=cache("stalled"), flush_interval_s=None, request_timeout_s=60,
            retry_deadline_s=120, change_poll_interval_s=INTERVAL_S,
        ) as memory:  # fmt: skip
            done = run_episode(memory, "Renew the TLS certificates", ["certbot"])
            assert ids(memory, "renew the TLS certificates") == [done]
            eid = memory.start_episode("Renew the TLS certificates of the API", TaskContext())
            memory.log_step(eid, tool="certbot", observation="renewed")
            server.pause()  # accepts connections, answers nothing
            try:
                writer = threading.Thread(
                    target=memory.complete_episode, args=(eid, TaskOutcome.success("ok"))
                )
                writer.start()
                # the completion holds the write lock while its request waits for the server
                eventually(memory._core.write_lock.locked, "the completion's request")
                answers: list[list[str]] = []
                reader = threading.Thread(
                    target=lambda: answers.append(ids(memory, "renew the TLS certificates"))
                )
                reader.start()
                reader.join(DEADLINE_S)
                assert not reader.is_alive(), "the query waited for the stalled server"
                assert answers == [[done]]
                assert writer.is_alive()  # still waiting: the query did not need it
            finally:
                server.resume()
            writer.join(DEADLINE_S * 4)
            assert not writer.is_alive()
            assert set(ids(memory, "renew the TLS certificates")) == {done, eid}  # its own write
    finally:
        server.stop()


_COMPLETE_THEN_DIE = """
import os, signal, sys
from selfmem import SelfLearningMemory, TaskContext, TaskOutcome
memory = SelfLearningMemory.open(sys.argv[1], namespace=sys.argv[2], cache=False,
                                 flush_interval_s=None)
eid = memory.start_episode("Back up the orders database", TaskContext(domain="ops"))
for tool in ("pg_dump", "gzip", "upload"):
    memory.log_step(eid, tool=tool, observation=tool + " ok")
memory.complete_episode(eid, TaskOutcome.success("backed up"))
print(eid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # nothing else runs: no close, no atexit, no worker
"""


@pytest.mark.parametrize("mode", ["embedded", "server"])
def test_a_completed_episode_survives_a_kill_right_after_complete(
    mode: str, request: pytest.FixtureRequest, tmp_path: Path, namespace: str
) -> None:
    location = str(tmp_path / "store")
    if mode == "server":
        location = request.getfixturevalue("sqld").url
    child = subprocess.run(
        [sys.executable, "-c", _COMPLETE_THEN_DIE, location, namespace],
        capture_output=True, timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    eid = child.stdout.decode().strip()
    with SelfLearningMemory.open(location, namespace=namespace, cache=False) as memory:
        episode = memory.get_episode(eid)
        assert episode.is_complete and episode.outcome is not None
        assert [s.tool for s in episode.steps] == ["pg_dump", "gzip", "upload"]
        assert ids(memory, "back up the orders database") == [eid]  # indexed from the store


def test_the_change_log_is_followed_again_after_the_server_comes_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = SqldServer(tmp_path / "outage")  # its own: this test stops it
    server.start()
    options = {"flush_interval_s": None, "change_poll_interval_s": INTERVAL_S}
    try:
        with (
            SelfLearningMemory.open(server.url, cache=False, **options) as writer,
            SelfLearningMemory.open(
                server.url, cache=False, request_timeout_s=0.5, retry_deadline_s=1, **options
            ) as reader,
        ):
            first = run_episode(writer, "Compact the event log", ["compact"])
            eventually(lambda: ids(reader, "compact the event log") == [first], "the episode")
            server.pause()
            try:
                eventually(
                    lambda: "following the change log failed" in caplog.text, "a failed poll"
                )
                assert ids(reader, "compact the event log") == [first]  # served meanwhile
            finally:
                server.resume()
            second = run_episode(writer, "Compact the event log again", ["compact"])
            eventually(lambda: second in ids(reader, "compact the event log"), "the new episode")
    finally:
        server.stop()
