"""Tools that work in any state: their working is no sign that a run got anywhere; and first
steps that nothing shows a task needs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ..config import LearningConfig
from ..records.learned import ToolSequence
from .state import FamilyRun

__all__ = ["idle_tools", "unproven_tools"]


def idle_tools(
    families: Iterable[ToolSequence], windows: Iterable[Iterable[FamilyRun]], cfg: LearningConfig
) -> set[str]:
    """Tools none of whose calls ever failed, in at least ``2 * min_support`` runs, and that
    worked after a step which has failed somewhere, or right before such a step that other
    runs started with.

    Where a step of a procedure fails when it is called out of turn, a tool that worked in
    every run that called it, also after state-dependent steps had worked, needs nothing
    and moves nothing forward: a no-op, or an action whose damage shows only at the end
    (dropping a table, a force push). A procedure's first step also never fails when called
    first, but it works only before the others: it stays. Unless the step after it started
    other runs: that step did not need it, so a tool only ever called first (an offer of how
    far runs got that starts with it has every follower call it there) is idle too. This
    holds only where calls out of turn fail; the learner asks only when some error class
    says so (:meth:`PatternLearner.idle_tools`). ``families``: the learner's family records
    (their ``tool_calls``); ``windows``: each family's recent runs."""
    calls, clean, never = _calls(families, cfg)
    runs = [run for window in windows for run in window if run.path]
    # steps (they failed somewhere) that worked with nothing done before them
    starts = {run.path[0] for run in runs if clean[run.path[0]] < calls[run.path[0]]}
    found: set[str] = set()
    for run in runs:
        if found == never:
            break
        after_step = False
        for tool, then in zip(run.path, (*run.path[1:], None), strict=True):
            if tool not in never:
                after_step = True
            elif after_step or then in starts:
                found.add(tool)
    return found


def unproven_tools(
    families: Iterable[ToolSequence],
    windows: Iterable[Iterable[FamilyRun]],
    cfg: LearningConfig,
    idle: set[str],
) -> set[str]:
    """Tools none of whose calls ever failed, in at least ``2 * min_support`` runs, that
    every run calling them called first and once, where no run called first a step that
    came right after them: first steps nothing shows are needed.

    Such a tool may be a procedure's first step, or a no-op, or damage that shows only at
    the end (a deleted bucket), that one exploring run happened to start with. An offer of
    how far failed runs got that starts with it has every follower call it there, so the
    two are never told apart. Left out of that offer, the next run tells them apart: the
    step after it works first (it was not needed, and :func:`idle_tools` finds it) or
    fails (it was, and it is no longer unproven). ``idle``: the tools :func:`idle_tools`
    found, left aside."""
    never = _calls(families, cfg)[2] - idle
    if not never:
        return set()
    runs = [run for window in windows for run in window if run.attempted]
    firsts = Counter(run.attempted[0] for run in runs)
    found: set[str] = set()
    for tool in never:
        after: set[str] = set()
        for run in runs:
            if tool not in run.attempted:
                continue
            if run.attempted[0] != tool or tool in run.attempted[1:]:
                break  # called later in a run: not only a first step
            if len(run.path) > 1 and run.path[0] == tool:
                after.add(run.path[1])
        else:
            if after and not any(firsts[step] for step in after):
                found.add(tool)
    return found


def _calls(
    families: Iterable[ToolSequence], cfg: LearningConfig
) -> tuple[Counter[str], Counter[str], set[str]]:
    """How many times each tool was called in the families' runs, how many of those calls
    worked, and the tools none of whose calls ever failed, in at least ``2 * min_support``."""
    calls: Counter[str] = Counter()
    clean: Counter[str] = Counter()
    for family in families:
        for tool, stats in family.tool_calls.items():
            calls[tool] += stats.n
            clean[tool] += stats.successes
    never = {t for t, n in calls.items() if n >= 2 * cfg.min_support and clean[t] == n}
    return calls, clean, never
