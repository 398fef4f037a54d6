"""How many planted decisions and context effects the data itself can show: an oracle's bound
on recall, per generator, size and seed.

    cd /work/main && PYTHONPATH= .venv/bin/python -m benchmarks.bench_planted_power \
        --sizes 500,2000 --seeds 0,1,2

The oracle knows what no learner knows: each episode's planted family, which comparison to
make for each planted effect, and its direction. For a decision it compares the success of
the family's runs that took the better option with those that took a worse one; for a context
effect, among the family's runs where the feature holds, those that ran the tool with those
that did not. One test per planted effect, one-sided Fisher exact, no correction for the
many other comparisons a learner has to make: a planted effect counts as *detectable* when
p < 0.05. Every planted sequence and error is assumed found, so the recall printed is an
upper bound for any learner that only serves what its data show at that level, and a loose
one (a learner that also holds precision has to correct for every comparison it makes).

Nothing here runs the learner; compare with the judges' recall (``bench_planted_ops``,
``bench_planted_third``, ``bench_planted_fourth``, ``bench_planted_fifth``,
``bench_planted_sixth``, ``bench_planted_seventh``, ``bench_planted_direct``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from math import comb
from typing import Any

from selfmem.records import Episode

ALPHA = 0.05

# (took the compared option or tool, succeeded) per run of the compared group
Group = list[bool]


@dataclass(frozen=True)
class Comparison:
    """One planted effect: the runs with it and the runs without, and its direction."""

    name: str
    with_: Group
    without: Group
    helps: bool

    @property
    def p_value(self) -> float:
        return fisher_one_sided(self.with_, self.without, greater=self.helps)

    def describe(self) -> str:
        return (
            f"{self.name:<40s} {sum(self.with_):>4d}/{len(self.with_):<4d} vs "
            f"{sum(self.without):>4d}/{len(self.without):<4d} p={self.p_value:.3g}"
        )


def fisher_one_sided(a: Group, b: Group, *, greater: bool) -> float:
    """P of a success count in ``a`` at least (``greater``) or at most the one seen, given
    the margins (the hypergeometric tail of Fisher's exact test)."""
    n_a, n = len(a), len(a) + len(b)
    k, x = sum(a) + sum(b), sum(a)
    if n_a == 0 or len(b) == 0:
        return 1.0
    total = comb(n, n_a)
    lo, hi = max(0, k - (n - n_a)), min(k, n_a)
    tail = range(x, hi + 1) if greater else range(lo, x + 1)
    return sum(comb(k, i) * comb(n - k, n_a - i) for i in tail) / total


# ---------------------------------------------------------------------------------------
# The generators: each gives (comparisons, planted facts in all) for one stream
# ---------------------------------------------------------------------------------------


def _with_families(
    module: Any, builder: str, family: Callable[..., str], size: int, seed: int
) -> tuple[list[Episode], dict[str, str]]:
    """The generator's episodes and each one's planted family, read from the arguments of
    the module's function that builds one episode (the episodes themselves do not say)."""
    family_of: dict[str, str] = {}
    build = getattr(module, builder)

    def noting(*args: Any) -> Episode:
        episode: Episode = build(*args)
        family_of[episode.id] = family(*args)
        return episode

    setattr(module, builder, noting)
    try:
        episodes = module.generate(size, seed)
    finally:
        setattr(module, builder, build)
    return episodes, family_of


def _third(size: int, seed: int) -> tuple[list[Comparison], int]:
    from .bench_planted_third import planted_facts
    from .planted_third import generate
    from .planted_third_truth import CONTEXT_EFFECTS, DECISIONS

    runs = [
        (e.metadata["family"], {s.tool for s in e.steps}, e.context, _ok(e))
        for e in generate(size, seed)
    ]
    out = [
        _decision(f"decision {d.family}", runs, d.family, [d.better], [d.worse])
        for d in DECISIONS
        if not d.decoy
    ]
    for c in CONTEXT_EFFECTS:
        out.append(_context(f"context {c.family}", runs, c.family, c.feature, c.tool, c.effect))
    return out, sum(len(v) for v in planted_facts().values())


def _fourth(size: int, seed: int) -> tuple[list[Comparison], int]:
    from . import planted_fourth
    from .bench_planted_fourth import planted_facts
    from .planted_fourth_truth import CONTEXT_EFFECTS, DECISIONS

    episodes, family_of = _with_families(
        planted_fourth, "_build", lambda run, *_: run.family.name, size, seed
    )
    runs = [(family_of[e.id], {s.tool for s in e.steps}, e.context, _ok(e)) for e in episodes]
    out = []
    for d in DECISIONS:
        if d.decoy:
            continue
        worse = [o.tool for o in d.options if o.tool != d.better]
        out.append(_decision(f"decision {d.family}", runs, d.family, [d.better], worse))
    for c in CONTEXT_EFFECTS:
        out.append(_context(f"context {c.family}", runs, c.family, c.feature, c.tool, c.effect))
    return out, sum(len(v) for v in planted_facts().values())


def _fifth(size: int, seed: int) -> tuple[list[Comparison], int]:
    from . import planted_fifth
    from .bench_planted_fifth import planted_facts
    from .planted_fifth_truth import CONTEXT_EFFECTS, DECISIONS

    episodes, family_of = _with_families(
        planted_fifth, "_episode", lambda draft, *_: draft.run.family.name, size, seed
    )
    runs = [(family_of[e.id], {s.tool for s in e.steps}, e.context, _ok(e)) for e in episodes]
    out = [
        _decision(f"decision {d.family}", runs, d.family, [d.options[0]], list(d.options[1:]))
        for d in DECISIONS
        if not d.decoy
    ]
    for c in CONTEXT_EFFECTS:
        out.append(_context(f"context {c.family}", runs, c.family, c.feature, c.tool, c.effect))
    return out, sum(len(v) for v in planted_facts().values())


def _sixth(size: int, seed: int) -> tuple[list[Comparison], int]:
    from . import planted_sixth
    from .planted_sixth_truth import CONTEXT_EFFECTS, DECISIONS, planted_facts

    drawn: list[str] = []  # the family of each run, in the order the runs are drawn
    plan = planted_sixth._plan

    def noting(family: Any, *args: Any) -> Any:
        drawn.append(family.name)
        return plan(family, *args)

    planted_sixth._plan = noting  # type: ignore[assignment]
    try:
        episodes = planted_sixth.generate(size, seed)
    finally:
        planted_sixth._plan = plan  # type: ignore[assignment]
    runs = [
        (family, {s.tool for s in e.steps}, e.context, _ok(e))
        for family, e in zip(drawn, episodes, strict=True)
    ]
    out = [
        _decision(f"decision {d.family}", runs, d.family, [d.better], [d.worse])
        for d in DECISIONS
        if d.effect
    ]
    for c in CONTEXT_EFFECTS:
        feature = f"{c.key}={c.value}"
        out.append(_context(f"context {c.family}", runs, c.family, feature, c.tool, c.effect))
    return out, sum(len(v) for v in planted_facts().values())


def _seventh(size: int, seed: int) -> tuple[list[Comparison], int]:
    from .planted_seventh import generate_runs
    from .planted_seventh_truth import CONTEXT_EFFECTS, DECISIONS, planted_facts

    runs = [
        (r.family, {s.tool for s in r.episode.steps}, r.episode.context, _ok(r.episode))
        for r in generate_runs(size, seed)
    ]
    out = [
        _decision(f"decision {d.family}", runs, d.family, [d.better], list(d.worse))
        for d in DECISIONS
        if not d.decoy
    ]
    for c in CONTEXT_EFFECTS:
        feature = c.feature_text
        out.append(_context(f"context {c.family}", runs, c.family, feature, c.tool, c.effect))
    return out, sum(len(v) for v in planted_facts().values())


def _ops(size: int, seed: int) -> tuple[list[Comparison], int]:
    from .bench_planted_ops import planted_facts
    from .planted_ops import CONTEXT_EFFECTS, FAMILIES, Choice, generate, truth

    runs = [
        (e.family, {s.tool for s in e.steps}, _Context(e.language, e.tags), e.success)
        for e in generate(size, seed)
    ]
    out = []
    for family in FAMILIES:
        for step in family.steps:
            if isinstance(step, Choice) and step.delta:
                name = f"decision {family.name}"
                out.append(_decision(name, runs, family.name, [step.best], [step.worst]))
    for c in CONTEXT_EFFECTS:
        feature = f"{c.feature}={c.value}"
        out.append(_context(f"context {c.family}", runs, c.family, feature, c.tool, c.delta))
    return out, sum(len(v) for v in planted_facts(truth()).values())


def _direct(size: int, seed: int) -> tuple[list[Comparison], int]:
    from .planted_score import planted_facts
    from .planted_world import FAMILIES, generate

    episodes = generate(size, seed).episodes
    out = []
    for family in FAMILIES:
        runs = [e for e in episodes if e.family == family.name]
        if family.decision is not None:
            good = [e.success for e in runs if e.chose_good is True]
            bad = [e.success for e in runs if e.chose_good is False]
            out.append(Comparison(f"decision {family.name}", good, bad, True))
        if family.context is not None:
            under = [e for e in runs if e.feature_present]
            used = [e.success for e in under if e.used_context_tool]
            unused = [e.success for e in under if not e.used_context_tool]
            helps = family.context.association == "success"
            out.append(Comparison(f"context {family.name}", used, unused, helps))
    return out, sum(len(v) for v in planted_facts().values())


@dataclass(frozen=True)
class _Context:
    language: str | None
    tags: Iterable[str]


def _ok(episode) -> bool:  # type: ignore[no-untyped-def]
    return bool(episode.outcome.status.value == "success")


def _decision(
    name: str, runs: list, family: str, better: list[str], worse: list[str]
) -> Comparison:
    mine = [(tools, ok) for fam, tools, _, ok in runs if fam == family]
    took = [ok for tools, ok in mine if tools & set(better)]
    other = [ok for tools, ok in mine if tools & set(worse) and not tools & set(better)]
    return Comparison(name, took, other, True)


def _context(
    name: str, runs: list, family: str, feature: str, tool: str, effect: float
) -> Comparison:
    kind, _, value = feature.partition("=")

    def holds(context) -> bool:  # type: ignore[no-untyped-def]
        return value in context.tags if kind == "tag" else context.language == value

    under = [(tools, ok) for fam, tools, ctx, ok in runs if fam == family and holds(ctx)]
    used = [ok for tools, ok in under if tool in tools]
    unused = [ok for tools, ok in under if tool not in tools]
    return Comparison(name, used, unused, effect > 0)


GENERATORS: dict[str, Callable[[int, int], tuple[list[Comparison], int]]] = {
    "planted_world": _direct,
    "planted_ops": _ops,
    "planted_third": _third,
    "planted_fourth": _fourth,
    "planted_fifth": _fifth,
    "planted_sixth": _sixth,
    "planted_seventh": _seventh,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="500,2000")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--generators", default=",".join(GENERATORS))
    parser.add_argument("--quiet", action="store_true", help="the summary lines only")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    for name in args.generators.split(","):
        for size in sizes:
            for seed in seeds:
                comparisons, planted = GENERATORS[name](size, seed)
                shown = sum(c.p_value < ALPHA for c in comparisons)
                ceiling = (planted - len(comparisons) + shown) / planted
                print(
                    f"{name:<15s} {size:>6d} seed {seed}: {shown} of {len(comparisons)} "
                    f"effects detectable, recall at most {ceiling:.2f}"
                )
                if not args.quiet:
                    for c in comparisons:
                        print("    " + c.describe())


if __name__ == "__main__":
    main()
