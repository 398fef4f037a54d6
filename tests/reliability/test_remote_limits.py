"""What the documented limits let a caller write, a server lets them read back.

sqld refuses any response over ``--max-response-size`` (10 MB by default in 0.24) with
"Response is too large". One episode of 300 steps of 45 KB, or a dozen items of 900 KB,
is well inside selfmem's limits (2,000 steps of 50,000 characters, 1 MB per item) but far
over that in one answer: reads must come back in pages bounded by size, for every call
that reads them (get, list, retrieve, search, export, vectors).
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest

from selfmem import SelfLearningMemory, TaskContext, TaskOutcome
from selfmem.cli.transfer import export_episodes
from selfmem.storage.libsql_store import LibSQLStore

from ..sqld_server import SqldServer

STEPS = 300
OBSERVATION_CHARS = 45_000  # within max_observation_chars (50,000)
ITEMS = 12
ITEM_BYTES = 900_000  # within max_item_bytes (1,000,000)


def _text(seed: int, size: int) -> str:
    """Words that do not compress into one term, so the text is really ``size`` long."""
    letters = random.Random(seed).randbytes(size // 2 + 8).hex()
    return " ".join(letters[i : i + 7] for i in range(0, len(letters), 7))[:size]


@pytest.fixture
def big_episode(sqld: SqldServer, namespace: str) -> tuple[str, str]:
    """A namespace holding one episode of 300 x 45 KB steps and one small one."""
    with SelfLearningMemory.open(sqld.url, namespace=namespace, cache=False) as memory:
        big = memory.start_episode("Migrate the billing archive", TaskContext(domain="ops"))
        for number in range(STEPS):
            memory.log_step(big, tool="copy_chunk", observation=_text(number, OBSERVATION_CHARS))
        memory.complete_episode(big, TaskOutcome.success("archive migrated"))
        small = memory.start_episode("Rotate the billing keys", TaskContext(domain="ops"))
        memory.log_step(small, tool="vault", observation="rotated")
        memory.complete_episode(small, TaskOutcome.success("rotated"))
    return big, small


def test_an_episode_far_over_the_response_limit_reads_back(
    sqld: SqldServer, namespace: str, big_episode: tuple[str, str]
) -> None:
    big, small = big_episode
    with SelfLearningMemory.open(sqld.url, namespace=namespace, cache=False) as memory:
        episode = memory.get_episode(big)
        assert len(episode.steps) == STEPS
        assert [s.step_number for s in episode.steps] == list(range(1, STEPS + 1))
        assert all(
            s.observation == _text(i, OBSERVATION_CHARS) for i, s in enumerate(episode.steps)
        )
        listed = memory.list_episodes()
        assert {e.id: len(e.steps) for e in listed} == {big: STEPS, small: 1}
        hits = memory.retrieve_relevant_context("billing archive migrate").episodes
        assert big in {hit.episode.id for hit in hits}
        sink = io.StringIO()
        assert export_episodes(memory, sink) == 2
        exported = {
            record["id"]: record for record in map(json.loads, sink.getvalue().splitlines())
        }
        assert len(exported[big]["steps"]) == STEPS


def test_items_far_over_the_response_limit_read_back(sqld: SqldServer, namespace: str) -> None:
    with SelfLearningMemory.open(sqld.url, namespace=namespace, cache=False) as memory:
        for number in range(ITEMS):
            text = _text(1000 + number, ITEM_BYTES - 100)
            memory.put_item(("docs", f"shelf-{number % 3}"), f"doc-{number:02d}", {"text": text})
        found = memory.search_items(("docs",), limit=100)
        by_shelf = sorted((f"shelf-{n % 3}", f"doc-{n:02d}") for n in range(ITEMS))
        assert [item.key for item in found] == [key for _, key in by_shelf]
        assert all(len(item.value["text"]) == ITEM_BYTES - 100 for item in found)
        hit = memory.search_items(("docs",), query=_text(1003, 200), limit=1)
        assert hit[0].key == "doc-03"
        assert memory.get_item(("docs", "shelf-0"), "doc-09") is not None


def test_vectors_far_over_the_response_limit_read_back(sqld: SqldServer, namespace: str) -> None:
    store = LibSQLStore(sqld.url)
    try:
        vectors = [(f"ep-{n:04d}", bytes([n % 251]) * 3072 * 4) for n in range(1000)]  # 12 MB
        for start in range(0, len(vectors), 100):
            store.save_embeddings(namespace, "wide-model", vectors[start : start + 100])
        assert sorted(store.load_embeddings(namespace, "wide-model")) == vectors
    finally:
        store.close()


def test_a_page_bigger_than_a_small_server_limit_is_split(
    tmp_path: Path, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A server configured with a lower response limit than the page budget still answers:
    the page is halved until it fits."""
    server = SqldServer(tmp_path / "sqld", options=("--max-response-size", "600KB"))
    server.start()
    try:
        with SelfLearningMemory.open(server.url, namespace=namespace, cache=False) as memory:
            eid = memory.start_episode("Many medium steps", TaskContext(domain="ops"))
            for number in range(40):
                memory.log_step(eid, tool="read", observation=_text(number, 40_000))
            memory.complete_episode(eid, TaskOutcome.success("done"))
        with SelfLearningMemory.open(server.url, namespace=namespace, cache=False) as fresh:
            assert len(fresh.get_episode(eid).steps) == 40  # read back from the server
        assert "refused a page as too large" in caplog.text
    finally:
        server.stop()
