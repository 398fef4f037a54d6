"""Async twins behave exactly like the sync methods; the public namespace is pinned."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import selfmem
from selfmem import Episode, ExecutionStep, SelfLearningMemory, TaskContext, TaskOutcome


def _scenario_sync(memory: SelfLearningMemory) -> list[Episode]:
    eid = memory.start_episode("Parse the CSV export", TaskContext(domain="data"), "analysis")
    memory.log_step(eid, ExecutionStep(tool="read_csv", observation="1000 rows"))
    memory.log_step(eid, ExecutionStep(tool="validate", error="bad date"))
    memory.complete_episode(
        eid, TaskOutcome.partial("mostly", completed=["parse"], failed=["dates"])
    )
    return memory.list_episodes()


async def _scenario_async(memory: SelfLearningMemory) -> list[Episode]:
    eid = await memory.astart_episode(
        "Parse the CSV export", TaskContext(domain="data"), "analysis"
    )
    await memory.alog_step(eid, ExecutionStep(tool="read_csv", observation="1000 rows"))
    await memory.alog_step(eid, ExecutionStep(tool="validate", error="bad date"))
    await memory.acomplete_episode(
        eid, TaskOutcome.partial("mostly", completed=["parse"], failed=["dates"])
    )
    return await memory.alist_episodes()


def _comparable(episode: Episode) -> dict[str, object]:
    data = episode.model_dump(exclude={"id", "start_time", "end_time", "reflection"})
    for step in data["steps"]:
        step.pop("timestamp")
    return data


async def test_async_twins_match_sync(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path / "sync") as memory:
        sync_result = _scenario_sync(memory)
    async with SelfLearningMemory.open(tmp_path / "async") as memory:
        async_result = await _scenario_async(memory)
        found = await memory.aretrieve_relevant_context("csv export dates")
        assert found.episodes[0].episode.id == async_result[0].id
        assert (await memory.aget_episode(async_result[0].id)).id == async_result[0].id
        assert (await memory.astats()).episodes == 1
        await memory.adelete_episode(async_result[0].id)
        assert await memory.alist_episodes() == []
    assert [_comparable(e) for e in sync_result] == [_comparable(e) for e in async_result]


async def test_concurrent_async_episodes_stay_apart(tmp_path: Path) -> None:
    async with SelfLearningMemory.open(tmp_path) as memory:

        async def agent(n: int) -> str:
            eid = await memory.astart_episode(f"Agent {n} task")
            for i in range(5):
                await memory.alog_step(eid, tool=f"agent{n}-tool{i}")
                await asyncio.sleep(0)
            await memory.acomplete_episode(eid, TaskOutcome.success())
            return eid

        ids = await asyncio.gather(*(agent(n) for n in range(8)))
        for n, eid in enumerate(ids):
            episode = await memory.aget_episode(eid)
            assert [s.tool for s in episode.steps] == [f"agent{n}-tool{i}" for i in range(5)]
            assert [s.step_number for s in episode.steps] == [1, 2, 3, 4, 5]


def test_every_public_method_has_an_async_twin() -> None:
    public = {
        name
        for name, member in inspect.getmembers(SelfLearningMemory, inspect.isfunction)
        if not name.startswith(("_", "a")) and name not in {"open", "scoped"}
    }
    for name in public:
        twin = getattr(SelfLearningMemory, f"a{name}")
        assert inspect.iscoroutinefunction(twin), name


def test_public_namespace_is_pinned() -> None:
    assert set(selfmem.__all__) == {
        "SelfLearningMemory", "MemoryConfig", "Limits", "MemoryStats", "RankingWeights",
        "Reflector", "DeterministicReflector",
        "Episode", "ExecutionStep", "TaskContext", "TaskType", "ComplexityLevel",
        "TaskOutcome", "OutcomeStatus", "RewardScore", "Reflection",
        "RetrievalResult", "ScoredEpisode", "ScoredPattern", "ScoredHeuristic", "Item",
        "PatternKind", "AnyPattern", "ToolSequence", "DecisionPoint", "ErrorRecovery",
        "ContextPattern", "PatternContext", "Heuristic", "HeuristicKind", "HeuristicTrigger",
        "SelfMemError", "ConfigError", "InvalidInputError", "LimitExceededError",
        "NotFoundError", "EpisodeStateError", "StorageError", "AuthenticationError",
        "StoreUnavailableError", "SchemaVersionError", "ConflictError",
        "EmbeddingError", "__version__",
    }  # fmt: skip
    for name in selfmem.__all__:
        assert getattr(selfmem, name) is not None


def test_errors_share_one_root() -> None:
    for name in selfmem.__all__:
        obj = getattr(selfmem, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, selfmem.SelfMemError)
    assert issubclass(selfmem.InvalidInputError, ValueError)
    assert issubclass(selfmem.NotFoundError, LookupError)


def test_importing_selfmem_loads_no_heavy_modules() -> None:
    import subprocess
    import sys

    heavy = ("torch", "sentence_transformers", "libsql", "lmdb", "numpy", "mcp")
    code = f"import sys, selfmem; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
