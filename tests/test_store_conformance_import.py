"""The batch write (``import_episodes``) in the conformance suite: every EpisodeStore.

A batch must leave the store exactly as ``create_episode`` + ``finish_episode`` (or
``append_steps`` for an open episode) would, in one transaction: all of it or nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from selfmem import Episode, StorageError, TaskOutcome
from selfmem.learning import compute_reward, reflect
from selfmem.storage import EpisodeQuery, EpisodeStore
from selfmem.storage.libsql_store import LibSQLStore

from .lossy_proxy import LossyProxy
from .sqld_server import SqldServer
from .test_store_conformance import T0, make_episode, steps

_DESCRIPTIONS = ("Build login page", "Fix the signup form", "Clean the sales CSV")


def _completed(namespace: str, n: int, description: str | None = None) -> Episode:
    started = T0 + timedelta(minutes=n)
    episode = make_episode(
        namespace, description or _DESCRIPTIONS[n % 3], start_time=started
    ).model_copy(
        update={
            "steps": steps("browser", "pytest"),
            "end_time": started + timedelta(seconds=5),
            "outcome": TaskOutcome.success("done") if n % 2 else TaskOutcome.failure("broke"),
        }
    )
    episode.reward = compute_reward(episode)
    episode.reflection = reflect(episode)
    return episode


def _open(namespace: str, n: int) -> Episode:
    return make_episode(
        namespace, "Still running task", start_time=T0 + timedelta(minutes=n)
    ).model_copy(update={"steps": steps("read")})


def _batch(namespace: str, size: int) -> list[Episode]:
    return [_open(namespace, n) if n % 5 == 4 else _completed(namespace, n) for n in range(size)]


_OPENED = {"steps": [], "end_time": None, "outcome": None, "reward": None, "reflection": None}


def _one_by_one(store: EpisodeStore, episodes: list[Episode]) -> None:
    for episode in episodes:
        store.create_episode(episode.model_copy(update=_OPENED))
        if episode.is_complete:
            store.finish_episode(episode, episode.steps)
        else:
            store.append_steps({episode.id: episode.steps})


def _state(store: EpisodeStore, namespace: str, ids: list[str]) -> dict[str, object]:
    everything = EpisodeQuery(namespace, limit=10_000, oldest_first=True)
    return {
        "episodes": store.list_episodes(everything),
        "revisions": store.episode_revisions(namespace, ids),
        "index_rows": list(store.index_rows(namespace)),
        "open": store.count_episodes(EpisodeQuery(namespace, open_only=True)),
    }


def test_a_batch_stores_what_single_writes_store(store: EpisodeStore, namespace: str) -> None:
    batch = _batch(namespace, 12)
    singles = [ep.model_copy(update={"id": f"s-{ep.id}"}) for ep in batch]
    other = f"{namespace}-singles"
    _one_by_one(store, [ep.model_copy(update={"namespace": other}) for ep in singles])
    store.import_episodes(batch)
    for episode in batch:
        assert store.get_episode(namespace, episode.id) == episode
    got = _state(store, namespace, [ep.id for ep in batch])
    expected = _state(store, other, [ep.id for ep in singles])
    # the same records apart from the ids and the namespace the reference was written to
    renamed = {f"s-{ep.id}": ep.id for ep in batch}
    for ep in expected["episodes"]:  # type: ignore[attr-defined]
        ep.id, ep.namespace = renamed[ep.id], namespace
    expected["revisions"] = {renamed[k]: v for k, v in expected["revisions"].items()}  # type: ignore[attr-defined]
    expected["index_rows"] = [
        row._replace(episode_id=renamed[row.episode_id])
        for row in expected["index_rows"]  # type: ignore[attr-defined]
    ]
    got_rows = [row.episode_id for row in got["index_rows"]]  # type: ignore[attr-defined]
    assert got_rows == [ep.id for ep in batch if ep.is_complete]  # in the batch's order
    assert got == expected
    assert got["open"] == 2 and set(got["revisions"].values()) == {1, 2}  # type: ignore[attr-defined]


def test_a_stored_id_refuses_the_whole_batch(store: EpisodeStore, namespace: str) -> None:
    stored = _completed(namespace, 0, "Stored earlier by someone")
    store.import_episodes([stored])
    # 250 episodes: on libSQL the clash is in the second multi-row insert, after the first
    batch = [_completed(namespace, n + 1) for n in range(249)]
    clash = _completed(namespace, 300).model_copy(update={"id": stored.id})
    with pytest.raises(StorageError, match=stored.id):
        store.import_episodes([*batch, clash])
    assert store.count_episodes(EpisodeQuery(namespace)) == 1
    assert store.get_episode(namespace, batch[0].id) is None
    assert [row.episode_id for row in store.index_rows(namespace)] == [stored.id]
    assert store.get_episode(namespace, stored.id) == stored


def test_an_id_twice_in_a_batch_is_refused(store: EpisodeStore, namespace: str) -> None:
    first = _completed(namespace, 0)
    again = _completed(namespace, 1).model_copy(update={"id": first.id})
    with pytest.raises(StorageError, match="twice"):
        store.import_episodes([first, _completed(namespace, 2), again])
    assert store.count_episodes(EpisodeQuery(namespace)) == 0


def test_a_batch_found_stored_whole_is_a_retry(store: EpisodeStore, namespace: str) -> None:
    batch = _batch(namespace, 5)
    store.import_episodes(batch)
    before = _state(store, namespace, [ep.id for ep in batch])
    store.import_episodes(batch)  # as when the first commit's answer was lost
    assert _state(store, namespace, [ep.id for ep in batch]) == before
    with pytest.raises(StorageError, match="already exists"):
        store.import_episodes([*batch[:2], _completed(namespace, 9)])


def test_an_empty_batch_does_nothing(store: EpisodeStore, namespace: str) -> None:
    store.import_episodes([])
    assert store.count_episodes(EpisodeQuery(namespace)) == 0


def test_imported_episodes_are_in_the_change_feed(
    libsql_store: LibSQLStore, namespace: str
) -> None:
    store = libsql_store
    cursor = store.change_counter()
    batch = _batch(namespace, 7)
    store.import_episodes(batch)
    changes = store.changes_since(cursor)
    assert changes.completed(namespace) == [ep.id for ep in batch if ep.is_complete]
    assert {c.revision for c in changes.changes if c.namespace == namespace} == {2}


def test_a_failure_mid_batch_leaves_nothing_of_it(
    libsql_store: LibSQLStore, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last statement of the transaction fails: the episodes, steps, search entries
    and change-log rows written before it are all rolled back. (The in-memory store checks
    a batch before it writes anything: the refusal tests above cover it.)"""
    store = libsql_store
    from selfmem.storage import libsql_store
    from selfmem.storage.transport import Statement

    real = libsql_store.import_statements
    monkeypatch.setattr(
        libsql_store, "import_statements",
        lambda episodes: [*real(episodes), Statement("INSERT INTO no_such_table VALUES (1)")],
    )  # fmt: skip
    cursor = store.change_counter()
    batch = _batch(namespace, 230)
    with pytest.raises(StorageError):
        store.import_episodes(batch)
    assert store.count_episodes(EpisodeQuery(namespace)) == 0
    assert list(store.index_rows(namespace)) == []
    assert store.changes_since(cursor).completed(namespace) == []
    monkeypatch.undo()
    store.import_episodes(batch)  # and the same batch goes in afterwards
    assert store.count_episodes(EpisodeQuery(namespace)) == 230


