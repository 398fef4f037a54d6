"""A travel agency's booking desk: agent episodes with planted ground truth.

Written from a spec alone, without reading how the learner works, so that a benchmark built
on it measures the learner against a world it was not tuned to.

The world
---------
Ten task families (:data:`FAMILIES`). Each has a canonical tool sequence of 3-5 tools,
at least four paraphrased task descriptions with slots (cities, people, dates, booking
references), and a context (domain, task type, language, framework). Three pairs share
domain, task type, language and framework: book / change a flight, book / cancel a hotel,
check / apply for a visa. Some tools are shared between families (``search_fares``,
``lookup_pnr``, ``send_itinerary``).

Every episode draws a family (weighted), a description, tags, then a plan:

- decision steps: at one step of five families the agent picks between two tools. In four
  the better one raises success by a planted effect (+0.2, +0.3, +0.4, +0.5); in the fifth
  (``expense_report``) the choice is a decoy with no effect (:data:`DECISIONS`);
- context tools: in four families a tool is called in about half the runs, placed before a
  fixed step; it matters only under a context feature (three tags, one language): with the
  feature, a run without the tool loses the planted effect (0.35-0.5); without the feature
  it changes nothing (:data:`CONTEXT_EFFECTS`). The planted tag also shows up (with no
  effect) in 15% of other families' runs;
- decoy tags (``vip``, ``weekend``, ``mobile-app``, ``repeat-customer``): each on 30% of all
  runs, no effect;
- noise: with probability 0.3 one or two tools from a pool of five are inserted at random
  positions; they always succeed and never change the outcome;
- imperfect agents: a canonical step (not the first) is skipped in 5% of runs (the run then
  fails with probability 0.9), and 4% of runs stop early (they fail).

Planted errors (:data:`ERRORS`), one per family, each raised by one tool on a fraction of
its calls, with messages that vary in ids, numbers and durations:

- ``retry`` (transient): the same tool run again works (each retry with probability 0.85,
  up to three);
- ``fix``: running a specific fix tool then the failed tool again works; a plain retry
  fails again;
- ``replace``: the tool keeps failing; a specific other tool does its job;
- ``none``: nothing works: retries fail again, the fix tool and the replacement run but the
  episode fails.

After an error the agent takes the right recovery in 78% of cases, a wrong one in 14%
(retry: it switches to a scraper that does not do the job; fix and replace: it retries,
which fails again, and gives up) and gives up in 8%. For ``none`` it tries a retry (40%),
the fix (30%) or the replacement (20%), or gives up (10%).

Outcome: an episode with an unrecovered error, an early stop, or (90%) a skipped step
fails; otherwise it succeeds with probability ``base`` of its family, minus the decision
effect when it took the worse option, minus the context effect when the feature holds and
the context tool was not called (clipped to [0.03, 0.97]). Base rates range 0.55-0.95.
Failures other than planted errors show only in the outcome (no step fails), so the only
failing steps in the stream are the planted errors.

Everything is drawn from ``random.Random(seed)``, episode ids included; the first ``n``
episodes of a stream have the same content whatever its length. Timestamps are placed so that the
stream ends at ``anchor`` (default: now), about two minutes apart, because the learner decays
evidence by its age. Ending the stream at the hour instead changed a result by when in the
hour it ran: at 2,000 episodes (seed 1) a decoy tag's chance finding came out served or not
as the stream was 0 or 50 minutes old.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from selfmem import Episode, ExecutionStep, TaskContext, TaskOutcome, TaskType
from selfmem.learning import compute_reward

from .planted_third_truth import (
    CONTEXT_EFFECTS,
    CONTEXT_OF,
    DECISION_OF,
    DECOY_TAG_RATE,
    DECOY_TAGS,
    ERROR_OF,
    FAMILIES,
    MAX_RETRIES,
    NOISE_RATE,
    NOISE_TOOLS,
    PLANTED_TAG_ELSEWHERE,
    RETRY_WORKS,
    RIGHT_RECOVERY,
    SKIP_FAILS,
    SKIP_RATE,
    STOP_EARLY_RATE,
    WRONG_RECOVERY,
    ContextEffect,
    Family,
    PlantedError,
    random_date,
)

__all__ = ["generate"]

# ---------------------------------------------------------------------------------------
# Task descriptions
# ---------------------------------------------------------------------------------------

_SLOTS: dict[str, tuple[str, ...]] = {
    "city": (
        "Lisbon",
        "Berlin",
        "Osaka",
        "Toronto",
        "Nairobi",
        "Lima",
        "Oslo",
        "Hanoi",
        "Porto",
        "Seville",
        "Munich",
        "Kyoto",
    ),
    "iata": ("LIS", "BER", "KIX", "YYZ", "NBO", "LIM", "OSL", "HAN", "OPO", "SVQ"),
    "person": (
        "Ana Souza",
        "Jonas Weber",
        "Yuki Tanaka",
        "Priya Nair",
        "Tom Okafor",
        "Elena Rossi",
        "Marc Dubois",
        "Sofia Lind",
        "Kenji Mori",
        "Laura Gómez",
    ),
    "cabin": ("economy", "premium economy", "business"),
    "landmark": ("the old town", "the convention centre", "the main station", "the harbour"),
    "room": ("double", "twin", "family", "accessible", "quiet"),
    "nationality": ("Brazilian", "Indian", "Kenyan", "Canadian", "Vietnamese", "Peruvian"),
    "country": ("Japan", "Schengen area", "the UK", "Australia", "India", "the US"),
    "visa": ("tourist", "business", "transit", "student"),
    "region": ("Provence", "Brittany", "the Loire valley", "Alsace", "Normandy", "Tuscany"),
    "org": ("Rotary", "St. Mary's school", "Acme Corp", "the hiking club", "Lions"),
    "month": ("January", "February", "March", "April", "May", "June", "Q3", "October"),
    "dept": ("sales", "engineering", "marketing", "support", "operations"),
    "rail": ("Interrail", "Eurail Italy", "Swiss Travel", "regional"),
}


def _slot(rng: random.Random, name: str) -> str:
    base = name.rstrip("2")
    if base in _SLOTS:
        return rng.choice(_SLOTS[base])
    makers: dict[str, Callable[[], str]] = {
        "date": lambda: random_date(rng),
        "n": lambda: str(rng.randint(2, 40)),
        "nights": lambda: str(rng.randint(1, 14)),
        "budget": lambda: str(rng.randrange(80, 400, 10)),
        "pnr": lambda: "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6)),
        "conf": lambda: f"HB-{rng.randint(100000, 999999)}",
        "ticket": lambda: str(rng.randint(10000, 99999)),
        "cc": lambda: f"CC{rng.randint(100, 999)}",
    }
    return makers[base]()


def _describe(rng: random.Random, template: str) -> tuple[str, dict[str, str]]:
    names = [part.split("}", 1)[0] for part in template.split("{")[1:]]
    values = {name: _slot(rng, name) for name in names}
    return template.format(**values), values


# ---------------------------------------------------------------------------------------
# One episode
# ---------------------------------------------------------------------------------------


@dataclass
class _Run:
    """An episode being built: its steps, clock and what went wrong."""

    rng: random.Random
    clock: datetime
    slots: dict[str, str]
    steps: list[ExecutionStep] = field(default_factory=list)
    broken: str | None = None  # why the run cannot succeed any more

    def call(self, tool: str, error: str | None = None) -> None:
        self.clock += timedelta(milliseconds=self.rng.randint(200, 4000))
        latency = float(self.rng.randint(40, 6000))
        self.steps.append(
            ExecutionStep(
                tool=tool,
                action=f"run {tool.replace('_', ' ')}",
                parameters=_parameters(self.rng, tool, self.slots),
                observation=None if error else _observation(self.rng, tool),
                success=error is None,
                error=error,
                latency_ms=latency,
                step_number=len(self.steps) + 1,
                timestamp=self.clock,
            )
        )
        self.clock += timedelta(milliseconds=latency)


def _parameters(rng: random.Random, tool: str, slots: dict[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = {k: v for k, v in slots.items() if k in ("pnr", "conf", "city")}
    params["request"] = f"{tool}-{rng.randint(1000, 9999)}"
    return params


def _observation(rng: random.Random, tool: str) -> str:
    return f"{tool.replace('_', ' ')}: ok ({rng.randint(1, 60)} records, {rng.randint(5, 900)} ms)"


def _context(rng: random.Random, family: Family) -> TaskContext:
    language = family.language
    if family.alt_language and rng.random() < family.alt_language[1]:
        language = family.alt_language[0]
    tags = [t for t in DECOY_TAGS if rng.random() < DECOY_TAG_RATE]
    for effect in CONTEXT_EFFECTS:
        if effect.kind != "tag":
            continue
        rate = effect.p_feature if effect.family == family.name else PLANTED_TAG_ELSEWHERE
        if rng.random() < rate:
            tags.append(effect.value)
    return TaskContext(
        domain=family.domain, language=language, framework=family.framework, tags=tags
    )


def _feature_holds(effect: ContextEffect, context: TaskContext) -> bool:
    if effect.kind == "language":
        return context.language == effect.value
    return effect.value in context.tags


@dataclass
class _Plan:
    tools: list[str]
    took_worse: bool = False
    skipped: bool = False
    stopped_early: bool = False
    context_tool_called: bool = False


def _plan(rng: random.Random, family: Family) -> _Plan:
    tools = list(family.tools)
    plan = _Plan(tools)
    decision = DECISION_OF.get(family.name)
    if decision is not None and rng.random() >= decision.p_better:
        tools[decision.slot] = decision.worse
        plan.took_worse = True
    effect = CONTEXT_OF.get(family.name)
    if effect is not None and rng.random() < effect.p_call:
        tools.insert(tools.index(effect.before), effect.tool)
        plan.context_tool_called = True
    if rng.random() < SKIP_RATE:
        steps = [i for i, t in enumerate(tools) if i > 0 and (effect is None or t != effect.tool)]
        skipped = tools.pop(rng.choice(steps))
        plan.skipped = True
        if decision is not None and skipped == decision.worse:
            plan.took_worse = False
    if rng.random() < NOISE_RATE:
        for _ in range(rng.randint(1, 2)):
            tools.insert(rng.randint(0, len(tools)), rng.choice(NOISE_TOOLS))
    if rng.random() < STOP_EARLY_RATE and len(tools) > 1:
        del tools[rng.randint(1, len(tools) - 1) :]
        plan.stopped_early = True
    return plan


def _recover(run: _Run, error: PlantedError) -> bool:
    """The agent's response to ``error`` on its first call; True if the tool's job got done."""
    roll = run.rng.random()
    if error.kind == "none":
        return _recover_none(run, error, roll)
    if roll >= RIGHT_RECOVERY + WRONG_RECOVERY:
        return False  # gives up
    wrong = roll >= RIGHT_RECOVERY
    if error.kind == "retry":
        if wrong:
            run.call(error.wrong_tool or "retry_elsewhere")
            return False
        for _ in range(MAX_RETRIES):
            if run.rng.random() < RETRY_WORKS:
                run.call(error.tool)
                return True
            run.call(error.tool, error.message(run.rng))
        return False
    if wrong:  # fix / replace: a plain retry, which fails again
        run.call(error.tool, error.message(run.rng))
        return False
    if error.kind == "fix":
        run.call(error.fix_tool or "fix")
        run.call(error.tool)
    else:
        run.call(error.replacement or "replacement")
    return True


def _recover_none(run: _Run, error: PlantedError, roll: float) -> bool:
    if roll < 0.4:
        run.call(error.tool, error.message(run.rng))
    elif roll < 0.7:
        run.call(error.fix_tool or "fix")
        run.call(error.tool, error.message(run.rng))
    elif roll < 0.9:
        run.call(error.replacement or "replacement")
    return False


def _execute(run: _Run, tools: list[str]) -> None:
    for tool in tools:
        error = ERROR_OF.get(tool)
        if error is not None and run.rng.random() < error.rate:
            run.call(tool, error.message(run.rng))
            if not _recover(run, error):
                run.broken = f"{tool} failed and was not recovered"
                if run.rng.random() < 0.5 or error.kind == "none":
                    return  # stops here; otherwise carries on regardless
            continue
        run.call(tool)


def _success_probability(family: Family, plan: _Plan, context: TaskContext) -> float:
    p = family.base
    decision = DECISION_OF.get(family.name)
    if decision is not None and plan.took_worse:
        p -= decision.effect
    effect = CONTEXT_OF.get(family.name)
    if effect is not None and _feature_holds(effect, context) and not plan.context_tool_called:
        p -= effect.effect
    return min(0.97, max(0.03, p))


def _episode_id(rng: random.Random, start: datetime) -> str:
    millis = int(start.timestamp() * 1000) & ((1 << 48) - 1)
    value = millis << 80 | 0x7 << 76 | rng.getrandbits(12) << 64 | 0b10 << 62
    value |= rng.getrandbits(62)
    return str(uuid.UUID(int=value))


def _episode(rng: random.Random, start: datetime) -> Episode:
    family = rng.choices(FAMILIES, weights=[f.weight for f in FAMILIES])[0]
    description, slots = _describe(rng, rng.choice(family.templates))
    context = _context(rng, family)
    plan = _plan(rng, family)
    run = _Run(rng, start, slots)
    _execute(run, plan.tools)
    episode_id = _episode_id(rng, start)
    outcome = _outcome(rng, family, plan, context, run)
    episode = Episode(
        id=episode_id,
        task_description=description,
        context=context,
        task_type=TaskType(family.task_type),
        start_time=start,
        end_time=run.clock + timedelta(milliseconds=rng.randint(100, 2000)),
        steps=run.steps,
        outcome=outcome,
        metadata={"family": family.name},
    )
    episode.reward = compute_reward(episode)
    return episode


def _outcome(
    rng: random.Random, family: Family, plan: _Plan, context: TaskContext, run: _Run
) -> TaskOutcome:
    if run.broken:
        return TaskOutcome.failure(run.broken)
    if plan.stopped_early:
        return TaskOutcome.failure("the agent stopped before finishing the task")
    if plan.skipped and rng.random() < SKIP_FAILS:
        return TaskOutcome.failure("a required step was missing; the booking system rejected it")
    if rng.random() < _success_probability(family, plan, context):
        return TaskOutcome.success(f"{family.name.replace('_', ' ')} done")
    return TaskOutcome.failure("the customer-facing result was rejected in review")


def generate(n: int, seed: int, anchor: datetime | None = None) -> Iterator[Episode]:
    """``n`` episodes in time order, the last starting a few minutes before ``anchor``."""
    rng = random.Random(seed)
    anchor = anchor or datetime.now(UTC)
    clock = anchor - timedelta(minutes=2 * n + 5)
    for _ in range(n):
        clock += timedelta(seconds=rng.randint(60, 180))
        yield _episode(rng, clock)
