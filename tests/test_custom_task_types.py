"""Custom task types: any identifier-shaped name (``planning``, ``code-review``) is stored,
filtered, learned from and carried through every backend, the cache and export/import, while
the known ones stay named constants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfmem import (
    ExecutionStep,
    InvalidInputError,
    SelfLearningMemory,
    TaskContext,
    TaskOutcome,
    TaskType,
)
from selfmem.cli import main
from selfmem.storage import EpisodeQuery, EpisodeStore

from .helpers import cli_on
from .test_store_conformance import finish, make_episode, steps

PLAN = TaskContext(domain="ops", tags=["release"])


def plan_run(memory: SelfLearningMemory, n: int, task_type: str = "planning") -> str:
    eid = memory.start_episode(f"Plan the release of version {n}", PLAN, task_type)
    for tool in ("read_backlog", "estimate", "write_plan"):
        memory.log_step(eid, ExecutionStep(tool=tool, observation=f"{tool} done"))
    memory.complete_episode(eid, TaskOutcome.success("plan written"))
    return eid


def test_known_task_types_stay_named_constants() -> None:
    assert TaskType.DEBUGGING == "debugging" and TaskType("debugging") is TaskType.DEBUGGING
    planning = TaskType("planning")
    assert planning == "planning" and planning.value == "planning" and planning.is_custom
    assert "planning" not in [t.value for t in TaskType]  # listing names the known ones


def test_every_store_round_trips_and_filters_a_custom_task_type(
    store: EpisodeStore, namespace: str
) -> None:
    planned = make_episode(namespace, "Plan the Q3 roadmap", task_type="planning")
    store.create_episode(planned)
    done = finish(store, planned, TaskOutcome.success("agreed"), steps("draft", "review"))
    other = make_episode(namespace, "Fix the login bug", task_type=TaskType.DEBUGGING)
    store.create_episode(other)

    loaded = store.get_episode(namespace, planned.id)
    assert loaded == done and loaded.task_type == "planning"
    found = store.list_episodes(EpisodeQuery(namespace, task_type=TaskType("planning")))
    assert [e.id for e in found] == [planned.id]
    assert store.count_episodes(EpisodeQuery(namespace, task_type=TaskType("code-review"))) == 0


def test_a_custom_task_type_is_filtered_retrieved_and_learned(tmp_path: Path) -> None:
    path = tmp_path / "mem"
    with SelfLearningMemory.open(path, flush_interval_s=None, learn_inline=True) as memory:
        ids = [plan_run(memory, n) for n in range(4)]
        memory.complete_episode(
            memory.start_episode("Fix the flaky release job", PLAN, TaskType.DEBUGGING),
            TaskOutcome.success("fixed"),
        )
        listed = memory.list_episodes(task_type="planning")
        assert sorted(e.id for e in listed) == sorted(ids)
        assert all(e.task_type == "planning" for e in listed)

        context = memory.retrieve_relevant_context("Plan the release", PLAN, task_type="planning")
        assert context.episodes and {s.episode.id for s in context.episodes} <= set(ids)

        patterns = memory.list_patterns()
        learned = [p for p in patterns if getattr(p, "tools", None)]
        assert learned and learned[0].tools == ["read_backlog", "estimate", "write_plan"]
        assert learned[0].context_keys["ops|planning|-"] == 4  # the family's context, as a string
        ranked = memory.recommend_patterns("Plan the next release", PLAN, task_type="planning")
        assert ranked and ranked[0].pattern.id == learned[0].id

    # reopened: episodes come back from the LMDB cache and the store with their type
    with SelfLearningMemory.open(path, flush_interval_s=None) as memory:
        assert memory.get_episode(ids[0]).task_type == "planning"
        assert len(memory.list_episodes(task_type=TaskType("planning"))) == 4
        assert any(p.context_keys.get("ops|planning|-") == 4 for p in memory.list_patterns())


def test_a_bad_task_type_fails_at_the_boundary_naming_the_field(
    in_memory: SelfLearningMemory,
) -> None:
    for bad in ("Planning", "plan ning", "x" * 65):
        with pytest.raises(InvalidInputError) as info:
            in_memory.start_episode("Plan it", task_type=bad)
        assert info.value.field == "task_type" and "lowercase" in str(info.value)
        with pytest.raises(InvalidInputError):
            in_memory.list_episodes(task_type=bad)
    assert in_memory.stats().episodes == 0


def test_cli_filters_exports_and_imports_a_custom_task_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = tmp_path / "a", tmp_path / "b"
    on = {store: cli_on(store, capsys, monkeypatch) for store in (source, target)}

    def cli(store: Path, *args: str) -> str:
        return on[store](*args)

    eid = cli(source, "episode", "start", "Plan the launch", "--task-type", "planning").strip()
    cli(source, "episode", "complete", eid, "--status", "success", "--verdict", "planned")
    cli(source, "episode", "start", "Fix the build", "--task-type", "debugging")
    listed = json.loads(cli(source, "episode", "list", "--task-type", "planning", "--json"))
    assert [row["id"] for row in listed] == [eid]

    dump = tmp_path / "episodes.jsonl"
    cli(source, "export", str(dump))
    cli(target, "import", str(dump))
    listed = json.loads(cli(target, "episode", "list", "--task-type", "planning", "--json"))
    assert [(row["id"], row["task_type"]) for row in listed] == [(eid, "planning")]

    with pytest.raises(SystemExit) as usage:  # argparse's usage error
        main(["--path", str(source), "episode", "list", "--task-type", "Plan It"])
    assert usage.value.code == 2 and "invalid task type 'Plan It'" in capsys.readouterr().err


def test_the_web_ui_filters_by_a_custom_task_type_and_shows_abandoned_runs(
    tmp_path: Path,
) -> None:
    pytest.importorskip("starlette", reason="the dashboard needs selfmem[ui]")
    pytest.importorskip("jinja2", reason="the dashboard needs selfmem[ui]")
    from starlette.testclient import TestClient

    from selfmem.ui import build_app

    with SelfLearningMemory.open(tmp_path / "mem", flush_interval_s=None) as memory:
        planned = plan_run(memory, 1)
        stopped = memory.start_episode("Plan the offsite", PLAN, "planning")
        memory.abandon_episode(stopped, "cancelled")
        memory.complete_episode(memory.start_episode("Fix a bug"), TaskOutcome.success())
        app = build_app(memory, location=str(tmp_path / "mem"))
        client = TestClient(app, base_url="http://127.0.0.1")

        page = client.get("/", params={"task_type": "planning"})
        assert page.status_code == 200
        assert planned in page.text and stopped in page.text and "Fix a bug" not in page.text
        assert 'value="planning"' in page.text  # the filter keeps what was typed
        assert '<option value="debugging">' in page.text  # known types are suggested
        abandoned = client.get("/", params={"outcome": "abandoned"}).text
        assert stopped in abandoned and planned not in abandoned
        assert client.get("/", params={"task_type": "Plan It"}).status_code == 400
        assert "abandoned" in client.get("/health").text
