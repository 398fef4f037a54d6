"""Writes the server committed but whose answer the network lost.

The client retries them; each must take effect exactly once, and the caller must see the
result of the write that happened, not an error about the retry finding it done."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from selfmem import NotFoundError, SelfLearningMemory, TaskContext

from .helpers import learned_summary, run_episode
from .lossy_proxy import LossyProxy
from .sqld_server import SqldServer

OPS = TaskContext(domain="ops", task_type="deploy")
TOOLS = ["build_image", "push_image", "deploy"]


@pytest.fixture
def proxy(sqld: SqldServer) -> Iterator[LossyProxy]:
    lossy = LossyProxy(sqld.port)
    yield lossy
    lossy.close()


def learned(memory: SelfLearningMemory) -> set[tuple[str, str, int, int]]:
    return learned_summary(memory)


@pytest.mark.parametrize(
    "marker",
    [
        b"INSERT INTO episodes",  # start_episode
        b"INSERT OR REPLACE INTO steps",  # the steps, written with the completion
        b"revision = revision + 1",  # complete_episode
        b"INSERT INTO learning_versions",  # what the completion taught
    ],
    ids=["start", "steps", "complete", "learning"],
)
def test_each_write_of_an_episode_takes_effect_once(
    proxy: LossyProxy, namespace: str, marker: bytes
) -> None:
    with SelfLearningMemory.open(proxy.url, namespace=namespace, cache=False) as memory:
        for i in range(3):
            run_episode(memory, f"Deploy the api, run {i}", TOOLS, context=OPS)
        memory.flush()
        proxy.drop_answer_to(marker)
        eid = run_episode(memory, "Deploy the api, run 3", TOOLS, context=OPS)
        memory.flush()
        assert proxy.dropped == 1
        stored = memory.get_episode(eid)
        assert stored.is_complete and [s.tool for s in stored.steps] == TOOLS
        assert memory.stats().episodes == 4
        sequence = next(p for p in memory.list_patterns("tool_sequence") if p.tools == TOOLS)
        assert sequence.support == 4 and eid in sequence.episode_ids
        after = learned(memory)
        memory.relearn()
        assert learned(memory) == after  # learned once, not twice


def test_a_delete_whose_answer_was_lost_succeeds_and_unlearns(
    proxy: LossyProxy, namespace: str
) -> None:
    with SelfLearningMemory.open(proxy.url, namespace=namespace, cache=False) as memory:
        ids = [
            run_episode(memory, f"Deploy the api, run {i}", TOOLS, context=OPS) for i in range(4)
        ]
        memory.flush()
        proxy.drop_answer_to(b"DELETE FROM episodes WHERE id")
        memory.delete_episode(ids[0])  # the retry finds it gone: it was this delete
        assert proxy.dropped == 1
        with pytest.raises(NotFoundError):
            memory.get_episode(ids[0])
        sequence = next(p for p in memory.list_patterns("tool_sequence") if p.tools == TOOLS)
        assert sequence.support == 3 and ids[0] not in sequence.episode_ids
        after = learned(memory)
        memory.relearn()
        assert learned(memory) == after  # forgotten exactly once
        with pytest.raises(NotFoundError):
            memory.delete_episode(ids[0])  # a second delete still reports it missing
