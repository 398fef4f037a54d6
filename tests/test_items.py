"""Items: key-value documents beside the episodes, on every backend, through the public API."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfmem import (
    InvalidInputError,
    Item,
    LimitExceededError,
    Limits,
    MemoryConfig,
    SelfLearningMemory,
)
from selfmem.embeddings.base import HashingEmbedder
from selfmem.storage.base import EpisodeStore, ItemRow


def _row(path: tuple[str, ...], key: str, value: str = "{}", t: float = 1.0) -> ItemRow:
    return ItemRow(path, key, value, None, None, None, t, t)


class TestItemStoreConformance:
    """The same contract on the in-memory store, a libSQL file and a libSQL server."""

    def test_put_get_replace_keeps_created_at(self, store: EpisodeStore, namespace: str) -> None:
        first = store.items.put_item(namespace, _row(("a", "b"), "k", '{"v": 1}', t=1.0))
        assert first.created_at == 1.0
        second = store.items.put_item(namespace, _row(("a", "b"), "k", '{"v": 2}', t=5.0))
        assert (second.created_at, second.updated_at) == (1.0, 5.0)
        got = store.items.get_item(namespace, ("a", "b"), "k")
        assert got is not None and got.value == '{"v": 2}' and got.created_at == 1.0
        assert store.items.get_item(namespace, ("a",), "k") is None
        assert store.items.get_item("other-namespace", ("a", "b"), "k") is None

    def test_scan_is_by_prefix_and_ordered(self, store: EpisodeStore, namespace: str) -> None:
        for path, key in [(("a", "b"), "2"), (("a",), "z"), (("a", "b"), "1"), (("ab",), "x"),
                          (("a", "b", "c"), "0"), (("b",), "y")]:  # fmt: skip
            store.items.put_item(namespace, _row(path, key))
        under_a = [(r.path, r.key) for r in store.items.scan_items(namespace, ("a",))]
        assert under_a == [(("a",), "z"), (("a", "b"), "1"), (("a", "b"), "2"),
                           (("a", "b", "c"), "0")]  # fmt: skip
        assert len(store.items.scan_items(namespace, ())) == 6
        assert store.items.scan_items("other-namespace", ()) == []
        assert store.items.item_paths(namespace) == [
            ("a",), ("a", "b"), ("a", "b", "c"), ("ab",), ("b",)
        ]  # fmt: skip

    def test_delete_one_and_by_prefix(self, store: EpisodeStore, namespace: str) -> None:
        for path in [("a",), ("a", "b"), ("ab",)]:
            store.items.put_item(namespace, _row(path, "k"))
        assert store.items.delete_items(namespace, ("a",), "k") == 1
        assert store.items.delete_items(namespace, ("a",), "k") == 0
        store.items.put_item(namespace, _row(("a",), "k"))
        assert store.items.delete_items(namespace, ("a",), None) == 2  # ("ab",) is not under it
        assert [r.path for r in store.items.scan_items(namespace, ())] == [("ab",)]

    def test_vectors_round_trip(self, store: EpisodeStore, namespace: str) -> None:
        row = ItemRow(("v",), "k", "{}", "text", b"\x00\x00\x80?", "m1", 1.0, 1.0)
        store.items.put_item(namespace, row)
        assert store.items.get_item(namespace, ("v",), "k") == row


def test_items_survive_reopen_and_stay_in_their_namespace(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path) as memory:
        memory.put_item(("users", "alice"), "prefs", {"theme": "dark", "editor": "vim"})
        memory.scoped("team-b").put_item(("users", "alice"), "prefs", {"theme": "light"})
    with SelfLearningMemory.open(tmp_path) as memory:
        item = memory.get_item(["users", "alice"], "prefs")
        assert isinstance(item, Item)
        assert item.value == {"theme": "dark", "editor": "vim"}
        assert item.namespace == ("users", "alice")
        assert memory.scoped("team-b").get_item(("users", "alice"), "prefs").value == {  # type: ignore[union-attr]
            "theme": "light"
        }
        assert memory.scoped("team-c").search_items(()) == []


def test_put_replaces_and_keeps_created_at(in_memory: SelfLearningMemory) -> None:
    first = in_memory.put_item(("notes",), "n1", {"text": "one"})
    second = in_memory.put_item(("notes",), "n1", {"text": "two"})
    assert second.created_at == first.created_at
    assert second.updated_at >= first.updated_at
    assert in_memory.get_item(("notes",), "n1").value == {"text": "two"}  # type: ignore[union-attr]


def test_lexical_query_ranks_by_relevance_and_respects_index(
    in_memory: SelfLearningMemory,
) -> None:
    in_memory.put_item(("docs",), "a", {"text": "retry the flaky network call with backoff"})
    in_memory.put_item(("docs",), "b", {"text": "network timeouts", "title": "ops notes"})
    in_memory.put_item(("docs",), "c", {"text": "network call backoff"}, index=False)
    in_memory.put_item(("docs",), "d", {"text": "unrelated", "title": "backoff"}, index=["title"])
    found = in_memory.search_items(("docs",), query="network backoff")
    assert [item.key for item in found] == ["a", "d", "b"]
    assert all(item.score is not None and item.score > 0 for item in found)
    assert found[0].score > found[-1].score  # type: ignore[operator]
    # an unindexed item is still listed and filterable, just not matched by a query
    assert "c" in [item.key for item in in_memory.search_items(("docs",))]


def test_nested_index_paths(in_memory: SelfLearningMemory) -> None:
    value = {"parts": [{"text": "alpha"}, {"text": "beta"}], "meta": {"title": "gamma"}}
    in_memory.put_item(("n",), "k", value, index=["parts[*].text", "meta.title"])
    assert [i.key for i in in_memory.search_items(query="beta")] == ["k"]
    assert [i.key for i in in_memory.search_items(query="gamma")] == ["k"]
    in_memory.put_item(("n",), "k", value, index=["parts[0].text"])
    assert in_memory.search_items(query="beta") == []
    with pytest.raises(InvalidInputError, match="not a path"):
        in_memory.put_item(("n",), "k", value, index=["parts[x"])


def test_filters_and_paging(in_memory: SelfLearningMemory) -> None:
    for n in range(6):
        in_memory.put_item(("tasks",), f"t{n}", {"n": n, "status": "done" if n % 2 else "open"})
    in_memory.put_item(("tasks",), "untyped", {"status": "open"})

    def keys(**kw: object) -> list[str]:
        return [item.key for item in in_memory.search_items(("tasks",), **kw)]  # type: ignore[arg-type]

    assert keys(filter={"status": "done"}) == ["t1", "t3", "t5"]
    assert keys(filter={"n": {"$gte": 2, "$lt": 4}}) == ["t2", "t3"]
    assert keys(filter={"n": {"$ne": 0}}) == ["t1", "t2", "t3", "t4", "t5", "untyped"]
    assert keys(filter={"n": {"$gt": 3}, "status": "open"}) == ["t4"]
    assert keys(limit=2, offset=1) == ["t1", "t2"]
    with pytest.raises(InvalidInputError, match=r"\$regex"):
        keys(filter={"n": {"$regex": "x"}})


def test_list_namespaces_with_wildcards_and_depth(in_memory: SelfLearningMemory) -> None:
    for path in [("users", "alice", "prefs"), ("users", "bob", "prefs"), ("users", "bob", "notes"),
                 ("docs", "guides")]:  # fmt: skip
        in_memory.put_item(path, "k", {"x": 1})
    assert in_memory.list_item_namespaces(prefix=("users",), max_depth=2) == [
        ("users", "alice"), ("users", "bob")
    ]  # fmt: skip
    assert in_memory.list_item_namespaces(suffix=("prefs",)) == [
        ("users", "alice", "prefs"), ("users", "bob", "prefs")
    ]  # fmt: skip
    assert in_memory.list_item_namespaces(prefix=("users", "*", "notes")) == [
        ("users", "bob", "notes")
    ]  # fmt: skip
    assert in_memory.list_item_namespaces(limit=1, offset=1) == [("users", "alice", "prefs")]


def test_secrets_are_redacted_before_storage(tmp_path: Path) -> None:
    secret = "sk-live-0123456789abcdefghijklmnop"
    with SelfLearningMemory.open(tmp_path) as memory:
        memory.put_item(("cfg",), "llm", {"api_key": secret, "note": f"token {secret}"})
        stored = memory.get_item(("cfg",), "llm")
        assert stored is not None and secret not in str(stored.value)
    for file in tmp_path.rglob("*"):
        if file.is_file():
            assert secret.encode() not in file.read_bytes(), file


@pytest.mark.parametrize(
    ("namespace", "key", "value", "message"),
    [
        ("users", "k", {}, "tuple of labels"),
        ((), "k", {}, "at least one label"),
        (("a.b", ""), "k", {}, "non-empty string"),
        (("bad\x1flabel",), "k", {}, "control characters"),
        (("ok",), "", {}, "key must be"),
        (("ok",), "k", ["not", "a", "dict"], "JSON object"),
        (("ok",), "k", {"x": object()}, "not JSON-serializable"),
        (("ok",), "k", {"x": float("nan")}, "not JSON-serializable"),
    ],
)
def test_bad_input_is_rejected_clearly(
    in_memory: SelfLearningMemory, namespace: object, key: object, value: object, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        in_memory.put_item(namespace, key, value)  # type: ignore[arg-type]
    assert in_memory.search_items(()) == []


def test_item_size_is_limited() -> None:
    config = MemoryConfig(limits=Limits(max_item_bytes=100))
    with SelfLearningMemory(config=config) as memory:
        with pytest.raises(LimitExceededError, match="value"):
            memory.put_item(("big",), "k", {"text": "x" * 200})
        memory.put_item(("big",), "k", {"text": "small"})
        assert memory.get_item(("big",), "k") is not None


def test_semantic_query_uses_the_embedder(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, embedder=HashingEmbedder()) as memory:
        memory.put_item(("facts",), "1", {"text": "the deploy script needs the staging token"})
        memory.put_item(("facts",), "2", {"text": "lunch is at noon on fridays"})
        found = memory.search_items(("facts",), query="deploying to staging", limit=1)
        assert [item.key for item in found] == ["1"]
        assert found[0].score is not None and 0 < found[0].score <= 1.0


async def test_async_twins(tmp_path: Path) -> None:
    async with SelfLearningMemory.open(tmp_path) as memory:
        await memory.aput_item(("a",), "k", {"text": "hello world"})
        assert (await memory.aget_item(("a",), "k")).value == {"text": "hello world"}  # type: ignore[union-attr]
        assert [i.key for i in await memory.asearch_items(("a",), query="hello")] == ["k"]
        assert await memory.alist_item_namespaces() == [("a",)]
        assert await memory.adelete_item(("a",), "k") is True
        assert await memory.adelete_items(("a",)) == 0
