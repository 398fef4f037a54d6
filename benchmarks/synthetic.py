"""Synthetic agent episodes with planted ground truth, for the learning-accuracy benchmark.

``generate(n_episodes, seed)`` returns completed, rewarded :class:`selfmem.Episode` records
drawn from eight task families, together with the :class:`Truth` a pattern learner should
recover from them. The world (see ``FAMILIES``):

- every family has its own ``(domain, task_type, language)`` and a canonical tool sequence;
  ``run_tests`` is the one tool shared by several families, always as their last step;
- three families plant an **error -> recovery** pair: a tool fails with a templated message
  (numbers, paths and names vary, so only the normalized class repeats), a recovery tool runs
  (or nothing, for a plain retry), then the tool is retried successfully;
- two families plant a **decision point**: after a given tool the agent usually runs the good
  branch, but sometimes a bad branch tool instead, after which the episode mostly fails;
- two families plant a **context effect**: their first tool fails (and the agent gives up)
  whenever a given tag is present; tags are drawn for every family, so only that tool is hit;
- **noise**: unrelated tools inserted into a quarter of the gaps between steps, repeated steps,
  and random failures (a failed verification, or an unrelated tool error the agent gives up on)
  that hit every family alike.

The truth is written in the learner's terms (:class:`PatternFact`, :class:`HeuristicFact`):
one fact per planted pattern, plus the facts the plants imply (a context effect's tool error
is never recovered, so the learner should also report that error as having no recovery).
docs/learning_accuracy.md explains every fact and how learned records are matched to it.

The families and message templates are in ``synthetic_world``, the facts in
``synthetic_truth``; this module generates the episodes and re-exports both.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from selfmem import (
    ComplexityLevel,
    Episode,
    ExecutionStep,
    TaskContext,
    TaskOutcome,
)
from selfmem.learning import compute_reward

from .synthetic_truth import HeuristicFact, PatternFact, Truth, truth_of
from .synthetic_world import (
    BASE_LATENCY_MS,
    FAMILIES,
    NAMES,
    NO_RECOVERY,
    NOISE_TOOLS,
    RANDOM_ERRORS,
    RETRY,
    TAGS,
    ContextPlant,
    DecisionPlant,
    ErrorPlant,
    Family,
    error_class,
    fill,
)

__all__ = [
    "FAMILIES",
    "NOISE_TOOLS",
    "NO_RECOVERY",
    "RETRY",
    "ContextPlant",
    "DecisionPlant",
    "ErrorPlant",
    "Family",
    "HeuristicFact",
    "Noise",
    "PatternFact",
    "Truth",
    "error_class",
    "generate",
    "padded",
    "truth_of",
]


@dataclass(frozen=True, slots=True)
class Noise:
    """How much unrelated behaviour the generator mixes in."""

    gap_rate: float = 0.25  # chance that an unrelated tool runs in a gap between steps
    repeat_rate: float = 0.05  # chance that a successful step is immediately run again
    failure_rate: float = 0.07  # chance that an episode fails for an unplanted reason
    tool_error_share: float = 0.5  # of those failures, the share that is a tool error
    partial_share: float = 0.3  # of failed verifications, the share reported as partial


# -- episodes ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Step:
    tool: str
    error: str | None = None
    observation: str = "ok"


@dataclass(slots=True)
class _Draft:
    """An episode before timestamps: its steps and how it ends."""

    family: Family
    tags: list[str]
    steps: list[_Step]
    success: bool = True
    reason: str = ""


def _path(family: Family, rng: random.Random) -> tuple[list[str], bool]:
    """The tools this episode runs in order, and whether it took a planted bad branch."""
    plant = family.decision
    if plant is None or rng.random() >= plant.bad_rate:
        return list(family.tools), False
    return [plant.bad if tool == plant.good else tool for tool in family.tools], True


def _run_tool(draft: _Draft, tool: str, rng: random.Random) -> bool:
    """Append the steps of one canonical tool; False when the agent gives up here."""
    family = draft.family
    context = family.context
    if context and context.tool == tool and context.tag in draft.tags:
        draft.steps.append(_Step(tool, fill(context.message, rng)))
        draft.success, draft.reason = False, f"{tool} failed"
        return False
    plant = family.error
    if plant and plant.tool == tool and rng.random() < plant.rate:
        draft.steps.append(_Step(tool, fill(plant.message, rng)))
        if plant.recovery != RETRY:
            draft.steps.append(_Step(plant.recovery))
    draft.steps.append(_Step(tool))
    return True


def _random_failure(draft: _Draft, rng: random.Random, noise: Noise) -> None:
    """An unplanted failure: an unrelated tool error, or a failed final verification."""
    draft.success = False
    if rng.random() < noise.tool_error_share:
        index = rng.randrange(len(draft.steps))
        failed = _Step(draft.steps[index].tool, fill(rng.choice(RANDOM_ERRORS), rng))
        draft.steps[index:] = [failed]
        draft.reason = f"{failed.tool} failed"
    else:
        draft.steps[-1].observation = "verification failed"
        draft.reason = "the result did not pass verification"


def _draft(family: Family, rng: random.Random, noise: Noise) -> _Draft:
    tags = [tag for tag, rate in TAGS.items() if rng.random() < rate]
    draft = _Draft(family, tags, [])
    tools, bad_branch = _path(family, rng)
    if not all(_run_tool(draft, tool, rng) for tool in tools):
        return draft
    if rng.random() < noise.failure_rate:
        _random_failure(draft, rng, noise)
    elif bad_branch and family.decision and rng.random() >= family.decision.bad_success:
        draft.success, draft.reason = False, "tests failed after the change"
        draft.steps[-1].observation = "3 failed, 41 passed"
    return draft


def _with_noise(steps: list[_Step], rng: random.Random, noise: Noise) -> list[_Step]:
    """Insert unrelated tools into some gaps and repeat some successful steps."""
    noisy: list[_Step] = []
    for step in steps:
        if rng.random() < noise.gap_rate:
            noisy.append(_Step(rng.choice(NOISE_TOOLS)))
        noisy.append(step)
        if step.error is None and rng.random() < noise.repeat_rate:
            noisy.append(_Step(step.tool))
    if rng.random() < noise.gap_rate:
        noisy.append(_Step(rng.choice(NOISE_TOOLS)))
    return noisy


def _execution_steps(
    steps: list[_Step], start: datetime, rng: random.Random
) -> list[ExecutionStep]:
    result = []
    clock = start
    for number, step in enumerate(steps, start=1):
        latency = rng.lognormvariate(0.0, 0.6) * BASE_LATENCY_MS * (8 if step.error else 1)
        clock += timedelta(milliseconds=latency + rng.uniform(200, 3000))
        result.append(
            ExecutionStep(
                tool=step.tool,
                action=f"call {step.tool}",
                observation=None if step.error else step.observation,
                success=step.error is None,
                error=step.error,
                latency_ms=round(latency, 2),
                step_number=number,
                timestamp=clock,
            )
        )
    return result


def _outcome(draft: _Draft, rng: random.Random, noise: Noise) -> TaskOutcome:
    if draft.success:
        return TaskOutcome.success("task completed")
    gave_up = any(step.error for step in draft.steps)
    if not gave_up and rng.random() < noise.partial_share:
        return TaskOutcome.partial("partly done", completed=["analysis"], failed=["change"])
    return TaskOutcome.failure(draft.reason)


def _episode(draft: _Draft, start: datetime, rng: random.Random, noise: Noise) -> Episode:
    family = draft.family
    steps = _execution_steps(_with_noise(draft.steps, rng, noise), start, rng)
    episode = Episode(
        id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        task_description=rng.choice(family.tasks).format(name=rng.choice(NAMES)),
        context=TaskContext(
            domain=family.domain,
            language=family.language,
            tags=draft.tags,
            complexity=rng.choice(list(ComplexityLevel)),
        ),
        task_type=family.task_type,
        start_time=start,
        end_time=steps[-1].timestamp + timedelta(seconds=1),
        steps=steps,
        outcome=_outcome(draft, rng, noise),
    )
    episode.reward = compute_reward(episode)
    return episode


def generate(
    n_episodes: int,
    seed: int,
    *,
    families: tuple[Family, ...] = FAMILIES,
    noise: Noise = Noise(),
    start: datetime | None = None,
    spacing: timedelta = timedelta(minutes=10),
) -> tuple[list[Episode], Truth]:
    """``n_episodes`` completed episodes in time order, and the truth planted in them.

    The same ``seed`` gives the same episodes, and a longer run extends a shorter one
    (timestamps too, given the same ``start``).
    Episodes start ``spacing`` apart from ``start``, which defaults to a time such that the
    last one ends about now: learned patterns decay with age, so the data must be recent.
    """
    rng = random.Random(seed)
    if start is None:
        start = datetime.now(UTC) - spacing * (n_episodes + 1)
    episodes = []
    for index in range(n_episodes):
        draft = _draft(rng.choice(families), rng, noise)
        episodes.append(_episode(draft, start + spacing * index, rng, noise))
    return episodes, truth_of(families)


def padded(episode: Episode, n_steps: int, seed: int) -> Episode:
    """A copy of ``episode`` with unrelated steps inserted until it has ``n_steps`` steps."""
    rng = random.Random(seed)
    steps = [step.model_copy() for step in episode.steps]
    while len(steps) < n_steps:
        index = rng.randrange(len(steps) + 1)
        anchor = steps[min(index, len(steps) - 1)]
        steps.insert(index, ExecutionStep(tool=rng.choice(NOISE_TOOLS), timestamp=anchor.timestamp))
    for number, step in enumerate(steps, start=1):
        step.step_number = number
    copy = episode.model_copy(update={"id": str(uuid.UUID(int=rng.getrandbits(128), version=4))})
    copy.steps = steps
    copy.reward = compute_reward(copy)
    return copy
