"""Counting one episode into a pattern it bears on.

These run for every pattern an episode counts in (about a hundred), so they write the
learner's own counters into the record's fields directly: pydantic's assignment hook (about
1 us a field) checks nothing for them.
"""

from __future__ import annotations

from ..records.episodes import Episode
from ..records.learned import MAX_PROVENANCE, AnyPattern
from .merging import narrow_context
from .state import Tally

__all__ = ["count", "note"]


def note(pattern: AnyPattern, episode: Episode, tally: Tally) -> None:
    """Make the episode part of the pattern's evidence: its context, last seen, provenance.

    An episode is learned once, so it is new to the pattern's provenance unless it is the
    last there (a new pattern is noted when it is created): no search of the list."""
    fields = vars(pattern)
    ids: list[str] = fields["episode_ids"]
    if ids and ids[-1] == tally.episode_id:
        return
    narrow_context(pattern, episode, first=False)
    if tally.ended > fields["last_seen"]:
        fields["last_seen"] = tally.ended
    ids.append(tally.episode_id)
    if len(ids) > MAX_PROVENANCE:
        del ids[: len(ids) - MAX_PROVENANCE]


def count(pattern: AnyPattern, tally: Tally, sign: int) -> None:
    """Count the episode in (``sign`` 1) or out (-1) of the pattern's support and sums."""
    fields = vars(pattern)
    fields["support"] += sign
    if tally.success:
        fields["successes"] += sign
    fields["reward_sum"] += sign * tally.reward
    fields["latency_ms_sum"] += sign * tally.latency_ms
