"""Generate the fourth planted world: an online retailer's back office and warehouse.

``generate(n, seed, anchor=None)`` returns ``n`` completed selfmem :class:`Episode` objects in
time order, drawn from ``random.Random(seed)`` alone (episode ids included). Each episode
is drawn in turn from the same generator, so the first ``n`` episodes of a stream are the
same whatever its length, up to one shift of every timestamp: episodes start about two
minutes apart and the whole stream is shifted so that the last episode ends at ``anchor``
(default: now, UTC).

The planted facts and rates are in :mod:`benchmarks.planted_fourth_truth`. One episode:

1. a family by weight; its language (the alternative one in ``alt_rate`` of the runs);
   tags (the family's feature tags, ``tag=cross-border`` elsewhere, the decoy tags, the
   correlated tag); slot values and one of the family's templates in that language;
2. the plan: the canonical tools, the decision's option (drawn by share) at its slot, the
   family's context tool (``tool_rate``) right after its ``after`` tool, a skipped canonical
   step (never the first; ``SKIP_RATE``), an early stop before a canonical step (never the
   first; ``EARLY_STOP_RATE``), then each noise tool by its rate at a random position;
3. execution: every step succeeds except planted errors (a canonical call of an error tool
   fails with its rate; for ``book_carrier_pickup`` one of its two classes); after an error
   the agent takes the right recovery (75 %), a wrong one (15 %) or gives up (10 %, the
   episode ends there). For a ``none`` error every attempt fails and the episode ends;
4. the outcome: failure after an unrecovered error, a give-up or an early stop, and (with
   probability 0.9) after a skipped step; otherwise success with probability base +
   the taken option's effect + the context effect (the context tool was run and the
   feature is present), clipped to [0.03, 0.97]. Outcome-only failures leave every step
   successful.
"""

from __future__ import annotations

import random
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from selfmem.records import Episode, ExecutionStep, TaskContext, TaskOutcome

from .planted_fourth_truth import (
    CONTEXT_EFFECTS,
    CONTEXT_OF,
    CORRELATED_TAG,
    DECISION_OF,
    DECOY_TAGS,
    EARLY_STOP_RATE,
    ERRORS_OF_TOOL,
    FAMILIES,
    NOISE_TOOLS,
    P_MAX,
    P_MIN,
    RECOVERY_RIGHT,
    RECOVERY_WRONG,
    SKIP_FAILS,
    SKIP_RATE,
    ContextEffect,
    Family,
    PlantedError,
)
from .planted_fourth_words import (
    CARRIERS,
    COUNTRIES,
    CUSTOMERS,
    FAIL_REASONS,
    PRODUCTS,
    SUPPLIERS,
    TOOLS,
    VERDICTS,
)

__all__ = ["generate"]

# ---------------------------------------------------------------------------------------
# Presentation: slot values, parameters and observations (no effect on outcomes)
# ---------------------------------------------------------------------------------------


def _slots(rng: random.Random, language: str) -> dict[str, Any]:
    euros = rng.randint(9, 2400) + rng.randint(0, 99) / 100
    amount = f"{euros:.2f} EUR".replace(".", ",") if language == "german" else f"€{euros:.2f}"
    country, cc = rng.choice(COUNTRIES)
    return {
        "order": f"#{rng.randint(100000, 999999)}",
        "sku": f"SKU-{rng.choice('ABCDEFGHKLMNPRST')}{rng.choice('ABCDEFGHKLMNPRST')}-"
        f"{rng.randint(1000, 9999)}",
        "customer": rng.choice(CUSTOMERS),
        "amount": amount,
        "carrier": rng.choice(CARRIERS),
        "invoice": f"RE-2025-{rng.randint(10000, 99999)}",
        "supplier": rng.choice(SUPPLIERS),
        "po": f"PO-{rng.randint(400000, 499999)}",
        "bin": f"{rng.choice('ABCDEFG')}-{rng.randint(1, 40):02d}-{rng.randint(1, 12):02d}",
        "product": rng.choice(PRODUCTS),
        "count": rng.randint(5, 400),
        "country": country,
        "cc": cc,
        "zip": f"{rng.randint(10000, 99999)}",
    }


def _hex(rng: random.Random) -> str:
    return f"{rng.getrandbits(32):08x}"


def _base_latency(tool: str) -> float:
    return 150.0 + zlib.crc32(tool.encode()) % 1500


# ---------------------------------------------------------------------------------------
# One episode, in seconds relative to its start
# ---------------------------------------------------------------------------------------


@dataclass
class _Step:
    tool: str
    parameters: dict[str, Any]
    observation: str | None
    error: str | None
    latency_ms: float


@dataclass
class _Run:
    id: str
    family: Family
    task: str
    language: str
    tags: list[str]
    steps: list[_Step] = field(default_factory=list)
    success: bool = False
    reason: str = ""
    error_details: str | None = None
    verdict: str = ""


