"""The records of the labelled retrieval set, and compact builders for writing them.

A :class:`EpisodeSpec` is a past task to store, a :class:`LabelledQuery` a new task with its
graded relevant seeds; ``ctx``, ``steps_from`` and ``seed`` keep the hand-written seeds short.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from selfmem import TaskOutcome, TaskType

__all__ = ["EpisodeSpec", "LabelledQuery", "Step", "ctx", "seed", "steps_from"]


@dataclass(frozen=True, slots=True)
class Step:
    """One tool call of a spec'd episode; ``error`` marks a failed call."""

    tool: str
    action: str
    observation: str = ""
    error: str | None = None

    def as_fields(self) -> dict[str, Any]:
        """Keyword fields for ``SelfLearningMemory.log_step``."""
        fields: dict[str, Any] = {"tool": self.tool, "action": self.action}
        if self.error is not None:
            fields["error"] = self.error
        else:
            fields["observation"] = self.observation
        return fields


@dataclass(frozen=True, slots=True)
class EpisodeSpec:
    """A past task to store: description, context, type, steps and how it ended.

    ``outcome`` is ``"success"``, ``"partial"`` or ``"failure"``; ``verdict`` says why.
    """

    key: str
    description: str
    context: Mapping[str, Any]
    task_type: TaskType
    steps: tuple[Step, ...]
    outcome: str = "success"
    verdict: str = ""

    def task_outcome(self) -> TaskOutcome:
        if self.outcome == "success":
            return TaskOutcome.success(self.verdict)
        if self.outcome == "partial":
            return TaskOutcome.partial(self.verdict, completed=["main change"], failed=["rest"])
        return TaskOutcome.failure(self.verdict or "failed")

    def text(self) -> str:
        """Everything searchable about it: description and step text."""
        parts = [self.description]
        for step in self.steps:
            parts += [step.tool, step.action, step.observation, step.error or ""]
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class LabelledQuery:
    """A new task and its graded relevant seeds (seed key -> 2 exact, 1 related)."""

    text: str
    relevant: Mapping[str, int]
    kind: str
    context: Mapping[str, Any] | None = None
    note: str = field(default="", compare=False)


# -- compact builders -------------------------------------------------------------------------


def ctx(domain: str, language: str | None = None, framework: str | None = None,
        *tags: str) -> dict[str, Any]:  # fmt: skip
    found: dict[str, Any] = {"domain": domain, "tags": list(tags)}
    if language:
        found["language"] = language
    if framework:
        found["framework"] = framework
    return found


def steps_from(*lines: str) -> tuple[Step, ...]:
    """Steps from ``"tool: action => observation"``; a leading ``!`` makes it an error."""
    steps: list[Step] = []
    for line in lines:
        failed = line.startswith("!")
        head, _, result = line.lstrip("!").partition(" => ")
        tool, _, action = head.partition(": ")
        if failed:
            steps.append(Step(tool.strip(), action.strip(), error=result.strip()))
        else:
            steps.append(Step(tool.strip(), action.strip(), result.strip()))
    return tuple(steps)


def seed(
    key: str,
    description: str,
    context: dict[str, Any],
    task_type: TaskType,
    steps: tuple[Step, ...],
    outcome: str = "success",
    verdict: str = "",
) -> EpisodeSpec:
    return EpisodeSpec(key, description, context, task_type, steps, outcome, verdict)
