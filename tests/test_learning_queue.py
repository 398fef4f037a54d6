"""LearningQueue: a real worker thread, real blocking, no mocks."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from selfmem import Episode, SelfLearningMemory, TaskOutcome
from selfmem.config import MemoryConfig
from selfmem.engine.learning_queue import LearningQueue
from selfmem.errors import ConfigError, StorageError

WAIT_S = 5.0  # generous upper bound for a thread to react; tests never sleep this long


def make(n: int) -> list[Episode]:
    return [Episode(task_description=f"task {i}", outcome=TaskOutcome.success()) for i in range(n)]


class Recorder:
    """Work that records which episodes ran, in which thread, and can block or fail."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.threads: dict[str, str] = {}
        self.calls: dict[str, int] = {}
        self.fail: dict[str, type[Exception]] = {}
        self.block: set[str] = set()
        self.workers: set[threading.Thread] = set()
        self.started = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, episodes: Sequence[Episode]) -> None:
        for episode in episodes:
            self._one(episode)

    def _one(self, episode: Episode) -> None:
        with self._lock:
            self.calls[episode.id] = self.calls.get(episode.id, 0) + 1
        if episode.id in self.block:
            self.started.set()
            assert self.release.wait(WAIT_S), "the test never released the worker"
        if episode.id in self.fail:
            raise self.fail[episode.id](f"cannot learn from {episode.id}")
        with self._lock:
            self.done.append(episode.id)
            self.threads[episode.id] = threading.current_thread().name
            self.workers.add(threading.current_thread())


def drain_then_set(q: LearningQueue, done: threading.Event) -> None:
    q.drain()
    done.set()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def learning_queue(recorder: Recorder) -> Iterator[LearningQueue]:
    q = LearningQueue(recorder)
    yield q
    recorder.release.set()
    q.close()


def test_jobs_run_in_the_worker_and_drain_waits_for_them(
    recorder: Recorder, learning_queue: LearningQueue
) -> None:
    episodes = make(20)
    for ep in episodes:
        learning_queue.submit(ep)
    learning_queue.drain()
    assert recorder.done == [ep.id for ep in episodes]
    assert set(recorder.threads.values()) == {"selfmem-learner"}
    assert learning_queue.pending() == 0
    assert learning_queue.failed == []


def test_drain_really_waits_for_a_slow_job(
    recorder: Recorder, learning_queue: LearningQueue
) -> None:
    (ep,) = make(1)
    recorder.block.add(ep.id)
    learning_queue.submit(ep)
    assert recorder.started.wait(WAIT_S)
    assert learning_queue.pending() == 1
    drained = threading.Event()
    waiter = threading.Thread(target=drain_then_set, args=(learning_queue, drained))
    waiter.start()
    assert not drained.wait(0.2)  # still blocked on the slow job
    recorder.release.set()
    assert drained.wait(WAIT_S)
    waiter.join()
    assert recorder.done == [ep.id]


@pytest.mark.parametrize("error", [ValueError, KeyError, StorageError])
def test_a_job_failing_twice_is_recorded_and_later_jobs_still_run(
    recorder: Recorder, learning_queue: LearningQueue, error: type[Exception]
) -> None:
    bad, *good = make(4)
    recorder.fail[bad.id] = error
    for ep in [bad, *good]:
        learning_queue.submit(ep)
    learning_queue.drain()
    assert learning_queue.failed == [bad.id]
    # tried twice on its own, after the batch it was taken in (if the worker found several)
    assert recorder.calls[bad.id] in (2, 3)
    assert recorder.done == [ep.id for ep in good]


def test_queued_episodes_are_learned_in_batches(recorder: Recorder) -> None:
    episodes = make(5)
    batches: list[int] = []
    recorder.block.add(episodes[0].id)  # hold the worker while the others queue up

    def work(batch: Sequence[Episode]) -> None:
        batches.append(len(batch))
        recorder(batch)

    q = LearningQueue(work)
    try:
        q.submit(episodes[0])
        assert recorder.started.wait(WAIT_S)
        for ep in episodes[1:]:
            q.submit(ep)
        recorder.release.set()
        q.drain()
    finally:
        q.close()
    assert batches == [1, 4]  # one write for everything that was waiting
    assert recorder.done == [ep.id for ep in episodes]


def test_a_job_failing_once_succeeds_on_retry(recorder: Recorder) -> None:
    (ep,) = make(1)
    attempts: list[int] = []

    def flaky(episodes: Sequence[Episode]) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("transient")
        recorder(episodes)

    q = LearningQueue(flaky)
    try:
        q.submit(ep)
        q.drain()
    finally:
        q.close()
    assert len(attempts) == 2
    assert recorder.done == [ep.id]
    assert q.failed == []


def test_an_unexpected_exception_does_not_stop_the_worker(recorder: Recorder) -> None:
    bad, good = make(2)
    recorder.fail[bad.id] = RuntimeError
    q = LearningQueue(recorder)
    try:
        q.submit(bad)
        q.submit(good)
        finished = threading.Event()
        waiter = threading.Thread(target=drain_then_set, args=(q, finished), daemon=True)
        waiter.start()
        assert finished.wait(2.0), "the worker stopped: drain() never returns"
        assert recorder.done == [good.id]
        assert q.failed == [bad.id]
    finally:
        q.close()


