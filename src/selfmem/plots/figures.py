"""The plots, drawn with matplotlib on a new :class:`~matplotlib.figure.Figure` (no pyplot,
so nothing global changes and any backend works) or on the axes a caller passes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..errors import InvalidInputError
from ..memory import SelfLearningMemory
from ..records import AnyPattern, Episode
from .series import (
    Grouping,
    Line,
    completed_episodes,
    group_of,
    pattern_lines,
    rewards,
    rolling_lines,
    success,
)

__all__ = [
    "learning_curve",
    "mean_reward",
    "patterns_over_time",
    "reward_distribution",
    "success_rate",
]

Source = SelfLearningMemory | Iterable[Episode]
_SIZE = (8.0, 3.6)
_EVERY = 10**9  # "all of them" for list_patterns


def _axes(ax: Axes | None, size: tuple[float, float] = _SIZE) -> Axes:
    if ax is not None:
        return ax
    figure = Figure(figsize=size, layout="constrained")
    return figure.add_subplot()


def _draw(ax: Axes, lines: Sequence[Line]) -> None:
    for i, line in enumerate(lines):  # the first line is the overall one
        ax.plot(line.x, line.y, label=line.name, linewidth=2.2 if i == 0 else 1.2,
                alpha=1.0 if i == 0 else 0.85)  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="best")


def success_rate(
    source: Source,
    *,
    window: int = 50,
    by: Grouping = None,
    label: str = "all",
    limit: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """The rolling success rate over episodes in completion order (the last ``window``
    runs at each point; of a group's own runs for its line). ``by`` adds a line per task
    type (``"task_type"``), ``"domain"``, ``"language"`` or per the name a function gives.
    Pass ``ax`` to draw on existing axes, e.g. a second run beside a first, with ``label``
    naming each. Returns the axes (``ax.figure`` is the figure)."""
    episodes = completed_episodes(source, limit)
    ax = _axes(ax)
    _draw(ax, rolling_lines(episodes, success, window=window, by=by, label=label))
    ax.set(xlabel="episode (completion order)", ylabel=f"success rate (last {window})",
           ylim=(-0.02, 1.02), title="Success rate over episodes")  # fmt: skip
    return ax


def mean_reward(
    source: Source,
    *,
    window: int = 50,
    by: Grouping = None,
    label: str = "all",
    limit: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """The rolling mean reward over episodes in completion order (as :func:`success_rate`)."""
    episodes = completed_episodes(source, limit)
    ax = _axes(ax)
    _draw(ax, rolling_lines(episodes, rewards, window=window, by=by, label=label))
    ax.set(xlabel="episode (completion order)", ylabel=f"mean reward (last {window})",
           title="Reward over episodes")  # fmt: skip
    return ax


def learning_curve(
    source: Source, *, window: int = 50, by: Grouping = "task_type", limit: int | None = None
) -> Figure:
    """The learning curve: rolling success rate (top) and mean reward (bottom) over
    episodes in completion order, overall and per ``by`` (task type by default; None for
    the overall line only). ``limit``: only the latest episodes of a memory."""
    episodes = completed_episodes(source, limit)
    figure = Figure(figsize=(8.0, 6.4), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True)
    success_rate(episodes, window=window, by=by, ax=top)
    mean_reward(episodes, window=window, by=by, ax=bottom)
    top.set_xlabel("")
    figure.suptitle(f"Learning curve ({len(episodes)} episodes)")
    return figure


def reward_distribution(
    source: Source,
    *,
    bins: int = 20,
    by: Grouping = None,
    limit: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """A histogram of the episodes' total rewards (stacked per group when ``by`` is given),
    with the mean marked."""
    if bins < 1:
        raise InvalidInputError("bins must be at least 1", field="bins")
    episodes = completed_episodes(source, limit)
    ax = _axes(ax)
    values = [rewards(e) for e in episodes]
    name_of = group_of(by)
    if name_of is None or not episodes:
        ax.hist(values, bins=bins, label=f"{len(values)} episodes")
    else:
        groups: dict[str, list[float]] = {}
        for episode in episodes:
            groups.setdefault(name_of(episode), []).append(rewards(episode))
        names = sorted(groups)
        ax.hist([groups[n] for n in names], bins=bins, stacked=True, label=names)
    if values:
        mean = sum(values) / len(values)
        ax.axvline(mean, color="black", linestyle="--", linewidth=1, label=f"mean {mean:.2f}")
    ax.set(xlabel="reward", ylabel="episodes", title="Reward distribution")
    ax.legend(fontsize="small")
    return ax


def patterns_over_time(
    source: SelfLearningMemory | Sequence[AnyPattern],
    *,
    x: Literal["episodes", "time"] | None = None,
    by_kind: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Patterns discovered over time: the cumulative count by when each was first seen,
    overall and per kind; from a memory, also those served now (that pass the serving
    thresholds). ``x="episodes"`` (the default for a memory) puts how many episodes had
    completed by then on the x axis, ``x="time"`` (the default for records) the time."""
    x = x or ("episodes" if isinstance(source, SelfLearningMemory) else "time")
    if x not in ("episodes", "time"):
        raise InvalidInputError(f"x must be 'episodes' or 'time', not {x!r}", field="x")
    served: set[str] | None = None
    ends: list[datetime] | None = None
    if isinstance(source, SelfLearningMemory):
        patterns = source.list_patterns(include_unserved=True, limit=_EVERY)
        served = {p.id for p in source.list_patterns(limit=_EVERY)}
        if x == "episodes":
            ends = sorted(e.end_time or e.start_time for e in completed_episodes(source))
    elif x == "episodes":
        raise InvalidInputError("x='episodes' needs a memory (its episodes' completion times)",
                                field="x")  # fmt: skip
    else:
        patterns = list(source)
    ax = _axes(ax)
    lines = pattern_lines(patterns, served=served, by_kind=by_kind, episode_ends=ends)
    for i, line in enumerate(lines):
        ax.step(line.x, line.y, where="post", label=line.name, linewidth=2.2 if i == 0 else 1.2)
    xlabel = "episodes completed" if x == "episodes" else "first seen"
    ax.set(xlabel=xlabel, ylabel="patterns", title="Patterns discovered over time")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    if x == "time":
        ax.tick_params(axis="x", labelrotation=20)
    return ax
