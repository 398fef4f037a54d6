"""Steps a setting refuses: a family's tool whose calls fail under one feature of the
setting, where no run with that feature got it to work (``issue_internal_certificate`` in
production), and what the family's runs with the feature did instead. Plain functions over
the learner's patterns and recent runs (see :meth:`PatternLearner.failing_in`)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from ..config import LearningConfig
from ..records.learned import AnyPattern, ContextPattern
from . import extractors as ex
from .sequences import consensus, furthest
from .state import FamilyRun

__all__ = ["by_family", "refused", "went_there"]


def by_family(served: Iterable[AnyPattern]) -> dict[str, list[ContextPattern]]:
    """The served context patterns that say a tool's calls fail under a feature
    (``measure="calls"``, ``association="failure"``), by family key."""
    found: dict[str, list[ContextPattern]] = {}
    for pattern in served:
        if (
            isinstance(pattern, ContextPattern)
            and pattern.measure == "calls"
            and pattern.association == "failure"
        ):
            found.setdefault(pattern.family, []).append(pattern)
    return found


def refused(pattern: ContextPattern, setting: frozenset[str], runs: Iterable[FamilyRun]) -> bool:
    """Whether the pattern's tool is refused in ``setting``: its feature (or an alias) is
    one of the setting's, and none of the family's recent ``runs`` with it got the tool to
    work (a tool that fails there at first and works once retried or fixed is a step)."""
    if not {pattern.feature, *pattern.aliases} & setting:
        return False
    return not any(pattern.feature in run.setting and pattern.tool in run.path for run in runs)


def went_there(
    runs: Iterable[FamilyRun],
    tools: Sequence[str],
    feature: str,
    refused_tools: Collection[str],
    idle: Collection[str],
    cfg: LearningConfig,
) -> tuple[str, ...] | None:
    """What the ``runs`` (newest first) with ``feature`` in their setting did from ``tools``
    on, of any outcome: the consensus (:func:`.sequences.consensus`) of the steps that
    worked in those that took ``tools`` in order and none of the ``refused_tools`` (tools
    that work in any state, ``idle``, left out), extended by the run that got furthest
    through it (the newest among equals), as how far failed runs got is
    (:func:`.sequences.progress_sequence`); None when it goes no further than ``tools``."""
    paths = []
    for run in runs:
        path = tuple(tool for tool in run.path if tool not in idle)
        if feature not in run.setting or set(path) & set(refused_tools):
            continue
        if ex.is_subsequence(tools, path):
            paths.append(path)
    way = consensus(paths, cfg)
    if way:  # the newest first among the longest
        way = furthest(way, paths, [-at for at in range(len(paths))])
    return way if len(way) > len(tools) and ex.is_subsequence(tools, way) else None
