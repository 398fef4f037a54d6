"""The demo: a scripted agent records a few episodes, then asks memory for experience."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass

from ..memory import SelfLearningMemory
from ..records.episodes import ExecutionStep, TaskContext, TaskOutcome, TaskType
from .output import count

__all__ = ["NEXT_COMMANDS", "next_commands", "run_demo"]


@dataclass(frozen=True, slots=True)
class _Scripted:
    description: str
    context: TaskContext
    task_type: TaskType
    steps: tuple[ExecutionStep, ...]
    outcome: TaskOutcome


_PY_WEB = TaskContext(domain="web", language="python", framework="fastapi", tags=["api", "tests"])

_SCRIPT = (
    _Scripted(
        "Fix the failing pytest for the {service} /login endpoint",
        _PY_WEB,
        TaskType.DEBUGGING,
        (
            ExecutionStep(tool="run_tests", parameters={"path": "tests/test_login.py"},
                          observation="1 failed: expected 200, got 401", latency_ms=2300),
            ExecutionStep(tool="read_file", parameters={"path": "app/auth.py"},
                          observation="return hash == stored", latency_ms=12),
            ExecutionStep(tool="edit_file", parameters={"path": "app/auth.py"},
                          observation="compare with hmac.compare_digest", latency_ms=40),
            ExecutionStep(tool="run_tests", parameters={"path": "tests/test_login.py"},
                          observation="1 passed", latency_ms=2100),
        ),
        TaskOutcome.success("login test passes", artifacts=["app/auth.py"]),
    ),
    _Scripted(
        "Deploy the {service} API to staging",
        _PY_WEB,
        TaskType.OTHER,
        (
            ExecutionStep(tool="build_image", parameters={"tag": "api:1.4"}, observation="built"),
            ExecutionStep(tool="deploy", parameters={"env": "staging", "token": "ghp_" + "x" * 36},
                          error="migration 0042 not applied: relation users.email missing"),
        ),
        TaskOutcome.failure("deploy failed", error_details="database migration missing"),
    ),
    _Scripted(
        "Deploy the {service} API to staging after running migrations",
        _PY_WEB,
        TaskType.OTHER,
        (
            ExecutionStep(tool="build_image", parameters={"tag": "api:1.4"}, observation="built"),
            ExecutionStep(tool="run_migrations", parameters={"env": "staging"},
                          observation="applied 0042"),
            ExecutionStep(tool="deploy", parameters={"env": "staging"}, observation="healthy"),
        ),
        TaskOutcome.success("staging is healthy"),
    ),
)  # fmt: skip


_SERVICES = ("accounts", "billing", "search")

#: What to run after the demo to look at what it recorded (docs/cli.md shows the same).
NEXT_COMMANDS = (
    ("episode", "list"),
    ("episode", "search", "login test fails", "--domain", "web"),
    ("recommend", "Deploy the payments API to staging"),
    ("stats",),
)


def next_commands(path: str | None, url: str | None, namespace: str | None) -> list[str]:
    """The commands of ``NEXT_COMMANDS`` as a shell line, with the store and namespace
    options the demo was given (none: the defaults and the environment apply again)."""
    options = [
        part
        for flag, value in (("--path", path), ("--url", url), ("--namespace", namespace))
        if value is not None
        for part in (flag, value)
    ]
    return [shlex.join(["selfmem", *options, *command]) for command in NEXT_COMMANDS]


def run_demo(memory: SelfLearningMemory, echo: Callable[[str], None] = print) -> None:
    """Record the scripted episodes into ``memory``, then show what it learned and retrieves."""
    total = len(_SCRIPT) * len(_SERVICES)
    echo(
        f"selfmem demo: recording {count(total, 'agent episode')} in namespace {memory.namespace!r}"
    )
    for service in _SERVICES:
        for scripted in _SCRIPT:
            description = scripted.description.format(service=service)
            eid = memory.start_episode(description, scripted.context, scripted.task_type)
            for step in scripted.steps:
                memory.log_step(eid, step)
            episode = memory.complete_episode(eid, scripted.outcome)
            assert episode.reward is not None and episode.outcome is not None
            status, reward = episode.outcome.status.value, episode.reward.total
            echo(f"  {status:<8} reward {reward:.2f}  {description}")
    memory.flush()  # steps are durable and background learning has caught up
    echo("\nLearned heuristics:")
    for heuristic in memory.list_heuristics(limit=5):
        echo(f"  - {heuristic.explain()}")
    task = "Deploy the payments API to staging"
    echo(f"\nNew task: {task!r}. What does memory suggest?\n")
    result = memory.retrieve_relevant_context(task, _PY_WEB, limit=4)
    for scored in result.episodes:
        echo(f"  {scored.explain()}  {scored.episode.task_description}")
    echo("\nPrompt context:\n")
    echo(result.render(max_tokens=400))
    stats = memory.stats()
    summary = f"{stats.successes} succeeded, {stats.failures} failed"
    echo(
        f"\n{count(stats.episodes, 'episode')} stored ({summary}); "
        f"{count(stats.patterns, 'pattern')} learned."
    )
