"""What the plots show, as plain data (no matplotlib here): episodes in completion order,
rolling success rate and mean reward, rewards, and patterns discovered over time. Read
through the public API, from a memory or from records a caller already holds."""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..config import MAX_PAGE
from ..errors import InvalidInputError
from ..memory import SelfLearningMemory
from ..records import AnyPattern, Episode

__all__ = [
    "Grouping",
    "Line",
    "completed_episodes",
    "group_of",
    "pattern_lines",
    "rewards",
    "rolling_lines",
    "success",
]

#: How episodes are split into lines: a field name (``"task_type"``, ``"domain"``,
#: ``"language"``), a function of the episode, or None for the overall line only.
Grouping = str | Callable[[Episode], str] | None

_FIELDS = {
    "task_type": lambda e: e.task_type.value,
    "domain": lambda e: e.context.domain or "(no domain)",
    "language": lambda e: e.context.language or "(no language)",
}


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a plot: its name and its points."""

    name: str
    x: list[Any]
    y: list[float]


def completed_episodes(
    source: SelfLearningMemory | Iterable[Episode], limit: int | None = None
) -> list[Episode]:
    """Episodes that ended with a verdict (success, partial success, failure), in the order
    they were completed: open and abandoned ones are left out, as the success statistics
    leave them out. From a memory, the latest ``limit`` (all by default), read a page at a
    time without their steps."""
    episodes = _read(source, limit) if isinstance(source, SelfLearningMemory) else list(source)
    done = [e for e in episodes if e.outcome is not None and not e.outcome.is_abandoned]
    done.sort(key=lambda e: (e.end_time or e.start_time, e.start_time))
    return done[-limit:] if limit is not None else done


def _read(memory: SelfLearningMemory, limit: int | None) -> list[Episode]:
    found: list[Episode] = []
    while limit is None or len(found) < limit:
        size = MAX_PAGE if limit is None else min(MAX_PAGE, limit - len(found))
        page = memory.list_episodes(completed_only=True, include_steps=False, limit=size,
                                    after=found[-1] if found else None)  # fmt: skip
        found += page
        if len(page) < size:
            break
    return found


def group_of(by: Grouping) -> Callable[[Episode], str] | None:
    """The function naming an episode's group (None: no groups)."""
    if by is None or callable(by):
        return by
    try:
        return _FIELDS[by]
    except KeyError:
        choices = ", ".join(sorted(_FIELDS))
        raise InvalidInputError(
            f"unknown grouping {by!r}: one of {choices}, a function of the episode, or None",
            field="by",
        ) from None


def success(episode: Episode) -> float:
    """1 for a success, 0 for a partial success or a failure."""
    return 1.0 if episode.outcome is not None and episode.outcome.is_success else 0.0


def rewards(episode: Episode) -> float:
    """The episode's total reward (0 when it has none)."""
    return episode.reward.total if episode.reward is not None else 0.0


def _rolling(values: Sequence[float], window: int) -> list[float]:
    """The mean of the last ``window`` values at each point (of all of them until there
    are ``window``)."""
    kept: deque[float] = deque()
    total = 0.0
    means = []
    for value in values:
        kept.append(value)
        total += value
        if len(kept) > window:
            total -= kept.popleft()
        means.append(total / len(kept))
    return means


def rolling_lines(
    episodes: Sequence[Episode],
    value: Callable[[Episode], float],
    *,
    window: int = 50,
    by: Grouping = None,
    label: str = "all",
) -> list[Line]:
    """The rolling mean of ``value`` over ``episodes`` (in completion order): one line over
    all of them named ``label``, then one per group, each rolling over its own episodes. x
    is an episode's position (from 1) in the whole sequence, so the lines share an axis."""
    if window < 1:
        raise InvalidInputError("window must be at least 1", field="window")
    lines = [Line(label, list(range(1, len(episodes) + 1)),
                  _rolling([value(e) for e in episodes], window))]  # fmt: skip
    name_of = group_of(by)
    if name_of is None:
        return lines
    groups: dict[str, list[tuple[int, Episode]]] = {}
    for position, episode in enumerate(episodes, 1):
        groups.setdefault(name_of(episode), []).append((position, episode))
    prefix = "" if label == "all" else f"{label}: "
    for name, members in sorted(groups.items()):
        ys = _rolling([value(e) for _, e in members], window)
        lines.append(Line(prefix + name, [p for p, _ in members], ys))
    return lines


def pattern_lines(
    patterns: Sequence[AnyPattern],
    *,
    served: set[str] | None = None,
    by_kind: bool = True,
    episode_ends: Sequence[datetime] | None = None,
) -> list[Line]:
    """The cumulative count of patterns by when each was first seen: all of them, those
    still ``served`` (when given), and one line per kind. x is the time first seen or, given
    ``episode_ends`` (sorted completion times), how many episodes had completed by then,
    each line then running on to the latest episode."""
    ordered = sorted(patterns, key=lambda p: p.first_seen)
    lines = [_cumulative("all patterns", ordered, episode_ends)]
    if served is not None:
        kept = [p for p in ordered if p.id in served]
        lines.append(_cumulative("served now", kept, episode_ends))
    if by_kind:
        kinds = sorted({p.kind.value for p in ordered})
        lines += [_cumulative(k, [p for p in ordered if p.kind.value == k], episode_ends)
                  for k in kinds]  # fmt: skip
    return lines


def _cumulative(
    name: str, ordered: Sequence[AnyPattern], episode_ends: Sequence[datetime] | None
) -> Line:
    xs: list[Any] = [p.first_seen for p in ordered]
    ys = [float(i) for i in range(1, len(ordered) + 1)]
    if episode_ends is not None:
        xs = [bisect_right(episode_ends, seen) for seen in xs]
        if xs and xs[-1] < len(episode_ends):  # the count holds up to the latest episode
            xs.append(len(episode_ends))
            ys.append(ys[-1])
    return Line(name, xs, ys)
