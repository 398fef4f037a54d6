"""The fifth planted world: a hospital IT and clinical-data operations desk.

``generate(n, seed)`` draws ``n`` completed episodes, one after another from
``random.Random(seed)``, so the first ``n`` episodes of a stream are the same whatever its
length (only the shift that makes the last episode end at ``anchor`` changes). The planted
facts are in :mod:`benchmarks.planted_fifth_truth`, the words in
:mod:`benchmarks.planted_fifth_words`.

One run:

1. A family by weight; its programming language; tags (``urgent`` 20%, the feature tags of
   the context effects, the decoy tags).
2. The plan: the family's canonical tools with the option drawn at a decision slot, the
   family's optional context tool (45% of runs, whatever the feature) after its step; then
   maybe a skipped canonical step (5%) or an early stop (3%); then the noise tools at random
   positions.
3. The walk: a tool with a planted error fails at its rate; the agent takes the right
   recovery (70%), a wrong one (20%) or gives up (10%). An unrecovered error ends the run
   (a wrong replacement lets it go on, doomed).
4. The outcome: failure after an unrecovered error, a give-up or an early stop, and with
   probability 0.9 after a skip; otherwise success with probability
   ``clip(base + decision + context + urgent, 0.03, 0.97)``. A failed run gets
   ``write_incident_note`` appended in 70% of cases.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from selfmem.records import Episode, ExecutionStep, TaskContext, TaskOutcome

from . import planted_fifth_truth as truth
from . import planted_fifth_words as words

__all__ = ["generate"]

# ---------------------------------------------------------------------------------------
# A drawn run, before it is placed in time
# ---------------------------------------------------------------------------------------


@dataclass
class Call:
    tool: str
    error: str | None = None


@dataclass
class Run:
    family: truth.Family
    text: str
    ref: str
    target: str
    language: str
    tags: list[str]
    calls: list[Call] = field(default_factory=list)
    success: bool = False
    last_error: str | None = None


def _pick(rng: random.Random, shares: tuple[tuple[str, float], ...]) -> str:
    names = [name for name, _ in shares]
    return rng.choices(names, weights=[w for _, w in shares])[0]


def _task_text(rng: random.Random, family: truth.Family) -> tuple[str, str, str]:
    """The task text, the ticket it refers to, and another slot value (the target)."""
    german = family.name in words.GERMAN and rng.random() < family.german
    templates = words.GERMAN[family.name] if german else words.ENGLISH[family.name]
    text, values = words.fill(rng.choice(templates), rng)
    ref = values.get("ticket") or words.SLOTS["ticket"](rng)
    others = [v for k, v in values.items() if k != "ticket"]
    return text, ref, others[0] if others else family.domain


def _tags(rng: random.Random, family: truth.Family) -> list[str]:
    tags = []
    if rng.random() < truth.URGENT_RATE:
        tags.append(truth.URGENT_TAG)
    for effect in truth.CONTEXT_EFFECTS:
        if effect.tag is None:
            continue
        rate = effect.holds if effect.family == family.name else truth.FEATURE_TAG_ELSEWHERE
        if rng.random() < rate:
            tags.append(effect.tag)
    for tag, owner, rate_in, rate_out in truth.DECOY_TAGS:
        if rng.random() < (rate_in if owner == family.name else rate_out):
            tags.append(tag)
    return tags


# ---------------------------------------------------------------------------------------
# The plan: which tools the run means to call
# ---------------------------------------------------------------------------------------


@dataclass
class Plan:
    tools: list[tuple[str, str]]  # (tool, role): canon, decision, context, noise
    better: bool = False  # the better option of a (non-decoy) decision was taken
    context_used: bool = False
    skipped: bool = False
    stopped_early: bool = False


def _plan(rng: random.Random, family: truth.Family, *, urgent: bool) -> Plan:
    plan = Plan([(tool, "canon") for tool in family.canonical])
    decision = truth.DECISION_OF.get(family.name)
    if decision is not None:
        option = rng.choices(range(len(decision.options)), weights=decision.shares)[0]
        plan.tools[decision.slot] = (decision.options[option], "decision")
        plan.better = option == 0 and not decision.decoy
    effect = truth.CONTEXT_OF.get(family.name)
    if effect is not None and rng.random() < effect.use_rate:
        plan.tools.insert(effect.after + 1, (effect.tool, "context"))
        plan.context_used = True
    _skip_or_stop(rng, plan)
    _add_noise(rng, plan, family, urgent=urgent)
    return plan


def _skip_or_stop(rng: random.Random, plan: Plan) -> None:
    r = rng.random()
    if r < truth.SKIP_RATE:
        skippable = [i for i, (_, role) in enumerate(plan.tools) if role == "canon" and i > 0]
        del plan.tools[rng.choice(skippable)]
        plan.skipped = True
    elif r < truth.SKIP_RATE + truth.EARLY_STOP_RATE:
        del plan.tools[rng.randint(1, len(plan.tools) - 1) :]
        plan.stopped_early = True


def _add_noise(rng: random.Random, plan: Plan, family: truth.Family, *, urgent: bool) -> None:
    tool, owner, rate_in, rate_out = truth.FAMILY_NOISE
    urgent_tool, rate_urgent, rate_calm = truth.URGENT_NOISE
    rates = [
        *truth.RANDOM_NOISE.items(),
        (tool, rate_in if family.name == owner else rate_out),
        (urgent_tool, rate_urgent if urgent else rate_calm),
    ]
    for noise, rate in rates:
        if rng.random() < rate:
            plan.tools.insert(rng.randint(0, len(plan.tools)), (noise, "noise"))


# ---------------------------------------------------------------------------------------
# The walk: calls, errors and recoveries
# ---------------------------------------------------------------------------------------

OK, DOOMED, STOP = "ok", "doomed", "stop"


def _error_message(rng: random.Random, error: truth.PlantedError) -> str:
    if error.kind == "varied":
        return words.varied_error(rng)
    return words.ERROR_MESSAGES[error.tool]


def _on_error(rng: random.Random, error: truth.PlantedError, run: Run) -> str:
    """The failed call and what the agent does next; how the run goes on."""
    tool = error.tool
    run.last_error = _error_message(rng, error)
    run.calls.append(Call(tool, run.last_error))
    right, wrong, _ = truth.RECOVERY_SHARES
    r = rng.random()
    if error.kind == "none":
        if r < right:
            run.calls.append(Call(tool, _error_message(rng, error)))
        elif r < right + wrong:
            run.calls += [Call(truth.NO_RECOVERY_FIX), Call(tool, _error_message(rng, error))]
        return STOP
    if r < right:
        if error.kind == "fix":
            run.calls += [Call(error.remedy or ""), Call(tool)]
        elif error.kind == "replace":
            run.calls.append(Call(error.remedy or ""))
        else:  # retry, varied
            run.calls.append(Call(tool))
        return OK
    if r < right + wrong:
        if error.wrong is not None:
            run.calls.append(Call(error.wrong))
            return DOOMED
        run.calls.append(Call(tool, _error_message(rng, error)))
    return STOP


def _walk(rng: random.Random, plan: Plan, run: Run) -> bool:
    """Call the planned tools; False when an error was not recovered."""
    recovered = True
    for tool, _ in plan.tools:
        error = truth.ERROR_OF.get(tool)
        if error is not None and rng.random() < error.rate:
            how = _on_error(rng, error, run)
            if how == STOP:
                return False
            recovered = recovered and how == OK
            continue
        run.calls.append(Call(tool))
    return recovered


def _success_rate(run: Run, plan: Plan) -> float:
    family = run.family
    p = family.base
    if plan.better:
        p += truth.DECISION_OF[family.name].effect
    effect = truth.CONTEXT_OF.get(family.name)
    if effect is not None and plan.context_used and _feature_holds(effect, run):
        p += effect.effect
    if truth.URGENT_TAG in run.tags:
        p += truth.URGENT_EFFECT
    return truth.clip(p)


def _feature_holds(effect: truth.ContextEffect, run: Run) -> bool:
    name, _, value = effect.feature.partition("=")
    return value in run.tags if name == "tag" else run.language == value


def draw_run(rng: random.Random) -> Run:
    """One run of the desk, with its calls and outcome but not yet its times."""
    family = rng.choices(truth.FAMILIES, weights=[f.weight for f in truth.FAMILIES])[0]
    text, ref, target = _task_text(rng, family)
    language = _pick(rng, family.languages)
    run = Run(family, text, ref, target, language, _tags(rng, family))
    plan = _plan(rng, family, urgent=truth.URGENT_TAG in run.tags)
    completed = _walk(rng, plan, run)
    roll = rng.random()
    forced = not completed or plan.stopped_early
    if not forced and plan.skipped:
        forced = rng.random() < truth.SKIP_FAILS
    run.success = not forced and roll < _success_rate(run, plan)
    note, rate = truth.INCIDENT_NOTE
    if not run.success and rng.random() < rate:
        run.calls.append(Call(note))
    return run


# ---------------------------------------------------------------------------------------
# Time and records
# ---------------------------------------------------------------------------------------


def _gap_seconds(rng: random.Random) -> float:
    """Seconds from one episode's start to the next: bursts, steady work and pauses."""
    r = rng.random()
    if r < 0.25:
        return rng.uniform(20, 60)
    if r < 0.85:
        return rng.uniform(60, 180)
    return rng.uniform(180, 600)


