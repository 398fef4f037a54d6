"""Tool sequences shared by runs: the consensus of several runs' procedures, and the
sequence the nearest successful runs of a new task share."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ..config import LearningConfig
from ..records.episodes import Episode, utc_now
from ..records.learned import PatternContext, ToolSequence, stable_id
from ..records.stats import wilson_lower_bound
from . import extractors as ex

__all__ = ["consensus", "neighbour_sequence"]


def consensus(paths: Sequence[tuple[str, ...]], cfg: LearningConfig) -> tuple[str, ...]:
    """Tools present in most paths (``sequence_min_frequency``), ordered by their mean
    relative position; nothing for fewer than ``min_support`` paths.

    A tool used twice in a path (e.g. tests run before and after a fix) counts as two slots,
    so the sequence can hold it twice.
    """
    if len(paths) < cfg.min_support:
        return ()
    presence: dict[tuple[str, int], int] = {}
    position: dict[tuple[str, int], float] = {}
    for path in paths:
        seen: dict[str, int] = {}
        for index, tool in enumerate(path):
            slot = (tool, seen.get(tool, 0))
            seen[tool] = slot[1] + 1
            presence[slot] = presence.get(slot, 0) + 1
            position[slot] = position.get(slot, 0.0) + index / max(1, len(path) - 1)
    needed = cfg.sequence_min_frequency * len(paths)
    frequent = [slot for slot, count in presence.items() if count >= needed]
    frequent.sort(key=lambda slot: (position[slot] / presence[slot], slot))
    return tuple(tool for tool, _ in frequent)


def neighbour_sequence(
    namespace: str, task: str, neighbours: Sequence[Episode], cfg: LearningConfig
) -> ToolSequence | None:
    """The sequence the nearest successful runs of a task share, as a pattern record that is
    not stored: ``support`` counts the neighbours that followed it, ``confidence`` is the
    Wilson lower bound of that share. None when fewer than ``min_support`` of them agree on a
    sequence of at least two tools."""
    runs = [ep for ep in neighbours if ex.succeeded(ep)]
    if not runs:
        return None
    procedures = [ex.procedure(ep) for ep in runs]
    # several neighbours that did exactly the same: that is the sequence; otherwise what
    # most of them did (noise steps differ from run to run)
    votes = Counter(procedures)
    exact, count = max(votes.items(), key=lambda item: (item[1], -procedures.index(item[0])))
    if count >= cfg.min_support:
        tools = exact
        followed = [ep for ep, path in zip(runs, procedures, strict=True) if path == exact]
    else:
        tools = consensus(procedures, cfg)
        followed = [
            ep for ep, path in zip(runs, procedures, strict=True) if ex.is_subsequence(tools, path)
        ]
    if len(tools) < 2 or len(followed) < cfg.min_support:
        return None
    key = "similar:" + "|".join(tools)
    newest = max((ep.end_time or ep.start_time for ep in followed), default=utc_now())
    first = followed[0]
    same_domain = all(ep.context.domain == first.context.domain for ep in followed)
    same_type = all(ep.task_type == first.task_type for ep in followed)
    pattern = ToolSequence(
        id=stable_id(namespace, "tool_sequence", key),
        namespace=namespace,
        key=key,
        tools=list(tools),
        support=len(runs),
        successes=len(followed),
        sample_task=first.task_description[:200],
        episode_ids=[ep.id for ep in followed],
        first_seen=min(ep.start_time for ep in followed),
        last_seen=newest,
        context=PatternContext(
            domain=first.context.domain if same_domain else None,
            task_type=first.task_type if same_type else None,
        ),
    )
    if wilson_lower_bound(len(followed), len(runs)) < cfg.sequence_min_confidence:
        return None
    return pattern
