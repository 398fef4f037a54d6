"""The seventh planted world: a logistics company's dispatch and fleet-operations desk.

    from benchmarks.planted_seventh import generate
    episodes = generate(2000, seed=0)

Each episode is one ticket (reroute a shipment, assign a driver, clear customs...) handled
with tool calls, drawn from the tables of :mod:`benchmarks.planted_seventh_truth` in the
words of :mod:`benchmarks.planted_seventh_words`. The stream is drawn episode by episode from
one ``random.Random(seed)``, so the first ``n`` episodes of a longer stream are the ``n``
episodes of a shorter one. Episodes start 1 to 4 minutes apart, from 06:00 UTC seven days
before the day of drawing (about 4,000 episodes reach the present), and are complete: outcome,
steps with arguments, result or error, latency and tokens. Nothing in an episode names its
family or what was planted; :func:`generate_runs` gives the family beside each episode.

A run: pick a family by weight; draw its context (domain, locale, tags); resolve each
decision slot and optional tool; now and then skip a canonical step; call the tools, where a
planted error may strike and the agent recovers the right way, a wrong way or gives up;
scatter noise tools between the calls; then the outcome: a failure if the agent stopped on an
error, a likely failure if a step was skipped, otherwise a Bernoulli draw of the family's
base rate plus the decision, optional-tool and tag effects, clipped to [0.03, 0.97].
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from selfmem.records import Episode, ExecutionStep, TaskContext, TaskOutcome, TaskType

from . import planted_seventh_words as words
from .planted_seventh_truth import (
    CLIP,
    DECISION,
    DEPRECATED_CALL_RATE,
    DOMAINS,
    ERROR_OF_TOOL,
    ERRORS,
    FAMILIES,
    FAMILY_NOISE,
    FAMILY_TAG_RATES,
    GLOBAL_NOISE,
    LANGUAGES,
    MAX_TAGS,
    OPTIONAL_TOOL,
    RECOVER_RIGHT,
    RECOVER_WRONG,
    SKIP_FAILS,
    SKIP_RATE,
    TAG_EFFECTS,
    TAG_NOISE,
    TAG_RATES,
    UNRECOVERABLE_RETRY,
    USUAL_DOMAIN,
    Decision,
    Family,
    PlantedError,
)

# The stream starts on a fixed day: the same episodes (times and ids included) on any day.
START = datetime(2025, 3, 3, 6, tzinfo=UTC)
_DEPRECATED = next(e for e in ERRORS if e.mode == "replace")

# one call: (tool, error text or None)
Call = tuple[str, str | None]


@dataclass
class Run:
    """One drawn run: its planted family, what was chosen, and the episode."""

    family: str
    episode: Episode
    choices: dict[str, str] = field(default_factory=dict)  # decision -> option taken
    optional: list[str] = field(default_factory=list)  # optional tools called
    skipped: str | None = None  # the canonical step left out, if any


@dataclass
class _Draft:
    family: Family
    context: TaskContext
    values: dict[str, str]
    tools: list[str] = field(default_factory=list)
    effect: float = 0.0


def generate(n: int, seed: int) -> list[Episode]:
    """``n`` episodes in time order, deterministic from ``seed``."""
    return [run.episode for run in generate_runs(n, seed)]


def generate_runs(n: int, seed: int) -> list[Run]:
    """The same ``n`` runs as :func:`generate`, each with its planted family and choices."""
    rng = random.Random(seed)
    start = START
    runs = []
    for _ in range(n):
        start += timedelta(seconds=rng.randint(60, 240))
        runs.append(_run(rng, start))
    return runs


def _run(rng: random.Random, start: datetime) -> Run:
    family = rng.choices(FAMILIES, weights=[f.weight for f in FAMILIES])[0]
    context = _context(rng, family)
    values = words.slots(rng)
    task = words.task(family.name, rng, values)
    draft = _Draft(family, context, values)
    run = Run(family.name, Episode(task_description=task, start_time=start))
    _plan(rng, draft, run)
    calls, stopped = _execute(rng, draft.tools, values)
    blocks = _with_noise(rng, calls, family, context, stopped)
    success = _outcome(rng, draft, stopped, run.skipped is not None)
    run.episode = _episode(rng, draft, task, start, blocks, success, stopped)
    return run


def _context(rng: random.Random, family: Family) -> TaskContext:
    other = next(d for d in DOMAINS if d != family.domain)
    domain = family.domain if rng.random() < USUAL_DOMAIN else other
    language = rng.choices(list(LANGUAGES), weights=list(LANGUAGES.values()))[0]
    rates = TAG_RATES | FAMILY_TAG_RATES.get(family.name, {})
    tags = [tag for tag, rate in rates.items() if rng.random() < rate]
    while len(tags) > MAX_TAGS:
        tags.pop(rng.randrange(len(tags)))
    return TaskContext(domain=domain, language=language, tags=tags)


# ---------------------------------------------------------------------------------------
# The plan: decisions, optional tools, a skipped step, and the success rate they make
# ---------------------------------------------------------------------------------------


def _plan(rng: random.Random, draft: _Draft, run: Run) -> None:
    context = draft.context
    draft.effect = sum(TAG_EFFECTS.get(tag, 0.0) for tag in context.tags)
    fixed = [i for i, s in enumerate(draft.family.steps) if s[0] not in "@?"]
    skip = rng.choice(fixed[1:]) if rng.random() < SKIP_RATE else None
    for i, step in enumerate(draft.family.steps):
        if step.startswith("@"):
            draft.tools.append(_decide(rng, DECISION[step[1:]], draft, run))
        elif step.startswith("?"):
            _maybe_optional(rng, step[1:], draft, run)
        elif i == skip:
            run.skipped = step
        else:
            draft.tools.append(step)


def _decide(rng: random.Random, decision: Decision, draft: _Draft, run: Run) -> str:
    if decision.confounded is not None:
        first = 0.75 if decision.confounded in draft.context.tags else 0.25
        option = decision.options[0] if rng.random() < first else decision.options[1]
    else:
        option = rng.choices(decision.options, weights=decision.rates)[0]
    if option == decision.better:
        draft.effect += decision.effect
    run.choices[decision.name] = option
    return option


def _maybe_optional(rng: random.Random, tool: str, draft: _Draft, run: Run) -> None:
    optional = OPTIONAL_TOOL[tool]
    if rng.random() >= optional.rate:
        return
    draft.tools.append(tool)
    run.optional.append(tool)
    if _holds(optional.feature, draft.context):
        draft.effect += optional.effect


def _holds(feature: tuple[str, str] | None, context: TaskContext) -> bool:
    if feature is None:
        return True
    kind, value = feature
    return value in context.tags if kind == "tag" else context.language == value


def _outcome(rng: random.Random, draft: _Draft, stopped: bool, skipped: bool) -> bool:
    if stopped:
        return False
    if skipped and rng.random() < SKIP_FAILS:
        return False
    p = min(CLIP[1], max(CLIP[0], draft.family.base + draft.effect))
    return rng.random() < p


# ---------------------------------------------------------------------------------------
# The calls: planted errors and their recoveries, then noise between the calls
# ---------------------------------------------------------------------------------------


def _execute(
    rng: random.Random, tools: list[str], values: dict[str, str]
) -> tuple[list[list[Call]], bool]:
    """Per canonical tool the block of calls it took; True once the agent stopped."""
    blocks: list[list[Call]] = []
    for tool in tools:
        error = _error_for(rng, tool)
        if error is None:
            blocks.append([(tool, None)])
            continue
        calls, recovered = _recover(rng, error, values)
        blocks.append(calls)
        if not recovered:
            return blocks, True
    return blocks, False


def _error_for(rng: random.Random, tool: str) -> PlantedError | None:
    if tool == _DEPRECATED.recovery:
        return _DEPRECATED if rng.random() < DEPRECATED_CALL_RATE else None
    error = ERROR_OF_TOOL.get(tool)
    if error is not None and rng.random() < error.rate:
        return error
    return None


def _recover(
    rng: random.Random, error: PlantedError, values: dict[str, str]
) -> tuple[list[Call], bool]:
    """The calls from the failing one to the end of the recovery, and whether it worked."""
    text = words.ERROR_TEXT[error.name]
    tool = error.tool
    calls: list[Call] = [(tool, text(rng, values))]
    if error.mode is None:
        if rng.random() < UNRECOVERABLE_RETRY:
            calls.append((tool, text(rng, values)))
        return calls, False
    u = rng.random()
    if u < RECOVER_RIGHT:
        return calls + _right(error), True
    if u < RECOVER_RIGHT + RECOVER_WRONG:
        return calls + _wrong(error, text(rng, values)), False
    return calls, False


def _right(error: PlantedError) -> list[Call]:
    if error.mode == "retry":
        return [(error.tool, None)]
    assert error.recovery is not None
    if error.mode == "fix":
        return [(error.recovery, None), (error.tool, None)]
    return [(error.recovery, None)]  # replace


def _wrong(error: PlantedError, again: str) -> list[Call]:
    """A wrong recovery, after which the agent stops; ``again`` is the error it meets."""
    if error.wrong is None:  # the same tool again, which fails again
        return [(error.tool, again)]
    if error.mode == "retry":  # another tool instead
        return [(error.wrong, None)]
    return [(error.wrong, None), (error.tool, again)]  # a wrong fix, then the tool again


def _with_noise(
    rng: random.Random,
    blocks: list[list[Call]],
    family: Family,
    context: TaskContext,
    stopped: bool,
) -> list[list[Call]]:
    """Noise calls inserted between the blocks: never inside a recovery, and never after
    the agent stopped on an error."""
    noise = [tool for tool, rate in GLOBAL_NOISE.items() if rng.random() < rate]
    if family.name in FAMILY_NOISE:
        tool, rate = FAMILY_NOISE[family.name]
        if rng.random() < rate:
            noise.append(tool)
    tool, tag, with_tag, without = TAG_NOISE
    if rng.random() < (with_tag if tag in context.tags else without):
        noise.append(tool)
    out, tail = (blocks[:-1], blocks[-1:]) if stopped else (list(blocks), [])
    for tool in noise:
        out.insert(rng.randint(0, len(out)), [(tool, None)])
    return out + tail


# ---------------------------------------------------------------------------------------
# The episode
# ---------------------------------------------------------------------------------------


def _episode(
    rng: random.Random,
    draft: _Draft,
    task: str,
    start: datetime,
    blocks: list[list[Call]],
    success: bool,
    stopped: bool,
) -> Episode:
    steps: list[ExecutionStep] = []
    at = start + timedelta(seconds=rng.uniform(2, 15))
    for tool, error in (call for block in blocks for call in block):
        step = _step(rng, draft, tool, error, len(steps) + 1, at)
        steps.append(step)
        at += timedelta(milliseconds=step.latency_ms, seconds=rng.uniform(0.5, 6))
    return Episode(
        id=_id(rng, start),
        task_description=task,
        context=draft.context,
        task_type=TaskType(draft.family.task_type),
        start_time=start,
        end_time=at,
        steps=steps,
        outcome=_task_outcome(rng, steps, success, stopped),
    )


def _step(
    rng: random.Random, draft: _Draft, tool: str, error: str | None, number: int, at: datetime
) -> ExecutionStep:
    ref, values = draft.family.ref, draft.values
    return ExecutionStep(
        tool=tool,
        action=f"call {tool}",
        parameters=words.arguments(tool, ref, values),
        observation=None if error else words.result(tool, ref, values),
        success=error is None,
        error=error,
        latency_ms=round(rng.uniform(3000, 3300) if error else rng.lognormvariate(6, 0.6), 1),
        tokens=rng.randint(60, 900),
        step_number=number,
        timestamp=at,
    )


def _task_outcome(
    rng: random.Random, steps: list[ExecutionStep], success: bool, stopped: bool
) -> TaskOutcome:
    if success:
        return TaskOutcome.success(rng.choice(words.SUCCESS_VERDICTS))
    if stopped:
        last = next(s for s in reversed(steps) if s.error)
        return TaskOutcome.failure(f"gave up after {last.tool} failed", last.error)
    return TaskOutcome.failure(rng.choice(words.FAILURE_REASONS))


def _id(rng: random.Random, start: datetime) -> str:
    """A time-ordered id (UUID version 7 layout) from the start time and the stream."""
    millis = int(start.timestamp() * 1000)
    value = (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rng.getrandbits(12) << 64
    value |= 0b10 << 62 | rng.getrandbits(62)
    return str(uuid.UUID(int=value))
