"""Merging two task families that turned out to be one: their counts add up.

Every count a family and its patterns keep (runs, successes, rewards, latencies, words,
tools, features, choices) is a sum over episodes, so the merged family's counts are the
sums of both, exactly what counting every episode into one family would have given. What
serving derives from counts (tests, best choices, conditional tools) is derived again.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..records.episodes import Episode
from ..records.learned import (
    MAX_PROVENANCE,
    AnyPattern,
    ChoiceStats,
    ContextPattern,
    DecisionPoint,
    PatternContext,
    ToolSequence,
)
from . import followed
from .ageing import saw
from .state import FamilyRun

__all__ = ["absorb", "absorb_apart", "absorb_profile", "merged_runs", "narrow_context", "rekey"]


def rekey(key: str, gone: str, keep: str) -> str:
    """A decision or context pattern's key (``family|...``) under the family it moves to."""
    return keep + key[len(gone) :] if key.startswith(gone + "|") else key


def _add_stats(into: dict[str, ChoiceStats], extra: dict[str, ChoiceStats]) -> None:
    for key, stats in extra.items():
        mine = into.setdefault(key, ChoiceStats())
        mine.n += stats.n
        mine.successes += stats.successes


def _add_counts(into: dict[str, int], extra: dict[str, int]) -> None:
    for key, count in extra.items():
        into[key] = into.get(key, 0) + count


def _context(a: PatternContext, b: PatternContext) -> PatternContext:
    return PatternContext(
        domain=a.domain if a.domain == b.domain else None,
        language=a.language if a.language == b.language else None,
        task_type=a.task_type if a.task_type == b.task_type else None,
        tags=[tag for tag in a.tags if tag in b.tags],
    )


def narrow_context(pattern: AnyPattern, episode: Episode, first: bool) -> None:
    """Keep of a pattern's context what its episodes share: the episode's own for the
    first, then only the fields (and tags) this one has too (in place: this runs for every
    pattern an episode counts in)."""
    ctx = episode.context
    if first:
        pattern.context = PatternContext(
            domain=ctx.domain, language=ctx.language, task_type=episode.task_type,
            tags=list(ctx.tags),
        )  # fmt: skip
        return
    current = pattern.context
    if current.domain is not None and current.domain != ctx.domain:
        current.domain = None
    if current.language is not None and current.language != ctx.language:
        current.language = None
    if current.task_type is not None and current.task_type != episode.task_type:
        current.task_type = None
    if current.tags and any(tag not in ctx.tags for tag in current.tags):
        current.tags = [tag for tag in current.tags if tag in ctx.tags]


def _provenance(first: Iterable[str], second: Iterable[str], order: dict[str, int]) -> list[str]:
    """Both lists of episode ids, oldest first where the runs tell the order."""
    ids = list(dict.fromkeys([*first, *second]))
    ids.sort(key=lambda i: order.get(i, -1))
    return ids[-MAX_PROVENANCE:]


def absorb(target: AnyPattern, source: AnyPattern, order: dict[str, int]) -> None:
    """Add what ``source`` counted to ``target`` (the same kind of pattern, in the family
    ``source``'s family merges into)."""
    target.support += source.support
    target.successes += source.successes
    target.reward_sum += source.reward_sum
    target.latency_ms_sum += source.latency_ms_sum
    target.feedback_uses += source.feedback_uses
    target.feedback_successes += source.feedback_successes
    target.first_seen = min(target.first_seen, source.first_seen)
    target.last_seen = max(target.last_seen, source.last_seen)
    target.episode_ids = _provenance(target.episode_ids, source.episode_ids, order)
    target.context = _context(target.context, source.context)
    target.retired = target.retired and source.retired
    if isinstance(target, DecisionPoint) and isinstance(source, DecisionPoint):
        _add_stats(target.choices, source.choices)


def absorb_profile(keep: ToolSequence, gone: ToolSequence, order: dict[str, int]) -> None:
    """Add ``gone``'s profile (members, words, tools, features, contexts) to ``keep``'s; the
    sequence itself is worked out again from the merged runs."""
    keep.members.n += gone.members.n
    keep.members.successes += gone.members.successes
    _add_counts(keep.terms, gone.terms)
    _add_counts(keep.context_keys, gone.context_keys)
    _add_stats(keep.tool_stats, gone.tool_stats)
    _add_stats(keep.tool_calls, gone.tool_calls)
    _add_stats(keep.feature_stats, gone.feature_stats)
    for tool, when in gone.tools_seen.items():
        saw(keep.tools_seen, (tool,), when)
    keep.feedback_uses += gone.feedback_uses
    keep.feedback_successes += gone.feedback_successes
    keep.first_seen = min(keep.first_seen, gone.first_seen)
    keep.last_seen = max(keep.last_seen, gone.last_seen)
    keep.episode_ids = _provenance(keep.episode_ids, gone.episode_ids, order)
    keep.context = _context(keep.context, gone.context)
    followed.merge(keep, gone)


def absorb_apart(
    keep: ToolSequence, gone: ToolSequence, families: Iterable[ToolSequence]
) -> list[ToolSequence]:
    """``gone`` merged into ``keep``: ``keep`` stays apart from the families ``gone`` was
    divided from (:mod:`.word_split`), and they from ``keep``. Returns those others."""
    keep.apart = sorted({*keep.apart, *gone.apart} - {keep.key, gone.key})
    changed = []
    for other in families:
        if gone.key in other.apart:
            other.apart = sorted({*other.apart, keep.key} - {gone.key, other.key})
            changed.append(other)
    return changed


def merged_runs(first: Iterable[FamilyRun], second: Iterable[FamilyRun]) -> list[FamilyRun]:
    """Both families' recent runs in the order they ended."""
    return sorted([*first, *second], key=lambda run: (run.ended_at, run.episode_id))


def moves_with_family(pattern: AnyPattern, family: str) -> bool:
    """A decision or context pattern counted within ``family``."""
    return isinstance(pattern, DecisionPoint | ContextPattern) and pattern.family == family