def _latency_ms(rng: random.Random) -> float:
    return round(min(30_000.0, rng.lognormvariate(math.log(900), 0.7)), 1)


def _steps(rng: random.Random, run: Run, start: float) -> tuple[list[dict], float]:
    """The steps as dicts with offsets in seconds, and the offset at which the run ends."""
    clock = start + rng.uniform(1, 6)
    steps = []
    for number, call in enumerate(run.calls, start=1):
        latency = _latency_ms(rng)
        step = {
            "tool": call.tool,
            "action": call.tool.replace("_", " "),
            "parameters": {"ticket": run.ref, "target": run.target},
            "observation": None if call.error else words.observation(call.tool, run.ref, rng),
            "success": call.error is None,
            "error": call.error,
            "latency_ms": latency,
            "tokens": rng.randint(60, 1400),
            "step_number": number,
            "offset": clock,
        }
        steps.append(step)
        clock += latency / 1000 + rng.uniform(0.4, 4.0)
    return steps, clock + rng.uniform(1, 5)


@dataclass
class Draft:
    id: str
    run: Run
    start: float
    end: float
    steps: list[dict]
    verdict: str


def _draft(rng: random.Random, start: float) -> Draft:
    episode_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    run = draw_run(rng)
    steps, end = _steps(rng, run, start)
    verdict = rng.choice(words.SUCCESS_VERDICTS if run.success else words.FAILURE_REASONS)
    return Draft(episode_id, run, start, end, steps, verdict)


