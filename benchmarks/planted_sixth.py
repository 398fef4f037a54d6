"""The sixth planted world: a game studio's build, release and live-ops desk.

``generate(n, seed)`` draws ``n`` completed episodes, episode by episode, from
``random.Random(seed)``: the first ``n`` of a longer stream are the same episodes (same ids,
tasks, steps and outcomes; the stream is shifted in time so that its last episode ends at
``anchor``). Episodes start 1-4 minutes apart. The facts are in
:mod:`benchmarks.planted_sixth_truth` and the task words in :mod:`benchmarks.planted_sixth_words`.

One run: pick a family by weight, a task template and its slot values, a language, tags; plan
the canonical tools (the build tool of the run's language, an option at a decision slot), the
family's optional context tool in about half the runs, noise tools at random places, and now
and then a skipped step. Then play the plan: planted errors strike their tools, and the agent
recovers the right way (75%), a wrong way (15%) or gives up (10%). A run that got through
succeeds with ``base + decision effect + context effect`` clipped to [0.03, 0.97]; a skipped
step fails it with probability 0.9; an unrecovered error fails it.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from selfmem.records import Episode, ExecutionStep, TaskContext, TaskOutcome

from . import planted_sixth_truth as T
from .planted_sixth_words import FRAMEWORK_VERSIONS, TEMPLATES, fill

_ERROR_BY_TOOL: dict[str, T.PlantedError] = {
    tool: err for err in T.ERRORS if err.kind != "state" for tool in err.tools
}
_STATE = next(e for e in T.ERRORS if e.kind == "state")
_WEIGHTS = [f.weight for f in T.FAMILIES]


@dataclass
class _Step:
    tool: str
    error: str | None = None
    start_s: float = 0.0
    latency_ms: float = 0.0
    tokens: int = 0
    observation: str | None = None


@dataclass
class _Draft:
    id: str
    task: str
    context: TaskContext
    task_type: str
    slots: dict[str, str]
    start_s: float
    steps: list[_Step] = field(default_factory=list)
    success: bool = False
    reason: str = ""
    end_s: float = 0.0


def _uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _context(fam: T.Family, rng: random.Random) -> tuple[TaskContext, str]:
    langs = [lang for lang, _ in fam.languages]
    language = rng.choices(langs, [w for _, w in fam.languages])[0]
    tags: list[str] = []
    for ctx in T.CONTEXT_EFFECTS:
        if ctx.family == fam.name and ctx.key == "tag" and rng.random() < ctx.p_feature:
            tags.append(ctx.value)
    for tag, rate in T.DECOY_TAGS.items():
        if rng.random() < rate:
            tags.append(tag)
    framework = f"{fam.framework}-{rng.choice(FRAMEWORK_VERSIONS)}"
    context = TaskContext(domain=fam.domain, language=language, framework=framework, tags=tags)
    return context, language


def _feature_holds(ctx: T.ContextEffect, context: TaskContext) -> bool:
    if ctx.key == "language":
        return context.language == ctx.value
    return ctx.value in context.tags


def _plan(fam: T.Family, context: TaskContext, rng: random.Random) -> tuple[list[str], float]:
    """The tools the agent means to call, in order, and the run's success probability."""
    p = fam.base
    plan: list[str] = []
    for tool in fam.tools:
        if tool == "@build":
            plan.append(T.SETTING_TOOLS[context.language or "cpp"])
        elif tool.startswith("?"):
            dec = next(d for d in T.DECISIONS if d.family == fam.name and d.slot == tool)
            better = rng.random() < dec.p_better
            plan.append(dec.better if better else dec.worse)
            p += dec.effect if better else 0.0
        else:
            plan.append(tool)
    for ctx in T.CONTEXT_EFFECTS:
        if ctx.family != fam.name:
            continue
        if rng.random() < ctx.p_tool:
            plan.insert(plan.index(ctx.after) + 1, ctx.tool)
            if _feature_holds(ctx, context):
                p += ctx.effect
    return plan, min(T.P_MAX, max(T.P_MIN, p))


def _add_noise(plan: list[str], fam: T.Family, rng: random.Random) -> list[str]:
    for noise in T.NOISE:
        if noise.families and fam.name not in noise.families:
            continue
        if rng.random() < noise.rate:
            plan.insert(rng.randint(0, len(plan)), noise.tool)
    return plan


def _observation(tool: str, slots: dict[str, str], rng: random.Random) -> str:
    detail = rng.choice(("ok", "done", "completed", "finished"))
    what = ", ".join(f"{k}={v}" for k, v in list(slots.items())[:2])
    return f"{tool.replace('_', ' ')} {detail} in {rng.randint(1, 90)}s" + (
        f" ({what})" if what else ""
    )


