"""Tenants never see each other's episodes, whatever characters their namespaces and ids hold.

Namespaces and episode ids may both contain ``/``: ``("a/b", "x")`` and ``("a", "b/x")`` are
different owners even though ``"a/b" + "/" + "x" == "a" + "/" + "b/x"``. An attacker who can
choose ids (``selfmem import`` keeps them) must not read, or plant, another namespace's
episode through the hot cache, by any front end.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mcp
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from selfmem import (
    Episode,
    ExecutionStep,
    NotFoundError,
    SelfLearningMemory,
    TaskOutcome,
)
from selfmem.cli import main
from selfmem.engine.episode_cache import EPISODE, episode_key
from selfmem.mcp import build_server

Owner = tuple[str, str]  # (namespace, episode id)

_ENV = ("SELFMEM_PATH", "SELFMEM_NAMESPACE", "SELFMEM_DATABASE_URL", "TURSO_DATABASE_URL")


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


def _episode(owner: Owner, secret: str) -> Episode:
    namespace, episode_id = owner
    start = datetime.now(UTC) - timedelta(minutes=5)
    return Episode(
        id=episode_id,
        namespace=namespace,
        task_description=f"Quarterly payroll {secret} report",
        steps=[ExecutionStep(tool="read", observation=f"ledger {secret} balanced")],
        start_time=start,
        end_time=start + timedelta(minutes=1),
        outcome=TaskOutcome.success(f"{secret} filed"),
    )


def _cli(store: Path, namespace: str, *args: str) -> tuple[int, str]:
    """``selfmem --path STORE --namespace NS ARGS...``: exit code and everything it printed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--path", str(store), "--namespace", namespace, *args])
    return code, out.getvalue() + err.getvalue()


def _import(store: Path, owner: Owner, secret: str) -> None:
    """What an attacker can do: import an episode with an id of their choosing."""
    line = store.parent / f"{secret}.jsonl"
    line.write_text(_episode(owner, secret).model_dump_json() + "\n", encoding="utf-8")
    code, printed = _cli(store, owner[0], "import", str(line), "--no-relearn")
    assert code == 0, printed


def _probes(namespace: str, owners: dict[Owner, str]) -> set[str]:
    """Ids worth asking for in ``namespace``: every owner's id, and every id that would
    produce another owner's key if keys were ``namespace + "/" + id``."""
    probes = {episode_id for _, episode_id in owners}
    for other_ns, other_id in owners:
        joined = f"{other_ns}/{other_id}"
        if joined.startswith(f"{namespace}/") and len(joined) > len(namespace) + 1:
            probes.add(joined[len(namespace) + 1 :])
    return probes


def _check(text: str, namespace: str, owners: dict[Owner, str], what: str) -> None:
    """``text``, read in ``namespace``, holds no secret of another namespace."""
    for (owner_ns, _), secret in owners.items():
        if owner_ns != namespace:
            assert secret not in text, f"{what} in {namespace!r} leaked {owner_ns!r}'s episode"


def _check_episode(found: Episode, namespace: str, probe: str, owners: dict[Owner, str]) -> None:
    """A found episode is the one stored under (namespace, probe), with its own content."""
    assert (found.namespace, found.id) == (namespace, probe)
    assert owners[(namespace, probe)] in found.task_description


def _read_everything_in_library(
    memory: SelfLearningMemory, owners: dict[Owner, str], rounds: int = 2
) -> None:
    namespace = memory.namespace
    for _ in range(rounds):  # the first round fills the cache, the second reads from it
        for probe in sorted(_probes(namespace, owners)):
            try:
                found = memory.get_episode(probe)
            except NotFoundError:
                assert (namespace, probe) not in owners
            else:
                _check_episode(found, namespace, probe, owners)
        listed = memory.list_episodes()
        assert {(e.namespace, e.id) for e in listed} == {o for o in owners if o[0] == namespace}
        for (owner_ns, owner_id), secret in owners.items():
            ranked = memory.retrieve_relevant_context(f"payroll {secret}").episodes
            for scored in ranked:  # read through the cache too
                _check_episode(scored.episode, namespace, scored.episode.id, owners)
            if owner_ns == namespace:
                assert owner_id in {s.episode.id for s in ranked}
        for (owner_ns, owner_id), secret in owners.items():
            item = memory.get_item(("notes",), owner_id)
            if owner_ns == namespace:
                assert item is not None and item.value == {"text": secret}
            else:
                assert item is None or item.value != {"text": secret}
            hits = memory.search_items(("notes",), query=secret)
            _check(json.dumps([h.value for h in hits]), namespace, owners, "search_items")
        assert memory.reconcile_cache() == 0  # nothing stale, and no other namespace's entry


async def _read_everything_over_mcp(memory: SelfLearningMemory, owners: dict[Owner, str]) -> None:
    namespace = memory.namespace
    async with mcp.Client(build_server(memory)) as client:
        calls: list[tuple[str, dict[str, Any]]] = [("list_episodes", {})]
        calls += [("get_episode", {"episode_id": p}) for p in sorted(_probes(namespace, owners))]
        calls.append(("retrieve_context", {"task_description": "quarterly payroll report"}))
        for name, arguments in calls:
            result = await client.call_tool(name, arguments)
            text = json.dumps(result.structured_content) + repr(result.content)
            _check(text, namespace, owners, f"MCP {name}")
            if name == "get_episode" and not result.is_error:
                assert result.structured_content is not None
                found = Episode.model_validate(result.structured_content)
                _check_episode(found, namespace, arguments["episode_id"], owners)