def _tags(rng: random.Random, family: Family) -> list[str]:
    tags: list[str] = []
    for effect in CONTEXT_EFFECTS:
        if not effect.feature.startswith("tag="):
            continue
        rate = effect.feature_rate if effect.family == family.name else effect.other_rate
        if rng.random() < rate:
            tags.append(effect.feature.removeprefix("tag="))
    for tag, rate in DECOY_TAGS:
        if rng.random() < rate:
            tags.append(tag)
    c = CORRELATED_TAG
    if rng.random() < (c.in_family if c.family == family.name else c.elsewhere):
        tags.append(c.tag)
    return tags


def _plan(rng: random.Random, family: Family) -> tuple[list[tuple[str, str]], bool, bool]:
    """The (tool, role) steps the agent means to run; roles canon / context / noise."""
    items = [(tool, "canon") for tool in family.tools]
    decision = DECISION_OF.get(family.name)
    if decision is not None:
        options = decision.options
        option = rng.choices(options, weights=[o.share for o in options])[0]
        items.insert(decision.slot, (option.tool, "canon"))
    effect = CONTEXT_OF.get(family.name)
    if effect is not None and rng.random() < effect.tool_rate:
        at = items.index((effect.after, "canon")) + 1
        items.insert(at, (effect.tool, "context"))
    skipped = rng.random() < SKIP_RATE
    if skipped:
        canon = [i for i, (_, role) in enumerate(items) if role == "canon"][1:]
        del items[rng.choice(canon)]
    stopped = rng.random() < EARLY_STOP_RATE
    if stopped:
        canon = [i for i, (_, role) in enumerate(items) if role == "canon"][1:]
        items = items[: rng.choice(canon)]
    for tool, rate in NOISE_TOOLS:
        if rng.random() < rate:
            items.insert(rng.randint(0, len(items)), (tool, "noise"))
    return items, skipped, stopped


class _Executor:
    def __init__(self, rng: random.Random, run: _Run, slots: dict[str, Any]) -> None:
        self.rng = rng
        self.run = run
        self.slots = slots
        self.last_error: str | None = None

    def ok(self, tool: str) -> None:
        rng = self.rng
        names, template = TOOLS[tool]
        values = {**self.slots, "n": rng.randint(1, 60), "hex": _hex(rng)}
        self.run.steps.append(
            _Step(
                tool=tool,
                parameters={name: self.slots[name] for name in names},
                observation=template.format(**values),
                error=None,
                latency_ms=round(_base_latency(tool) * rng.lognormvariate(0.0, 0.35), 1),
            )
        )

    def fail(self, tool: str, error: PlantedError) -> None:
        rng = self.rng
        secs = rng.randint(5, 30)
        ms = rng.choice((2000, 3000, 5000, 8000, 10000))
        values = {
            **self.slots,
            "secs": secs,
            "ms": ms,
            "mins": rng.randint(16, 240),
            "hex": _hex(rng),
            "n": rng.randint(1, 12),
            "acct": rng.randint(1000, 9999),
            "code": f"{rng.randint(1000, 9999)}.{rng.randint(10, 99)}",
            "decl": f"CD-{rng.randint(100000, 999999)}",
        }
        message = error.message.format(**values)
        # a timeout takes as long as it says, an unanswered spooler as long as it waited
        if "timeout after {secs}s" in error.message:
            latency = secs * 1000.0
        elif "within {ms} ms" in error.message:
            latency = float(ms)
        else:
            latency = _base_latency(tool) * rng.lognormvariate(0.0, 0.35)
        names, _ = TOOLS[tool]
        self.run.steps.append(
            _Step(
                tool=tool,
                parameters={name: self.slots[name] for name in names},
                observation=None,
                error=message,
                latency_ms=round(latency, 1),
            )
        )
        self.last_error = message

    def draw_error(self, tool: str) -> PlantedError | None:
        errors = ERRORS_OF_TOOL.get(tool)
        if not errors:
            return None
        u = self.rng.random()
        for error in errors:
            if u < error.rate:
                return error
            u -= error.rate
        return None

    def recover(self, tool: str, error: PlantedError) -> str:
        """Run the agent's reaction to ``error``: ``recovered``, ``unrecovered`` (the agent
        goes on) or ``halt`` (the episode ends here)."""
        rng = self.rng
        u = rng.random()
        mode = "right" if u < RECOVERY_RIGHT else "wrong"
        if u >= RECOVERY_RIGHT + RECOVERY_WRONG:
            return "halt"
        if error.kind == "none":
            if mode == "wrong":
                self.ok(error.wrong)
            elif rng.random() < 0.5:
                self.fail(tool, error)
            else:
                self.ok(error.fix_tool or "")
                self.fail(tool, error)
            return "halt"
        if mode == "wrong":
            if error.wrong == "retry":
                self.fail(tool, error)
            else:
                self.ok(error.wrong)
            return "unrecovered"
        if error.kind == "retry":
            self.ok(tool)
        elif error.kind == "fix":
            self.ok(error.fix_tool or "")
            self.ok(tool)
        else:  # replace: the tool keeps failing, the replacement does its job
            if rng.random() < 0.5:
                self.fail(tool, error)
            self.ok(error.replacement or "")
        return "recovered"


