"""One conformance suite for every EpisodeStore: in-memory, libSQL file, libSQL server."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from selfmem import (
    ConflictError,
    Episode,
    ExecutionStep,
    OutcomeStatus,
    TaskContext,
    TaskOutcome,
    TaskType,
)
from selfmem.learning import compute_reward, reflect
from selfmem.storage import EpisodeQuery, EpisodeStore, InMemoryStore
from selfmem.storage.base import get_episodes

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_episode(namespace: str, description: str = "Deploy the web app", **kw: Any) -> Episode:
    fields: dict[str, Any] = {
        "namespace": namespace,
        "task_description": description,
        "context": TaskContext(domain="web", language="python", tags=["deploy"]),
        "task_type": TaskType.CODE_GENERATION,
    }
    fields.update(kw)
    return Episode(**fields)


def steps(*tools: str, start: int = 1) -> list[ExecutionStep]:
    return [
        ExecutionStep(tool=tool, observation=f"{tool} output", step_number=start + i)
        for i, tool in enumerate(tools)
    ]


def finish(
    store: EpisodeStore, episode: Episode, outcome: TaskOutcome, pending: list[ExecutionStep]
) -> Episode:
    done = episode.model_copy(
        update={
            "steps": [*episode.steps, *pending],
            "end_time": episode.start_time + timedelta(seconds=3),
            "outcome": outcome,
        }
    )
    done.reward = compute_reward(done)
    done.reflection = reflect(done)
    store.finish_episode(done, pending)
    return done


def test_satisfies_protocol(store: EpisodeStore) -> None:
    assert isinstance(store, EpisodeStore)


def test_created_episode_is_open_and_has_no_steps(store: EpisodeStore, namespace: str) -> None:
    episode = make_episode(namespace)
    store.create_episode(episode)
    loaded = store.get_episode(namespace, episode.id)
    assert loaded == episode
    assert not loaded.is_complete


def test_steps_are_appended_in_order(store: EpisodeStore, namespace: str) -> None:
    episode = make_episode(namespace)
    store.create_episode(episode)
    store.append_steps({episode.id: steps("read", "edit")})
    store.append_steps({episode.id: steps("test", start=3)})
    loaded = store.get_episode(namespace, episode.id)
    assert loaded is not None
    assert [s.tool for s in loaded.steps] == ["read", "edit", "test"]
    assert [s.step_number for s in loaded.steps] == [1, 2, 3]


def test_finish_writes_outcome_reward_and_remaining_steps(
    store: EpisodeStore, namespace: str
) -> None:
    episode = make_episode(namespace)
    store.create_episode(episode)
    first = steps("read")
    store.append_steps({episode.id: first})
    done = finish(
        store,
        episode.model_copy(update={"steps": first}),
        TaskOutcome.success("shipped"),
        steps("deploy", start=2),
    )
    loaded = store.get_episode(namespace, episode.id)
    assert loaded == done
    assert loaded.outcome is not None and loaded.outcome.is_success
    assert loaded.reward is not None and loaded.reward.total > 0
    assert [s.tool for s in loaded.steps] == ["read", "deploy"]


def test_revision_increases_on_finish(store: EpisodeStore, namespace: str) -> None:
    episode = make_episode(namespace)
    store.create_episode(episode)
    before = store.episode_revisions(namespace, [episode.id, "missing"])
    finish(store, episode, TaskOutcome.success(), [])
    after = store.episode_revisions(namespace, [episode.id, "missing"])
    assert set(before) == set(after) == {episode.id}
    assert after[episode.id] > before[episode.id]


def _seed(store: EpisodeStore, namespace: str) -> dict[str, Episode]:
    made = {
        "web-ok": make_episode(namespace, "Build login page", start_time=T0),
        "web-fail": make_episode(
            namespace, "Fix the signup form", start_time=T0 + timedelta(hours=1)
        ),
        "data-ok": make_episode(
            namespace, "Clean the sales CSV", start_time=T0 + timedelta(hours=2),
            context=TaskContext(domain="data"), task_type=TaskType.ANALYSIS,
        ),
        "open": make_episode(namespace, "Still running task", start_time=T0 + timedelta(hours=3)),
    }  # fmt: skip
    for episode in made.values():
        store.create_episode(episode)
    finish(store, made["web-ok"], TaskOutcome.success(), steps("browser"))
    finish(store, made["web-fail"], TaskOutcome.failure("validation broke"), steps("browser"))
    finish(store, made["data-ok"], TaskOutcome.success(), steps("pandas"))
    return made


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["open", "data-ok", "web-fail", "web-ok"]),
        ({"domain": "web"}, ["open", "web-fail", "web-ok"]),
        ({"task_type": TaskType.ANALYSIS}, ["data-ok"]),
        ({"outcome": OutcomeStatus.FAILURE}, ["web-fail"]),
        ({"outcome": OutcomeStatus.SUCCESS}, ["data-ok", "web-ok"]),
        ({"open_only": True}, ["open"]),
        ({"open_only": True, "domain": "web"}, ["open"]),
        ({"open_only": True, "domain": "data"}, []),
        ({"completed_only": True}, ["data-ok", "web-fail", "web-ok"]),
        ({"started_after": T0 + timedelta(minutes=30)}, ["open", "data-ok", "web-fail"]),
        ({"started_before": T0 + timedelta(hours=1)}, ["web-ok"]),
        ({"limit": 2}, ["open", "data-ok"]),
        ({"limit": 2, "offset": 2}, ["web-fail", "web-ok"]),
    ],
)
def test_list_filters_and_pages_newest_first(
    store: EpisodeStore, namespace: str, filters: dict[str, Any], expected: list[str]
) -> None:
    made = _seed(store, namespace)
    names = {ep.id: name for name, ep in made.items()}
    listed = store.list_episodes(EpisodeQuery(namespace=namespace, **filters))
    assert [names[ep.id] for ep in listed] == expected
    counted = store.count_episodes(
        EpisodeQuery(
            namespace=namespace,
            **{k: v for k, v in filters.items() if k not in ("limit", "offset")},
        )
    )
    assert counted == (len(made) if "limit" in filters else len(expected))


@pytest.mark.parametrize("oldest_first", [False, True])
def test_pages_after_the_last_episode_list_each_once_in_order(
    store: EpisodeStore, namespace: str, oldest_first: bool
) -> None:
    # seven episodes over three start times: pages must not lose or repeat one that shares
    # its start time with the last of the page before
    made = []
    for i in range(7):
        episode = make_episode(namespace, start_time=T0 + timedelta(minutes=i // 3))
        store.create_episode(episode)
        made.append(episode)
    order = sorted(made, key=lambda e: (e.start_time, e.id), reverse=not oldest_first)
    listed: list[Episode] = []
    after = None
    while True:
        page = store.list_episodes(
            EpisodeQuery(namespace=namespace, limit=2, oldest_first=oldest_first, after=after)
        )
        listed += page
        if len(page) < 2:
            break
        after = (page[-1].start_time, page[-1].id)
    assert [e.id for e in listed] == [e.id for e in order]


def test_list_by_ids_reads_those_episodes_with_their_steps(
    store: EpisodeStore, namespace: str
) -> None:
    ids = []
    for i in range(5):
        episode = make_episode(namespace, f"Task {i}", start_time=T0 + timedelta(minutes=i))
        store.create_episode(episode)
        finish(store, episode, TaskOutcome.success("ok"), steps("read", "write"))
        ids.append(episode.id)
    other = make_episode("elsewhere", "Task 9", id=ids[0] + "-other")
    store.create_episode(other)
    wanted = (ids[3], ids[1], "no-such-id", other.id)
    found = store.list_episodes(EpisodeQuery(namespace=namespace, ids=wanted, limit=10))
    assert [e.id for e in found] == [ids[3], ids[1]]  # newest first, this namespace only
    assert [s.tool for s in found[0].steps] == ["read", "write"]
    assert store.list_episodes(EpisodeQuery(namespace=namespace, ids=(), limit=10)) == []


def test_get_episodes_is_right_with_a_store_that_does_not_filter_by_id(namespace: str) -> None:
    """A store written before ``EpisodeQuery.ids`` lists the newest episodes instead: the
    helper keeps only those asked for and reads the others one by one."""

    class OlderStore(InMemoryStore):
        def list_episodes(self, query: EpisodeQuery) -> list[Episode]:
            return super().list_episodes(dataclasses.replace(query, ids=None))

    store = OlderStore()
    ids = []
    for i in range(6):
        episode = make_episode(namespace, f"Task {i}", start_time=T0 + timedelta(minutes=i))
        store.create_episode(episode)
        finish(store, episode, TaskOutcome.success("ok"), steps("read"))
        ids.append(episode.id)
    found = get_episodes(store, namespace, [ids[0], ids[4], "gone"])
    assert sorted(found) == sorted([ids[0], ids[4]])
    assert found[ids[0]].task_description == "Task 0" and found[ids[0]].steps[0].tool == "read"


def test_list_without_steps(store: EpisodeStore, namespace: str) -> None:
    _seed(store, namespace)
    listed = store.list_episodes(
        EpisodeQuery(namespace=namespace, include_steps=False, completed_only=True)
    )
    assert listed and all(ep.steps == [] for ep in listed)
    with_steps = store.list_episodes(EpisodeQuery(namespace=namespace, completed_only=True))
    assert all(len(ep.steps) == 1 for ep in with_steps)


def test_index_rows_hold_completed_episodes_with_task_and_step_terms(
    store: EpisodeStore, namespace: str
) -> None:
    made = _seed(store, namespace)
    rows = {row.episode_id: row for row in store.index_rows(namespace)}
    assert set(rows) == {made[k].id for k in ("web-ok", "web-fail", "data-ok")}  # not "open"
    assert {"login", "page"} <= set(rows[made["web-ok"].id].term_list())
    assert "pandas" in rows[made["data-ok"].id].term_list()  # from the steps
    assert rows[made["web-fail"].id].outcome == OutcomeStatus.FAILURE.value


def test_namespaces_are_isolated(store: EpisodeStore, namespace: str) -> None:
    made = _seed(store, namespace)
    other = f"{namespace}-other"
    some_id = made["web-ok"].id
    assert store.get_episode(other, some_id) is None
    assert store.list_episodes(EpisodeQuery(namespace=other)) == []
    assert store.count_episodes(EpisodeQuery(namespace=other)) == 0
    assert list(store.index_rows(other)) == []
    assert store.episode_revisions(other, [some_id]) == {}
    assert store.delete_episode(other, some_id) is False
    assert store.get_episode(namespace, some_id) is not None


def test_delete_removes_episode_steps_and_index_row(store: EpisodeStore, namespace: str) -> None:
    made = _seed(store, namespace)
    target = made["web-ok"]
    assert store.delete_episode(namespace, target.id) is True
    assert store.get_episode(namespace, target.id) is None
    assert target.id not in {row.episode_id for row in store.index_rows(namespace)}
    assert store.count_episodes(EpisodeQuery(namespace=namespace)) == 3
    assert store.delete_episode(namespace, target.id) is False


def test_unicode_and_large_text_round_trip(store: EpisodeStore, namespace: str) -> None:
    text = "Überprüfe die Datei 文件 🚀 " + "x" * 20_000
    episode = make_episode(
        namespace, text, metadata={"emoji": "🚀", "nested": {"a": [1, 2.5, None]}}
    )
    store.create_episode(episode)
    store.append_steps(
        {
            episode.id: [
                ExecutionStep(tool="ß-tool", observation=text, step_number=1, parameters={"k": "☃"})
            ]
        },
    )
    loaded = store.get_episode(namespace, episode.id)
    assert loaded is not None
    assert loaded.task_description == text
    assert loaded.steps[0].observation == text
    assert loaded.metadata == {"emoji": "🚀", "nested": {"a": [1, 2.5, None]}}


def test_oldest_first_listing(store: EpisodeStore, namespace: str) -> None:
    made = _seed(store, namespace)
    oldest = store.list_episodes(EpisodeQuery(namespace=namespace, oldest_first=True, limit=2))
    assert [ep.id for ep in oldest] == [made["web-ok"].id, made["web-fail"].id]


def _learned(namespace: str) -> tuple[list[Any], list[Any]]:
    from selfmem.learning import PatternLearner, derive_heuristics

    learner = PatternLearner(namespace)
    for i in range(4):
        episode = make_episode(namespace, f"Deploy {i}", steps=steps("build", "deploy"))
        episode = episode.model_copy(
            update={"end_time": episode.start_time + timedelta(seconds=1),
                    "outcome": TaskOutcome.success()}
        )  # fmt: skip
        learner.observe(episode)
    patterns = learner.all_patterns()
    return patterns, derive_heuristics(learner.patterns())


def test_learned_records_round_trip(store: EpisodeStore, namespace: str) -> None:
    patterns, heuristics = _learned(namespace)
    assert heuristics
    store.save_learning(namespace, patterns, heuristics)
    assert {p.id: p for p in store.load_patterns(namespace)} == {p.id: p for p in patterns}
    assert {h.id: h for h in store.load_heuristics(namespace)} == {h.id: h for h in heuristics}
    assert store.load_patterns(f"{namespace}-other") == []
    assert store.load_heuristics(f"{namespace}-other") == []
    # upsert, not duplicate; removal of a heuristic
    store.save_learning(namespace, patterns, heuristics[1:], [heuristics[0].id])
    assert len(store.load_patterns(namespace)) == len(patterns)
    assert {h.id for h in store.load_heuristics(namespace)} == {h.id for h in heuristics[1:]}
    store.clear_learning(namespace)
    assert store.load_patterns(namespace) == [] and store.load_heuristics(namespace) == []


def test_learning_writes_are_versioned_and_a_stale_writer_is_refused(
    store: EpisodeStore, namespace: str
) -> None:
    patterns, heuristics = _learned(namespace)
    assert store.learning_version(namespace) == 0
    first = store.save_learning(namespace, patterns, heuristics, expected_version=0)
    assert first == store.learning_version(namespace) == 1
    # a second writer that learned from version 0 is refused and nothing of it is written
    with pytest.raises(ConflictError, match="changed since version 0"):
        store.save_learning(namespace, patterns[:1], [], [h.id for h in heuristics],
                            expected_version=0)  # fmt: skip
    assert store.learning_version(namespace) == 1
    assert {h.id for h in store.load_heuristics(namespace)} == {h.id for h in heuristics}
    # a writer up to date goes through; an unchecked write always does
    assert store.save_learning(namespace, patterns, [], expected_version=1) == 2
    assert store.clear_learning(namespace) == 3
    assert store.save_learning(namespace, patterns, heuristics) == 4
    assert store.learning_version(f"{namespace}-other") == 0
