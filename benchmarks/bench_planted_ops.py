"""The operations world (``planted_ops``) fed to the pattern learner, every served pattern
judged against the planted facts.

    python -m benchmarks.bench_planted_ops [--sizes 500,2000,10000] [--seeds 0,1,2]

Episodes are built as the recorders log them (steps with timestamps and latencies, outcome
success or failure, reward from ``compute_reward``) and passed to
``PatternLearner.observe`` in time order; then ``learner.patterns()`` is judged.

Judging rules (fixed before any output was read):

1. **tool_sequence**: true if ``tools`` equals one of a family's accepted sequences (the
   canonical tools, with the better option of a decision slot, either option of the decoy
   slot, or the slot left out). Context tools (``install_certbot_compat``, ...) are not part
   of any accepted sequence: in ``tools`` they make it false. Also false: ``stale`` set (the
   world never changes), or a ``conditional`` entry that is not a planted (tool, feature) of
   the matched family. A sequence with empty ``tools`` claims nothing and is not judged.
   A planted family is found when at least one true sequence matches it.
2. **decision_point**: true if (``after_tool``, ``best``, ``worst``) equals a planted
   decision. ``best`` or ``worst`` missing: claims nothing, not judged. Anything else,
   including a planted decision reversed or a choice on the decoy slot, is false.
3. **context_pattern**: true if ``measure`` is ``"outcome"``, ``tool`` is the planted
   tool, ``association`` the planted direction, and the value of ``feature`` (the part
   after ``=``) or of one of its ``aliases`` is the planted feature value. ``measure ==
   "calls"`` is false: no tool's call failures depend on context in this world.
4. **error_recovery**: judged by ``tool`` (each planted error is on its own tool). True if
   ``best_recovery`` and ``best_mode`` equal the planted ones: ``retry``/``retry`` (also
   accepted: the tool's own name with mode ``retry``), ``pin_dependency``/``fix``,
   ``query_replica``/``replace``; for ``restore_snapshot`` true only if ``best_recovery``
   is ``None`` ("no known recovery"). A pattern on any other tool is false.

Not scored, only listed: a true sequence whose ``sample_task`` (the task it shows as an
example) is a task of another family.

Several true patterns for one fact count as true (each states a true fact); the extra ones
are listed as duplicates. Recall is per kind over the planted facts: 12 families, 4
decisions, 4 context effects, 4 errors.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from selfmem import Episode, ExecutionStep, TaskContext, TaskOutcome, TaskType
from selfmem.learning import (
    ContextPattern,
    DecisionPoint,
    ErrorRecovery,
    PatternLearner,
    ToolSequence,
    compute_reward,
)

from .planted_ops import GeneratedEpisode, Truth, generate, truth

KINDS = ("tool_sequence", "decision_point", "context_pattern", "error_recovery")


def _episode(generated: GeneratedEpisode) -> Episode:
    at = generated.start_time
    steps = []
    for step in generated.steps:
        at += timedelta(milliseconds=step.latency_ms)
        steps.append(
            ExecutionStep(
                tool=step.tool, parameters=step.parameters, observation=step.observation,
                error=step.error, success=step.success, latency_ms=step.latency_ms, timestamp=at,
            )
        )  # fmt: skip
    outcome = TaskOutcome.success("done") if generated.success else TaskOutcome.failure("failed")
    context = TaskContext(
        domain=generated.domain, language=generated.language, tags=list(generated.tags)
    )
    episode = Episode(
        task_description=generated.description, context=context,
        task_type=TaskType(generated.task_type), steps=steps,
        start_time=generated.start_time, end_time=at, outcome=outcome,
    )  # fmt: skip
    episode.reward = compute_reward(episode)
    return episode


@dataclass
class Verdict:
    kind: str
    fact: str | None  # the planted fact it matches (None: false positive)
    reason: str = ""  # why it is false, or what it says


def _value(feature: str) -> str:
    return feature.split("=", 1)[-1].strip().lower()


def _judge_sequence(p: ToolSequence, world: Truth) -> Verdict:
    tools = tuple(p.tools)
    said = f"{' -> '.join(tools)} ({p.context.describe()})"
    family = next((f for f, seqs in world.sequences.items() if tools in seqs), None)
    if family is None:
        return Verdict("tool_sequence", None, f"sequence {said}: no family")
    if p.stale:
        return Verdict("tool_sequence", None, f"sequence {said}: stale in a stationary world")
    planted = {(tool, value) for fam, value, tool, _ in world.contexts if fam == family}
    for tool, feature in p.conditional.items():
        if (tool, _value(feature)) not in planted:
            return Verdict("tool_sequence", None, f"sequence {said}: conditional {tool} "
                           f"with {feature} not planted in {family}")  # fmt: skip
    return Verdict("tool_sequence", f"sequence {family}", said)


def _judge_decision(p: DecisionPoint, world: Truth) -> Verdict:
    said = f"decision after {p.after_tool}: {p.best} > {p.worst} ({p.describe()})"
    for family, after, best, worst in world.decisions:
        if (p.after_tool, p.best, p.worst) == (after, best, worst):
            return Verdict("decision_point", f"decision {family} {after}", said)
    return Verdict("decision_point", None, said)


def _judge_context(p: ContextPattern, world: Truth) -> Verdict:
    said = (f"context {p.measure} {p.feature} (aliases {p.aliases}) {p.tool} -> "
            f"{p.association}: {p.describe()}")  # fmt: skip
    values = {_value(p.feature), *(_value(a) for a in p.aliases)}
    for family, value, tool, direction in world.contexts:
        if (p.measure, p.tool, p.association) == ("outcome", tool, direction) and value in values:
            return Verdict("context_pattern", f"context {family} {value} {tool}", said)
    return Verdict("context_pattern", None, said)


def _judge_recovery(p: ErrorRecovery, world: Truth) -> Verdict:
    said = (f"recovery {p.tool} '{p.error_class}': {p.best_recovery}/{p.best_mode} "
            f"({p.describe()})")  # fmt: skip
    for tool, recovery, mode in world.recoveries:
        if p.tool != tool:
            continue
        best = p.best_recovery
        if recovery == "retry" and best == tool and p.best_mode == "retry":
            best = "retry"
        if (best, p.best_mode if best else None) == (recovery, mode):
            return Verdict("error_recovery", f"recovery {tool}", said)
    return Verdict("error_recovery", None, said)


def judge(pattern: object, world: Truth) -> Verdict | None:
    """The verdict on one served pattern, or ``None`` when it claims nothing."""
    if isinstance(pattern, ToolSequence):
        return _judge_sequence(pattern, world) if pattern.tools else None
    if isinstance(pattern, DecisionPoint):
        if pattern.best is None or pattern.worst is None:
            return None
        return _judge_decision(pattern, world)
    if isinstance(pattern, ContextPattern):
        return _judge_context(pattern, world)
    if isinstance(pattern, ErrorRecovery):
        return _judge_recovery(pattern, world)
    return Verdict("unknown", None, f"unknown pattern {type(pattern).__name__}")


def planted_facts(world: Truth) -> dict[str, list[str]]:
    return {
        "tool_sequence": [f"sequence {f}" for f in world.sequences],
        "decision_point": [f"decision {f} {a}" for f, a, _, _ in world.decisions],
        "context_pattern": [f"context {f} {v} {t}" for f, v, t, _ in world.contexts],
        "error_recovery": [f"recovery {t}" for t, _, _ in world.recoveries],
    }


@dataclass
class Score:
    tp: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    fp: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    found: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in KINDS})
    false: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # reported, not scored
    unjudged: int = 0

    def precision(self, kind: str | None = None) -> float | None:
        kinds = KINDS if kind is None else (kind,)
        tp, fp = sum(self.tp[k] for k in kinds), sum(self.fp[k] for k in kinds)
        return tp / (tp + fp) if tp + fp else None

    def recall(self, world: Truth, kind: str | None = None) -> float:
        facts = planted_facts(world)
        kinds = KINDS if kind is None else (kind,)
        total = sum(len(facts[k]) for k in kinds)
        return sum(len(self.found[k]) for k in kinds) / total


def score(patterns: Iterable[object], world: Truth) -> Score:
    result = Score()
    for pattern in patterns:
        verdict = judge(pattern, world)
        if verdict is None:
            result.unjudged += 1
            continue
        kind = verdict.kind if verdict.kind in KINDS else KINDS[0]
        if verdict.fact is None:
            result.fp[kind] += 1
            result.false.append(verdict.reason)
            continue
        result.tp[kind] += 1
        if verdict.fact in result.found[kind]:
            result.duplicates.append(verdict.reason)
        result.found[kind].add(verdict.fact)
    for kind, facts in planted_facts(world).items():
        result.missed += [fact for fact in facts if fact not in result.found[kind]]
    return result


def _cell(value: float | None) -> str:
    return "  - " if value is None else f"{value:.2f}"


def run(size: int, seed: int) -> tuple[Score, float]:
    world = truth()
    learner = PatternLearner("default")
    started = time.perf_counter()
    task_family = {}
    for generated in generate(size, seed):
        task_family[generated.description] = generated.family
        learner.observe(_episode(generated))
    patterns = learner.patterns()
    result = score(patterns, world)
    elapsed = time.perf_counter() - started
    for pattern in patterns:  # a true sequence that cites a task of another family
        verdict = judge(pattern, world)
        if not isinstance(pattern, ToolSequence) or verdict is None or verdict.fact is None:
            continue
        family = task_family.get(pattern.sample_task)
        if family is not None and verdict.fact != f"sequence {family}":
            result.notes.append(f"{verdict.fact} cites '{pattern.sample_task}' ({family})")
    return result, elapsed


def _print(size: int, seed: int, result: Score, elapsed: float) -> None:
    world = truth()
    kinds = " ".join(
        f"{_cell(result.precision(k))}/{_cell(result.recall(world, k)):>5}" for k in KINDS
    )
    print(f"{size:>6} {seed:>5} {kinds} {_cell(result.precision())}/"
          f"{_cell(result.recall(world))} {elapsed:6.1f}")  # fmt: skip
    for reason in result.false:
        print(f"{'':13}FP: {reason}")
    for missed in result.missed:
        print(f"{'':13}missed: {missed}")
    for duplicate in result.duplicates:
        print(f"{'':13}duplicate: {duplicate}")
    for note in result.notes:
        print(f"{'':13}note (not scored): {note}")
    if result.unjudged:
        print(f"{'':13}served without a claim (not judged): {result.unjudged}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default="500,2000,10000")
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args(argv)
    world = truth()
    print(f"{'size':>6} {'seed':>5} " + " ".join(f"{k[:12]:>11}" for k in KINDS)
          + f" {'all P/R':>11} {'s':>6}")  # fmt: skip
    for size in (int(x) for x in args.sizes.split(",")):
        results = []
        for seed in (int(x) for x in args.seeds.split(",")):
            result, elapsed = run(size, seed)
            _print(size, seed, result, elapsed)
            results.append(result)
        cells = []
        for kind in (*KINDS, None):
            p = min((r.precision(kind) for r in results if r.precision(kind) is not None),
                    default=None)  # fmt: skip
            r = min(result.recall(world, kind) for result in results)
            cells.append(f"{kind or 'all'} {_cell(p)}/{_cell(r)}")
        print(f"{size:>6} worst: " + ", ".join(cells))


if __name__ == "__main__":
    main()
