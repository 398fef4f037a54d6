"""What the pattern learner keeps of each family's recent runs, and the reward's baseline."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from ..records.episodes import Episode, utc_now
from ..records.learned import ChoiceStats

__all__ = ["Baseline", "FamilyRun", "Stopped", "Tally", "count_choice", "same_task", "setting_key"]


@dataclass(frozen=True, slots=True)
class FamilyRun:
    """What the learner remembers of one episode of a task family (``path``: the tools of its
    successful calls, see :func:`~selfmem.learning.extractors.procedure`)."""

    episode_id: str
    path: tuple[str, ...]
    success: bool
    steps: int
    duration_ms: float
    reward: float = 0.0
    latency_ms: float = 0.0
    ended_at: float = 0.0  # POSIX seconds
    attempted: tuple[str, ...] = ()  # every tool called, failed calls included
    #: Where in ``attempted`` the run broke: its first failed call whose tool never succeeded
    #: afterwards (-1: none).
    broke_at: int = -1
    #: How many times the run called each tool: the calls of its procedure, and once each
    #: tool whose calls all failed (one replaced after an error was still part of its way).
    calls: dict[str, int] = field(default_factory=dict, compare=False, hash=False)
    #: The error class of the call where the run broke ("" if it did not).
    broke_with: str = ""
    #: The setting it ran in: ``name=value`` features of its context other than the domain
    #: and task type, which every run of a family shares (``tag=prod``, ``language=go``).
    setting: frozenset[str] = field(default=frozenset(), compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class Baseline:
    """What is typical for a kind of task, for the reward's efficiency factor when a caller
    supplies one (:func:`~selfmem.learning.compute_reward`); the memory itself scores every
    episode against the fixed expectation of :class:`~selfmem.config.RewardWeights`, so the
    same episode always gets the same reward."""

    runs: int
    median_steps: float
    median_duration_ms: float
    known_paths: frozenset[tuple[str, ...]]


def count_choice(table: dict[str, ChoiceStats], key: str, sign: int, success: bool | int) -> None:
    """Count one run (``sign`` 1) in, or out (-1), of a choice's stats; a choice no run
    made any more is dropped."""
    stats = table.setdefault(key, ChoiceStats())
    fields = vars(stats)  # plain writes: counted for every choice, tool and feature of a run
    fields["n"] += sign
    fields["successes"] += sign * int(success)
    if fields["n"] <= 0:
        del table[key]


@dataclass(frozen=True, slots=True)
class Tally:
    """What every pattern an episode counts in adds up from it, worked out once per
    episode (an episode counts in dozens of context patterns)."""

    episode_id: str
    success: bool
    reward: float
    latency_ms: float
    ended: datetime

    @classmethod
    def of(cls, episode: Episode, success: bool) -> Tally:
        return cls(
            episode.id,
            success,
            episode.reward.total if episode.reward else 0.0,
            sum(step.latency_ms for step in episode.steps),
            episode.end_time or utc_now(),
        )


def setting_key(setting: frozenset[str]) -> str:
    """A run's setting (``FamilyRun.setting``) as one string, as ``ErrorRecovery.breaking``
    keeps it."""
    return ",".join(sorted(setting))


@dataclass(frozen=True, slots=True)
class Stopped:
    """A tool that has stopped working (:meth:`PatternLearner.stopped_tools`): since when
    the first run met the error, the settings (:func:`setting_key`) of the runs that met
    it, ``None`` when they ran in two or more: everywhere, as far as runs show; and what
    those runs got to work (``paths``) when runs of another task still see the tool work
    (``None``: no run has since)."""

    since: datetime
    where: frozenset[str] | None
    paths: tuple[frozenset[str], ...] | None = None

    def applies(self, setting: frozenset[str], path: Collection[str]) -> bool:
        """Whether it has stopped for a run in ``setting`` whose procedure is ``path``: one
        that used the tool there had it working where it now fails (a run in another
        setting may have needed what that setting needs all along, and a run of another
        task that still sees it work shows that it has not stopped for that task)."""
        if self.paths is not None and not any(same_task(path, p) for p in self.paths):
            return False
        return self.where is None or setting_key(setting) in self.where


def same_task(
    path: Collection[str],
    nearest: Collection[str],
    idle: Collection[str] = frozenset(),
    *,
    most: bool = False,
) -> bool:
    """Whether a run whose procedure is ``path`` did the task the nearest run did: they
    share at least half the tools of the shorter procedure (with ``most``, more than half:
    the same way of doing it), ``idle`` tools (which work in any state,
    :meth:`PatternLearner.idle_tools`) aside. Runs of one task in different settings differ
    by a step or two (an approval in production); runs that share a domain and some words
    but do another task share few or none."""
    ours, theirs = set(path) - set(idle), set(nearest) - set(idle)
    shared, shorter = 2 * len(ours & theirs), min(len(ours), len(theirs))
    return shared > shorter if most else shared >= shorter
