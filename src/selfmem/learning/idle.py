"""Tools that work in any state: their working is no sign that a run got anywhere."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ..config import LearningConfig
from ..records.learned import ToolSequence
from .state import FamilyRun

__all__ = ["idle_tools"]


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
    calls: Counter[str] = Counter()
    clean: Counter[str] = Counter()
    for family in families:
        for tool, stats in family.tool_calls.items():
            calls[tool] += stats.n
            clean[tool] += stats.successes
    never = {t for t, n in calls.items() if n >= 2 * cfg.min_support and clean[t] == n}
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
