"""Which tools of a family's consensus belong in its sequence.

The consensus holds the tools most of a family's successful runs used. A tool that some of
them went without is optional: a choice between two tools at one step, or a step that only
some runs take (one that matters only under a tag or a language). Most successful runs may
use such a tool by chance, and in the sequence it would tell every agent to run it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .significance import difference_p, interaction_p

__all__ = ["ESSENTIAL_SHARE", "PAYS_OFF_ALPHA", "pays_off"]

#: The share of a family's successful runs that use a tool for it to be part of the family's
#: way whatever the other runs did.
ESSENTIAL_SHARE = 0.8
#: The level of the test that a step only some runs take raises the success rate.
PAYS_OFF_ALPHA = 0.05

#: How many times the run called each tool; whether it succeeded; its setting
#: (:attr:`~selfmem.learning.state.FamilyRun.setting`).
Run = tuple[Mapping[str, int], bool, frozenset[str]]


def pays_off(tools: tuple[str, ...], runs: Sequence[Run]) -> tuple[str, ...]:
    """The tools of a consensus that belong in the sequence, given the family's ``runs``.

    Kept: a tool at least ``ESSENTIAL_SHARE`` of the successful runs called; a tool with an
    alternative (most runs without it called another tool, which few runs with it called:
    a choice at that step) when the runs with it succeeded more often than the runs without
    it, since the agent must take one of the two; a step the other runs simply skipped when
    runs with it succeeded significantly more often (two-sided test at
    ``PAYS_OFF_ALPHA``), since skipping is the default, and also without the setting it
    may be paying off under only (:func:`_everywhere`). A tool the sequence holds twice is
    judged by the runs that called it that often."""
    wins = [calls for calls, success, _ in runs if success]
    kept: list[str] = []
    seen: dict[str, int] = {}
    for tool in tools:
        times = seen[tool] = seen.get(tool, 0) + 1
        if sum(calls.get(tool, 0) >= times for calls in wins) >= ESSENTIAL_SHARE * len(wins):
            kept.append(tool)
            continue
        used = [calls.get(tool, 0) >= times for calls, _, _ in runs]
        if _alternative(used, runs, set(tools)):
            if _better(used, runs, significant=False):
                kept.append(tool)
        elif _better(used, runs, significant=True) and _everywhere(used, runs):
            kept.append(tool)
    return tuple(kept)


def _everywhere(used: Sequence[bool], runs: Sequence[Run]) -> bool:
    """Whether a step only some runs take is the family's rather than one feature's: for
    each feature of the runs' settings (a tag, a language) under which the step pays off
    more than without it, either it also pays off significantly without the feature, or
    the evidence that it pays off there is at least as strong as the evidence that the
    feature makes a difference (the interaction). A step that helps only under one tag
    helps the family overall, but it is that tag's: a context pattern's, served once there
    are runs enough to compare."""
    for feature in sorted({feature for *_, setting in runs for feature in setting}):
        has = [feature in setting for *_, setting in runs]
        under, rest = _cells(used, runs, has, True), _cells(used, runs, has, False)
        if all(has) or _gap(*under) <= _gap(*rest):
            continue
        (with_s, with_n), (without_s, without_n) = rest
        p_rest = difference_p(with_s, with_n, without_s, without_n) if _gap(*rest) > 0 else 1.0
        if p_rest >= PAYS_OFF_ALPHA and interaction_p((*under, *rest)) < p_rest:
            return False
    return True


def _cells(
    used: Sequence[bool], runs: Sequence[Run], has: Sequence[bool], value: bool
) -> tuple[tuple[int, int], tuple[int, int]]:
    """Among the runs whose ``has`` is ``value``: (successes, runs) with the step and
    without it."""
    n, s = [0, 0], [0, 0]
    for u, (_, success, _), h in zip(used, runs, has, strict=True):
        if h == value:
            n[u] += 1
            s[u] += success
    return (s[1], n[1]), (s[0], n[0])


def _gap(with_step: tuple[int, int], without: tuple[int, int]) -> float:
    """The success rate with the step less the rate without it, each shrunk towards one half
    by one pseudo-run as :func:`~.significance.interaction_p` does, so that a group no run
    fell in (a step never taken without the feature) still compares."""
    (s1, n1), (s2, n2) = with_step, without
    return (s1 + 0.5) / (n1 + 1) - (s2 + 0.5) / (n2 + 1)


def _better(used: Sequence[bool], runs: Sequence[Run], *, significant: bool) -> bool:
    with_n = sum(used)
    with_s = sum(u and s for u, (_, s, _) in zip(used, runs, strict=True))
    without_n = len(used) - with_n
    without_s = sum(s for _, s, _ in runs) - with_s
    if not with_n or not without_n:
        return bool(with_n)
    if with_s / with_n <= without_s / without_n:
        return False
    return not significant or difference_p(with_s, with_n, without_s, without_n) < PAYS_OFF_ALPHA


def _alternative(used: Sequence[bool], runs: Sequence[Run], consensus: set[str]) -> bool:
    """Whether most runs without the tool called one other tool (outside the consensus)
    that fewer than half of the runs with it called."""
    with_calls = [calls for u, (calls, _, _) in zip(used, runs, strict=True) if u]
    without = [calls for u, (calls, _, _) in zip(used, runs, strict=True) if not u]
    counts: dict[str, int] = {}
    for calls in without:
        for other in calls.keys() - consensus:
            counts[other] = counts.get(other, 0) + 1
    return any(
        2 * n > len(without) and 2 * sum(other in c for c in with_calls) < len(with_calls)
        for other, n in counts.items()
    )