class _Run:
    """Plays one plan: the steps taken, and whether an error or a skip ended the run."""

    def __init__(self, draft: _Draft, rng: random.Random) -> None:
        self.draft, self.rng = draft, rng
        self.failed_by: str | None = None  # an unrecovered error's message

    def call(self, tool: str, error: str | None = None) -> None:
        rng = self.rng
        obs = None if error else _observation(tool, self.draft.slots, rng)
        self.draft.steps.append(
            _Step(tool, error, 0.0, round(rng.uniform(120, 3800), 1), rng.randint(30, 900), obs)
        )

    def recovery(self) -> str:
        r = self.rng.random()
        return "right" if r < T.P_RIGHT else "wrong" if r < T.P_RIGHT + T.P_WRONG else "give_up"

    def planted(self, tool: str) -> bool:
        """Call a tool with a planted error; False when the run ends there."""
        err = _ERROR_BY_TOOL[tool]
        if self.rng.random() >= err.rate:
            self.call(tool)
            return True
        self.call(tool, err.message)
        choice = self.recovery()
        if choice == "right":
            if err.kind == "retry":
                self.call(tool)
            elif err.kind == "fix":
                self.call(err.fix or "")
                self.call(tool)
            else:
                self.call(err.replacement or "")
            return True
        if choice == "wrong":
            if err.wrong:
                self.call(err.wrong)
            self.call(tool, err.message)
        self.failed_by = err.message
        return False

    def play(self, plan: list[str], early: str | None) -> None:
        signed = False
        for i, tool in enumerate(plan):
            if tool == "sign_build" and early is not None:
                self.call(early, _STATE.message)  # the confused agent's call out of order
                choice = self.recovery()
                if choice != "right":
                    if choice == "wrong":
                        self.call(early, _STATE.message)
                    self.failed_by = _STATE.message
                    return
            if tool in _STATE.tools and not signed and "sign_build" not in plan[i:]:
                self.call(tool, _STATE.message)  # sign_build was skipped: stuck
                self.failed_by = _STATE.message
                return
            if tool in _ERROR_BY_TOOL:
                if not self.planted(tool):
                    return
                continue
            self.call(tool)
            signed = signed or tool == "sign_build"


def _draw(rng: random.Random, start_s: float) -> _Draft:
    fam = rng.choices(T.FAMILIES, _WEIGHTS)[0]
    task, slots = fill(rng.choice(TEMPLATES[fam.name]), rng)
    context, _ = _context(fam, rng)
    draft = _Draft(_uid(rng), task, context, fam.task_type, slots, start_s)
    plan, p = _plan(fam, context, rng)
    skipped = None
    if rng.random() < T.P_SKIP:
        canonical = [t for t in plan if not any(c.tool == t for c in T.CONTEXT_EFFECTS)]
        skipped = rng.choice(canonical[1:])
        plan.remove(skipped)
    early = None
    state_tools = [
        t
        for t in plan
        if t in _STATE.tools and "sign_build" in plan and plan.index(t) > plan.index("sign_build")
    ]
    if state_tools and rng.random() < _STATE.rate:
        early = rng.choice(state_tools)
    plan = _add_noise(plan, fam, rng)
    run = _Run(draft, rng)
    run.play(plan, early)
    if run.failed_by is not None:
        draft.reason = f"stopped after error: {run.failed_by}"
    elif skipped is not None and rng.random() < T.P_SKIP_FAILS:
        draft.reason = f"incomplete: {skipped.replace('_', ' ')} never ran"
    elif rng.random() < p:
        draft.success = True
    else:
        draft.reason = rng.choice(
            (
                "verification failed after the last step",
                "players reported regressions",
                "rollback requested by producer",
                "checks red at the end of the run",
            )
        )
    t = start_s + rng.uniform(0.5, 3.0)
    for step in draft.steps:
        step.start_s = t
        t += step.latency_ms / 1000.0 + rng.uniform(0.2, 1.5)
    draft.end_s = t + rng.uniform(0.2, 2.0)
    return draft


def _episode(d: _Draft, base: datetime, n: int) -> Episode:
    steps = [
        ExecutionStep(
            tool=s.tool,
            action=f"call {s.tool}",
            parameters={**d.slots, "attempt": 1 + sum(x.tool == s.tool for x in d.steps[:i])},
            observation=s.observation,
            success=s.error is None,
            error=s.error,
            latency_ms=s.latency_ms,
            tokens=s.tokens,
            step_number=i + 1,
            timestamp=base + timedelta(seconds=s.start_s),
        )
        for i, s in enumerate(d.steps)
    ]
    if d.success:
        outcome = TaskOutcome.success(verdict="done", artifacts=[f"log/{d.id[:8]}.txt"])
    else:
        last = next((s.error for s in reversed(d.steps) if s.error), None)
        outcome = TaskOutcome.failure(reason=d.reason, error_details=last)
    return Episode(
        id=d.id,
        task_description=d.task,
        context=d.context,
        task_type=d.task_type,
        start_time=base + timedelta(seconds=d.start_s),
        end_time=base + timedelta(seconds=d.end_s),
        steps=steps,
        outcome=outcome,
        metadata={"agent": "studio-ops-agent", "run": n},
    )


def generate(n: int, seed: int, anchor: datetime | None = None) -> list[Episode]:
    """``n`` completed episodes in time order, the last one ending at ``anchor`` (default now)."""
    rng = random.Random(seed)
    drafts: list[_Draft] = []
    start = 0.0
    for _ in range(n):
        drafts.append(_draw(rng, start))
        start += rng.uniform(60.0, 240.0)
    if not drafts:
        return []
    anchor = anchor or datetime.now(UTC)
    base = anchor - timedelta(seconds=drafts[-1].end_s)
    return [_episode(d, base, i) for i, d in enumerate(drafts)]


def describe_run(episode: Episode) -> dict[str, Any]:
    """The tools and outcome of one episode, for eyeballing the stream."""
    return {
        "task": episode.task_description,
        "tools": [s.tool + ("!" if s.error else "") for s in episode.steps],
        "ok": episode.outcome.is_success if episode.outcome else None,
    }
