"""A task family's sequence worked out again from its recent runs: the consensus of the
successful ones, after a change if one shows (:mod:`.changes`), the optional tools that do not
pay off left out (:mod:`.optional_tools`), and the runs that followed it counted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from ..config import LearningConfig
from ..records.learned import ToolSequence
from .changes import (
    broken_tools,
    change_point,
    follows,
    old_way_holds,
    replacements,
    skippable,
)
from .optional_tools import pays_off
from .sequences import consensus
from .slot_choices import with_choices
from .state import FamilyRun

__all__ = ["settle"]


def settle(family: ToolSequence, runs: list[FamilyRun], cfg: LearningConfig) -> None:
    """Recount the family's sequence from its recent ``runs`` (oldest first), in place."""
    shared = _consensus(runs, cfg)
    following = _followers(shared, runs, 0, cfg)
    start = 0
    if len(shared) >= 2:
        replacing = replacements(shared, runs, skippable(shared, runs, cfg))
        start = change_point(runs, following, cfg, replacing)
    family.stale = start > 0
    if start and runs[start].ended_at:
        family.changed_at = datetime.fromtimestamp(runs[start].ended_at, tz=UTC)
        optional = skippable(shared, runs, cfg)
        family.changed_tools = broken_tools(shared, runs[start:], optional)
    elif not start and old_way_holds(family, runs, cfg):
        family.changed_at, family.changed_tools = None, []
    tools = _consensus(runs[start:], cfg) if start else shared
    tools = pays_off(tools, [(_called(run), run.success, run.setting) for run in runs[start:]])
    tools, options = with_choices(tools, runs[start:], cfg)
    if options != family.options:
        family.options = options
    if family.conditional:
        tools = tuple(tool for tool in tools if tool not in family.conditional)
    if start or tools != shared:
        following = _followers(tools, runs, start, cfg)
    if len(tools) < 2:
        family.tools, family.support, family.successes = [], 0, 0
        family.reward_sum = family.latency_ms_sum = 0.0
        return
    family.stale = False
    matching = [runs[i] for i in following]
    family.tools = list(tools)
    family.support = len(matching)
    family.successes = sum(run.success for run in matching)
    family.reward_sum = sum(run.reward for run in matching)
    family.latency_ms_sum = sum(run.latency_ms for run in matching)


def _followers(
    sequence: tuple[str, ...], runs: list[FamilyRun], start: int, cfg: LearningConfig
) -> list[int]:
    """Indices of the runs from ``start`` on that followed the sequence."""
    optional = skippable(sequence, runs[start:], cfg)
    return [i for i in range(start, len(runs)) if follows(sequence, runs[i], optional)]


def _consensus(runs: Sequence[FamilyRun], cfg: LearningConfig) -> tuple[str, ...]:
    return consensus([run.path for run in runs if run.success], cfg)


def _called(run: FamilyRun) -> Mapping[str, int]:
    """How many times the run called each tool (:attr:`FamilyRun.calls`)."""
    if run.calls or not run.path:
        return run.calls
    calls = dict(Counter(run.path))
    calls.update((tool, 1) for tool in run.attempted if tool not in calls)
    return calls