def _episode(draft: Draft, origin: datetime) -> Episode:
    run = draft.run
    family = run.family

    def at(offset: float) -> datetime:
        return origin + timedelta(seconds=offset)

    steps = [
        ExecutionStep(**{k: v for k, v in s.items() if k != "offset"}, timestamp=at(s["offset"]))
        for s in draft.steps
    ]
    if run.success:
        outcome = TaskOutcome.success(draft.verdict, artifacts=[run.ref])
    else:
        outcome = TaskOutcome.failure(draft.verdict, error_details=run.last_error)
    return Episode(
        id=draft.id,
        task_description=run.text,
        context=TaskContext(
            domain=family.domain,
            language=run.language,
            framework=family.framework,
            tags=run.tags,
            complexity=family.complexity,
        ),
        task_type=family.task_type,
        start_time=at(draft.start),
        end_time=at(draft.end),
        steps=steps,
        outcome=outcome,
        metadata={"agent": "clinical-ops-desk", "agent_version": "2.3.1"},
    )


def generate(n: int, seed: int, anchor: datetime | None = None) -> list[Episode]:
    """``n`` completed episodes in time order; the last one ends at ``anchor`` (now)."""
    rng = random.Random(seed)
    drafts: list[Draft] = []
    start = 0.0
    for _ in range(n):
        draft = _draft(rng, start)
        drafts.append(draft)
        start = max(start + _gap_seconds(rng), draft.end + 1.0)
    if not drafts:
        return []
    anchor = anchor or datetime.now(UTC)
    origin = anchor - timedelta(seconds=drafts[-1].end)
    return [_episode(draft, origin) for draft in drafts]