def _feature_present(effect: ContextEffect, language: str, tags: list[str]) -> bool:
    kind, _, value = effect.feature.partition("=")
    return language == value if kind == "language" else value in tags


def _episode(rng: random.Random) -> _Run:
    run_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    family = rng.choices(FAMILIES, weights=[f.weight for f in FAMILIES])[0]
    language = family.language
    if family.alt_language is not None and rng.random() < family.alt_rate:
        language = family.alt_language
    tags = _tags(rng, family)
    slots = _slots(rng, language)
    task = rng.choice(family.templates[language]).format(**slots)
    run = _Run(run_id, family, task, language, tags)
    items, skipped, stopped = _plan(rng, family)

    executor = _Executor(rng, run, slots)
    failed = stopped
    for tool, role in items:
        error = executor.draw_error(tool) if role == "canon" else None
        if error is None:
            executor.ok(tool)
            continue
        executor.fail(tool, error)
        state = executor.recover(tool, error)
        if state != "recovered":
            failed = True
            run.error_details = executor.last_error
        if state == "halt":
            break
    if skipped and rng.random() < SKIP_FAILS:
        failed = True
    if not failed:
        run.success = rng.random() < _success_probability(run)
    run.reason = rng.choice(FAIL_REASONS)
    run.verdict = rng.choice(VERDICTS)
    return run


def _success_probability(run: _Run) -> float:
    p = run.family.base
    used = {step.tool for step in run.steps}
    decision = DECISION_OF.get(run.family.name)
    if decision is not None:
        p += sum(o.effect for o in decision.options if o.tool in used)
    effect = CONTEXT_OF.get(run.family.name)
    if (
        effect is not None
        and effect.tool in used
        and _feature_present(effect, run.language, run.tags)
    ):
        p += effect.effect
    return min(P_MAX, max(P_MIN, p))


# ---------------------------------------------------------------------------------------
# The stream
# ---------------------------------------------------------------------------------------


def _timeline(rng: random.Random, run: _Run) -> tuple[list[float], float]:
    """Step start offsets (seconds from the episode's start) and the episode's duration."""
    offsets: list[float] = []
    t = rng.uniform(0.5, 3.0)
    for step in run.steps:
        offsets.append(t)
        t += step.latency_ms / 1000.0 + rng.uniform(0.3, 2.5)
    return offsets, t + rng.uniform(0.2, 1.5)


def generate(n: int, seed: int, anchor: datetime | None = None) -> list[Episode]:
    """``n`` completed episodes in time order, the last one ending at ``anchor``."""
    rng = random.Random(seed)
    drafts: list[tuple[_Run, float, list[float], float]] = []
    start = 0.0
    for _ in range(n):
        run = _episode(rng)
        offsets, duration = _timeline(rng, run)
        drafts.append((run, start, offsets, duration))
        start = max(start + rng.uniform(90.0, 150.0), start + duration + 5.0)
    if not drafts:
        return []
    end = anchor or datetime.now(UTC)
    end = end.replace(tzinfo=UTC) if end.tzinfo is None else end.astimezone(UTC)
    _, last_start, _, last_duration = drafts[-1]
    origin = end - timedelta(seconds=last_start + last_duration)
    return [_build(run, origin, s, offsets, d) for run, s, offsets, d in drafts]


def _build(
    run: _Run, origin: datetime, start: float, offsets: list[float], duration: float
) -> Episode:
    begin = origin + timedelta(seconds=start)
    steps = [
        ExecutionStep(
            tool=step.tool,
            parameters=step.parameters,
            observation=step.observation,
            success=step.error is None,
            error=step.error,
            latency_ms=step.latency_ms,
            step_number=i + 1,
            timestamp=begin + timedelta(seconds=offset),
        )
        for i, (step, offset) in enumerate(zip(run.steps, offsets, strict=True))
    ]
    family = run.family
    outcome = (
        TaskOutcome.success(run.verdict)
        if run.success
        else TaskOutcome.failure(run.reason, error_details=run.error_details)
    )
    return Episode(
        id=run.id,
        namespace="default",
        task_description=run.task,
        context=TaskContext(
            domain=family.domain,
            language=run.language,
            framework=family.framework,
            tags=run.tags,
        ),
        task_type=family.task_type,
        start_time=begin,
        end_time=begin + timedelta(seconds=duration),
        steps=steps,
        outcome=outcome,
    )