def test_full_queue_runs_the_job_in_the_caller_and_loses_nothing(recorder: Recorder) -> None:
    first, queued, overflow = make(3)
    recorder.block.add(first.id)
    q = LearningQueue(recorder, maxsize=1, put_timeout_s=0.05)
    try:
        q.submit(first)
        assert recorder.started.wait(WAIT_S)  # the worker is busy with the first job
        q.submit(queued)  # fills the one slot
        q.submit(overflow)  # no room: runs here, in the caller
        assert recorder.done == [overflow.id]
        assert recorder.threads[overflow.id] == threading.current_thread().name
        recorder.release.set()
        q.drain()
    finally:
        recorder.release.set()
        q.close()
    assert sorted(recorder.done) == sorted(ep.id for ep in (first, queued, overflow))
    assert recorder.threads[first.id] == recorder.threads[queued.id] == "selfmem-learner"
    assert q.failed == []


def test_caller_runs_job_failures_are_recorded_too(recorder: Recorder) -> None:
    first, queued, overflow = make(3)
    recorder.block.add(first.id)
    recorder.fail[overflow.id] = ValueError
    q = LearningQueue(recorder, maxsize=1, put_timeout_s=0.05)
    try:
        q.submit(first)
        assert recorder.started.wait(WAIT_S)
        q.submit(queued)
        q.submit(overflow)
        assert q.failed == [overflow.id]
        recorder.release.set()
        q.drain()
    finally:
        recorder.release.set()
        q.close()
    assert recorder.calls[overflow.id] == 2
    assert recorder.done == [first.id, queued.id]


def test_close_finishes_queued_work_then_stops_the_worker(recorder: Recorder) -> None:
    first, *rest = make(6)
    recorder.block.add(first.id)
    q = LearningQueue(recorder)
    q.submit(first)
    assert recorder.started.wait(WAIT_S)
    for ep in rest:
        q.submit(ep)
    assert q.pending() == 6
    threading.Timer(0.1, recorder.release.set).start()
    q.close()
    assert recorder.done == [first.id, *(ep.id for ep in rest)]
    assert q.pending() == 0
    assert recorder.workers and not any(worker.is_alive() for worker in recorder.workers)


def test_inline_queue_runs_each_job_at_once_with_the_same_retry_handling(
    recorder: Recorder,
) -> None:
    good, bad = make(2)
    recorder.fail[bad.id] = ValueError
    q = LearningQueue(recorder, inline=True)
    q.submit(good)
    assert recorder.done == [good.id]
    assert recorder.threads[good.id] == threading.current_thread().name
    q.submit(bad)
    assert recorder.calls[bad.id] == 2
    assert q.failed == [bad.id]
    q.drain()
    q.close()


def test_submit_after_close_still_learns(recorder: Recorder) -> None:
    q = LearningQueue(recorder)
    q.close()
    (ep,) = make(1)
    q.submit(ep)
    q.drain()
    assert recorder.done == [ep.id]


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="a thread's own nice value is Linux only"
)
def test_asked_to_the_learner_runs_at_a_lower_priority_than_the_callers_thread(
    tmp_path: Path,
) -> None:
    """Asked to, background learning gives way to other processes on a busy machine: the
    worker's nice value is the process's plus ``learner_niceness``, the caller's thread is
    left as it was, and by default (0) the worker is left alone too."""
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    for niceness, expected in ((None, mine), (10, min(19, mine + 10)), (3, min(19, mine + 3))):
        options = {} if niceness is None else {"learner_niceness": niceness}
        seen: list[int] = []

        def work(episodes: Sequence[Episode], seen: list[int] = seen) -> None:
            seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

        config = MemoryConfig().with_options(**options)
        q = LearningQueue(work, niceness=config.learner_niceness)
        q.submit(make(1)[0])
        q.drain()
        q.close()
        assert seen == [expected]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine
    with SelfLearningMemory.open(tmp_path, learner_niceness=10) as memory:  # a handle's too
        eid = memory.start_episode("Deploy the api")
        memory.complete_episode(eid, TaskOutcome.success())
        memory.flush()
        learners = [t for t in threading.enumerate() if t.name == "selfmem-learner"]
        assert learners and all(
            os.getpriority(os.PRIO_PROCESS, t.native_id or 0) == min(19, mine + 10)
            for t in learners
        )


def test_learner_niceness_is_checked_and_read_from_the_environment() -> None:
    with pytest.raises(ConfigError, match="learner_niceness must be between 0 and 19"):
        MemoryConfig(learner_niceness=20)
    with pytest.raises(ConfigError, match="learner_niceness"):
        MemoryConfig(learner_niceness=-1)
    assert MemoryConfig.from_env({"SELFMEM_LEARNER_NICENESS": "0"}).learner_niceness == 0
