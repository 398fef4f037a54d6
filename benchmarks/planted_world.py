"""A second world of agent episodes with planted ground truth, written from a spec.

What it plants (``FAMILIES``, ``ERRORS``):

- **Nine task families.** Each has paraphrased descriptions (three training templates and one
  held-out template, filled with slot words), a context (domain, task type, language, tags)
  and a canonical sequence of four tools. Tools are shared between families (``read_file``,
  ``run_tests``, ``commit_changes``), and two pairs of families share their
  (domain, task type, language) key while needing different tools: ``api_bugfix`` and
  ``dependency_upgrade`` (backend, debugging, python), ``db_migration`` and ``cli_scaffold``
  (backend, code generation, python).
- **Family base success rates** from 0.55 to 0.95, unrelated to any tool.
- **Decision effects** (three): after tool X the agent picks A (65%) or B (35%), and A
  succeeds far more often within the family (+0.5, +0.4, +0.3). The canonical sequence
  contains A.
- **Context effects** (three): within one family, under a feature, an extra tool changes the
  outcome (measured within the family and under the feature, with vs. without the tool).
  ``tag=legacy`` + ``add_characterization_tests`` and ``language=rust`` + ``run_sanitizer``
  raise success (0.3 -> 0.9); ``tag=big_data`` + ``export_raw_data`` lowers it (to 0.15).
  Away from the feature the tool has no effect. The tags ``urgent`` and ``customer_facing``
  (and the language ``cpp``) are decoys with no effect anywhere.
- **Error recoveries** (five), with details (numbers, versions, paths, names) that vary per
  occurrence: a test timeout cured by retrying ``run_tests``; a registry denial cured by
  ``docker_login`` and then ``push_image`` again; two *replacements* (``pip_install`` ->
  ``uv_add``, ``npm_install`` -> ``npm_install_legacy_peers``, the failed tool is abandoned);
  and a Kubernetes ``Forbidden`` with no reliable recovery (the agent gives up at once 40% of
  the time, otherwise retries blindly, which works 15% of the time; giving up fails the
  episode). Errors occur at 15-30% of the calls of their tool in the families listed.
- **Noise**: an unrelated tool (``NOISE_TOOLS``) enters each gap between steps, including
  inside recovery blocks and at both ends, with probability ``NOISE_RATE``; its presence is
  independent of the outcome.
- **Families** are drawn uniformly; an episode succeeds with its family's rate, replaced by
  the decision or context rate when one applies; steps carry parameters, an observation or
  an error, and a latency.
- **Time**: episodes are in order, ``spacing`` apart (5 minutes, or 20 days over all of them
  when that is shorter), the last one starting about now; steps are timestamped by their
  latencies.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from selfmem import TaskType

from .planted_world_plants import (
    ERRORS,
    FAMILIES,
    ContextPlant,
    DecisionPlant,
    ErrorPlant,
    Family,
)

__all__ = [
    "DECOY_TAGS",
    "ERRORS",
    "FAMILIES",
    "NOISE_RATE",
    "NOISE_TOOLS",
    "ContextPlant",
    "DecisionPlant",
    "ErrorPlant",
    "Family",
    "GeneratedEpisode",
    "HeldOut",
    "PlannedStep",
    "World",
    "generate",
]

NOISE_TOOLS = ("list_dir", "grep_code", "git_status", "web_search", "think", "read_docs")
NOISE_RATE = 0.22
DECOY_TAGS: tuple[tuple[str, float], ...] = (("urgent", 0.3), ("customer_facing", 0.15))
UNRELIABLE_RETRY_SUCCESS = 0.15


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """One tool call as it will be logged."""

    tool: str
    parameters: dict[str, object]
    observation: str | None
    error: str | None
    latency_ms: float

    @property
    def success(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class GeneratedEpisode:
    """One episode, with the ground truth of how it was made."""

    family: str
    description: str
    domain: str
    task_type: TaskType
    language: str | None
    tags: tuple[str, ...]
    steps: tuple[PlannedStep, ...]
    success: bool
    start_time: datetime
    chose_good: bool | None  # decision families: whether A was taken
    used_context_tool: bool | None  # context families: whether the extra tool ran
    feature_present: bool | None


@dataclass(frozen=True, slots=True)
class HeldOut:
    """A description of a family never used in training, with its usual context."""

    family: str
    description: str
    domain: str
    task_type: TaskType
    language: str | None


@dataclass(frozen=True, slots=True)
class World:
    """The episodes in time order and one held-out task per family."""

    episodes: tuple[GeneratedEpisode, ...]
    held_out: tuple[HeldOut, ...]


def _fill(template: str, slots: Mapping[str, tuple[str, ...]], pick: Callable[[str], str]) -> str:
    return template.format_map({name: pick(name) for name in slots})


def _description(family: Family, rng: random.Random) -> str:
    template = rng.choice(family.templates[:-1])
    return _fill(template, family.slots, lambda name: rng.choice(family.slots[name]))


def _held_out(family: Family) -> HeldOut:
    description = _fill(family.templates[-1], family.slots, lambda name: family.slots[name][-1])
    return HeldOut(
        family.name, description, family.domain, family.task_type, family.languages[0][0]
    )


def _weighted(options: tuple[tuple[str | None, float], ...], rng: random.Random) -> str | None:
    values = [value for value, _ in options]
    return rng.choices(values, weights=[weight for _, weight in options])[0]


def _step(tool: str, rng: random.Random, error: str | None = None) -> PlannedStep:
    latency = round(rng.lognormvariate(5.5, 0.6), 1)
    target = f"{rng.choice(('src', 'lib', 'app'))}/{rng.choice(('core', 'api', 'util'))}"
    observation = None if error else f"{tool} ok ({rng.randint(1, 40)} items)"
    parameters: dict[str, object] = {"target": target, "run": rng.randint(1, 9999)}
    return PlannedStep(tool, parameters, observation, error, latency)


def _failure_block(plant: ErrorPlant, rng: random.Random) -> tuple[list[PlannedStep], bool]:
    """The failed call and what the agent does next; False when it gives up."""
    block = [_step(plant.tool, rng, plant.message(rng))]
    if plant.recovery == "retry":
        block.append(_step(plant.tool, rng))
    elif plant.recovery == "fix":
        block += [_step(plant.fix_tool or "", rng), _step(plant.tool, rng)]
    elif plant.recovery == "replace":
        block.append(_step(plant.fix_tool or "", rng))
    else:  # no reliable recovery: sometimes a blind retry, which rarely works
        if rng.random() >= 0.6:
            return block, False
        if rng.random() >= UNRELIABLE_RETRY_SUCCESS:
            block.append(_step(plant.tool, rng, plant.message(rng)))
            return block, False
        block.append(_step(plant.tool, rng))
    return block, True


def _plan_tools(
    family: Family, rng: random.Random, feature: bool
) -> tuple[list[str], bool | None, bool | None]:
    """The tools the agent means to run, whether it chose A, whether it ran the extra tool."""
    tools = list(family.canonical)
    chose_good: bool | None = None
    if (plant := family.decision) is not None:
        chose_good = rng.random() < plant.good_share
        if not chose_good:
            at = tools.index(plant.good)
            if plant.bad in tools:
                del tools[at]
            else:
                tools[at] = plant.bad
    used: bool | None = None
    if (context := family.context) is not None:
        used = rng.random() < (context.use_with if feature else context.use_without)
        if used:
            tools.insert(tools.index(context.insert_after) + 1, context.tool)
    return tools, chose_good, used


def _success_rate(
    family: Family, chose_good: bool | None, used: bool | None, feature: bool
) -> float:
    rate = family.base_rate
    if family.decision is not None and chose_good is not None:
        rate = family.decision.good_rate if chose_good else family.decision.bad_rate
    context = family.context
    if context is not None and feature:
        planted = context.rate_with_tool if used else context.rate_without_tool
        rate = rate if planted is None else planted
    return rate


def _with_noise(steps: list[PlannedStep], rng: random.Random) -> list[PlannedStep]:
    noisy: list[PlannedStep] = []
    for step in [*steps, None]:
        if rng.random() < NOISE_RATE:
            noisy.append(_step(rng.choice(NOISE_TOOLS), rng))
        if step is not None:
            noisy.append(step)
    return noisy


def _episode(family: Family, rng: random.Random, start: datetime) -> GeneratedEpisode:
    language = _weighted(family.languages, rng)
    tags = [tag for tag, p in (*family.tags, *DECOY_TAGS) if rng.random() < p]
    feature = family.context is not None and family.context.present(language, tags)
    tools, chose_good, used = _plan_tools(family, rng, feature)
    steps: list[PlannedStep] = []
    gave_up = False
    for tool in tools:
        plant = next((ERRORS[name] for name in family.errors if ERRORS[name].tool == tool), None)
        if plant is not None and rng.random() < plant.rate:
            block, recovered = _failure_block(plant, rng)
            steps += block
            if not recovered:
                gave_up = True
                break
        else:
            steps.append(_step(tool, rng))
    rate = _success_rate(family, chose_good, used, feature)
    success = not gave_up and rng.random() < rate
    return GeneratedEpisode(
        family=family.name,
        description=_description(family, rng),
        domain=family.domain,
        task_type=family.task_type,
        language=language,
        tags=tuple(tags),
        steps=tuple(_with_noise(steps, rng)),
        success=success,
        start_time=start,
        chose_good=chose_good,
        used_context_tool=used,
        feature_present=feature if family.context is not None else None,
    )


def generate(
    n: int, seed: int, *, spacing: timedelta | None = None, end: datetime | None = None
) -> World:
    """``n`` episodes in time order (families drawn uniformly), and one held-out task each."""
    rng = random.Random(f"planted-world/{seed}")
    end = end or datetime.now(UTC) - timedelta(minutes=5)
    spacing = spacing or min(timedelta(minutes=5), timedelta(days=20) / max(n, 1))
    episodes = tuple(
        _episode(rng.choice(FAMILIES), rng, end - spacing * (n - 1 - i)) for i in range(n)
    )
    return World(episodes, tuple(_held_out(family) for family in FAMILIES))