def test_a_batch_whose_commit_answer_was_lost_is_written_once(
    sqld: SqldServer, namespace: str
) -> None:
    """The server committed the batch but the answer never came back: the retry finds it
    stored whole, and says so without an error and without writing it twice."""
    proxy = LossyProxy(sqld.port)
    try:
        store = LibSQLStore(proxy.url)
        cursor = store.change_counter()
        batch = _batch(namespace, 9)
        proxy.drop_answer_to(b"INSERT INTO episodes (id, namespace")
        store.import_episodes(batch)
        assert proxy.dropped == 1
        assert store.count_episodes(EpisodeQuery(namespace)) == 9
        done = [ep.id for ep in batch if ep.is_complete]
        logged = [c.key for c in store.changes_since(cursor).changes if c.namespace == namespace]
        assert logged == done  # once each
        store.close()
    finally:
        proxy.close()


def test_index_rows_stream_in_pages_in_stored_order(
    store: EpisodeStore, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from selfmem.storage import libsql_connection, libsql_store

    monkeypatch.setattr(libsql_store, "PAGE_ROWS", 3)  # a file's keyset pages
    monkeypatch.setattr(libsql_connection, "PAGE_ROWS", 3)  # a server's sized pages
    batch = _batch(namespace, 12)
    store.import_episodes(batch[:7])
    store.import_episodes(batch[7:])
    store.import_episodes([_completed(f"{namespace}-other", 99)])  # not in the namespace
    done = [ep.id for ep in batch if ep.is_complete]
    assert [row.episode_id for row in store.index_rows(namespace)] == done