def _read_everything_in_cli(store: Path, namespace: str, owners: dict[Owner, str]) -> None:
    commands = [("episode", "list", "--json")]
    commands += [("episode", "show", p, "--json") for p in sorted(_probes(namespace, owners))]
    commands.append(("episode", "search", "quarterly payroll report", "--json"))
    for command in commands:
        code, printed = _cli(store, namespace, *command)
        _check(printed, namespace, owners, f"selfmem {' '.join(command[:2])}")
        if command[1] == "show" and code == 0:
            _check_episode(Episode.model_validate_json(printed), namespace, command[2], owners)


def _isolated(root: Path, first: Owner, second: Owner) -> None:
    owners = {first: "qzalphasecret", second: "qzbravosecret"}
    store = root / "store"
    for owner, secret in owners.items():
        _import(store, owner, secret)
    with SelfLearningMemory.open(store, namespace=first[0], flush_interval_s=None) as memory:
        handles = [memory, memory.scoped(second[0])]
        for handle in handles:  # items: the other stores of a namespace, through the API
            for (owner_ns, owner_id), secret in owners.items():
                if owner_ns == handle.namespace:
                    handle.put_item(("notes",), owner_id, {"text": secret})
        for handle in handles:
            _read_everything_in_library(handle, owners)
        for handle in handles:
            asyncio.run(_read_everything_over_mcp(handle, owners))
        for handle in handles:
            _read_everything_in_cli(store, handle.namespace, owners)
        for handle in handles:  # after the CLI filled the cache too
            _read_everything_in_library(handle, owners, rounds=1)


_PART = st.text(alphabet="ab1:", min_size=1, max_size=4)


@st.composite
def _two_owners(draw: st.DrawFn) -> tuple[Owner, Owner]:
    """Two different (namespace, id) pairs; often one ``namespace/id`` string cut at two
    different slashes, so that joining with ``/`` gives both the same key."""
    if draw(st.booleans()):
        parts = draw(st.lists(_PART, min_size=3, max_size=5))
        cuts = draw(st.lists(st.integers(1, len(parts) - 1), min_size=2, max_size=2, unique=True))
        first, second = (("/".join(parts[:c]), "/".join(parts[c:])) for c in cuts)
    else:
        text = st.text(alphabet="ab1:/", min_size=1, max_size=6)
        first, second = (draw(text), draw(text)), (draw(text), draw(text))
    assume(first[1] != second[1])  # episode ids are unique across the store
    return first, second


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(owners=_two_owners())
def test_no_read_in_one_namespace_returns_another_namespaces_data(
    tmp_path: Path, owners: tuple[Owner, Owner]
) -> None:
    with tempfile.TemporaryDirectory(dir=tmp_path) as root:
        _isolated(Path(root), *owners)


def test_a_parent_namespace_cannot_read_a_child_namespaces_episode(tmp_path: Path) -> None:
    _isolated(tmp_path, ("a/b", "x1"), ("a", "b/q"))
    with SelfLearningMemory.open(tmp_path / "store", namespace="a/b") as child:
        assert child.get_episode("x1").namespace == "a/b"  # cached now
        with pytest.raises(NotFoundError):
            child.scoped("a").get_episode("b/x1")


def test_an_imported_id_cannot_plant_an_episode_in_another_namespace(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _import(store, ("team/alice", "x1"), "qzalicesecret")
    _import(store, ("team", "alice/x1"), "qzmallorysecret")
    with SelfLearningMemory.open(store, namespace="team") as team:
        assert "qzmallorysecret" in team.get_episode("alice/x1").task_description  # cached
        alice = team.scoped("team/alice")
        for _ in range(2):
            assert "qzalicesecret" in alice.get_episode("x1").task_description
            found = alice.retrieve_relevant_context("payroll report").episodes
            assert [s.episode.task_description for s in found] == [
                "Quarterly payroll qzalicesecret report"
            ]
        assert "qzmallorysecret" in team.get_episode("alice/x1").task_description


def test_reconcile_keeps_the_entries_of_nested_namespaces(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _import(store, ("a/b", "x1"), "qzalphasecret")
    with SelfLearningMemory.open(store, namespace="a/b") as child:
        child.get_episode("x1")
        parent = child.scoped("a")
        assert parent.reconcile_cache() == 0
        assert child.reconcile_cache() == 0  # still cached, and current
        assert child._core.cache.keys(EPISODE) == [episode_key("a/b", "x1")]


def test_a_cache_entry_of_another_owner_is_a_logged_miss(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Even a value found under the right key is served only if it names the reader."""
    store = tmp_path / "store"
    _import(store, ("alice", "x1"), "qzalicesecret")
    _import(store, ("mallory", "x2"), "qzmallorysecret")
    with SelfLearningMemory.open(store, namespace="alice") as alice:
        mallory = alice.scoped("mallory")
        mallory.get_episode("x2")
        cache = alice._core.cache
        planted = cache.get(EPISODE, episode_key("mallory", "x2"))
        assert planted is not None
        cache.put(EPISODE, episode_key("alice", "x1"), planted)
        with caplog.at_level(logging.WARNING, logger="selfmem"):
            found = alice.get_episode("x1")
        assert "qzalicesecret" in found.task_description
        assert any("mallory" in r.getMessage() for r in caplog.records)  # logged
