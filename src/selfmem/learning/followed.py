"""Runs that followed a past episode's plan, and whether that plan still works for them.

``record_feedback(episode_id, followed_episode_ids=[...])`` says that an episode followed
the plan of these past episodes (an agent copied what a retrieved run did). When the
follower completes, its outcome is kept on the past episode's task family
(``ToolSequence.followed``: the past episode's id -> its latest ``FOLLOWERS_KEPT``
followers, oldest first, each ``+<id>`` if it succeeded, ``-<id>`` if not).

An episode whose latest ``FAILURES_TO_DEMOTE`` followers all failed *failed when
followed*: what worked for it does not work for the tasks that copied it now. Retrieval
puts it below the others and it no longer votes for a task's sequence, until a run that
follows it succeeds again. Recent followers decide, not all-time counts, so a plan that
stops working is demoted after two failures however often it worked before.

A follower in another setting (:func:`same_setting`: another domain, language, framework
or tags) is kept with that setting (after its id and a control character, which no id
holds): its failure says the setting matters, not that the plan stopped working where it
ran, so it does not count for the episode's own setting. It counts for tasks in the
follower's setting: when the latest ``FAILURES_TO_DEMOTE`` followers there failed, the
episode *failed when followed there* (:func:`failed_when_followed_in`), and tasks in that
setting no longer get its plan.

Plain functions over the family record; deleting an episode removes it both as a followed
episode and as a follower (:func:`forget`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..records.episodes import Episode, TaskContext
from ..records.learned import AnyPattern, ToolSequence
from .extractors import succeeded

if TYPE_CHECKING:
    from .families import FamilyIndex

__all__ = [
    "FOLLOWED_KEY",
    "OFFER_FAMILIES_KEY",
    "USED_PATTERNS_KEY",
    "FAILURES_TO_DEMOTE",
    "FOLLOWERS_KEPT",
    "failed_among",
    "failed_when_followed",
    "failed_when_followed_in",
    "family_followed",
    "forget",
    "links",
    "merge",
    "move",
    "note",
    "same_setting",
    "setting",
]

#: Episode metadata key holding the ids of the patterns an episode used
#: (``record_feedback(pattern_ids=...)``).
USED_PATTERNS_KEY = "selfmem.used_patterns"
#: Episode metadata key holding the ids of the past episodes whose plan it followed
#: (``record_feedback(followed_episode_ids=...)``).
FOLLOWED_KEY = "selfmem.followed_episodes"
#: Episode metadata key holding the keys of the changed families whose offers (a guessed
#: repair, how far their runs got: sequences not stored) the episode used.
OFFER_FAMILIES_KEY = "selfmem.offer_families"
#: Followers kept per followed episode (in every setting), and how many latest failures
#: demote it.
FOLLOWERS_KEPT = 8
FAILURES_TO_DEMOTE = 2
#: Followed episodes remembered per family (the most recently followed).
FOLLOWED_KEPT = 256
#: Between a follower's id and its setting, when it is not the followed episode's: a
#: control character, which ids never hold.
_SETTING = "\x1f"


def links(metadata: Mapping[str, Any], key: str) -> list[str]:
    """The ids an episode's ``metadata`` holds under one of the feedback keys above. The
    metadata is the caller's too (an imported episode brings its own): anything but a list
    of strings there links nothing."""
    value = metadata.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


def setting(context: TaskContext) -> str:
    """A context's setting as one key: domain, language, framework and tags, lower-cased."""
    tags = ",".join(sorted({t.lower() for t in context.tags}))
    fields = (context.domain, context.language, context.framework)
    return "|".join((field or "").lower() for field in fields) + "|" + tags


def same_setting(past: Episode, follower: Episode) -> bool:
    """Whether a follower ran in the past episode's setting: the same domain, language,
    framework and tags. A follower that failed elsewhere (a task tagged ``eu`` copying one
    tagged ``us``) does not count for the past episode's own setting: it shows that the
    setting matters, not that the plan stopped working where it did."""
    return setting(past.context) == setting(follower.context)


def _id(entry: str) -> str:
    return entry[1:].partition(_SETTING)[0]


def note(
    family: ToolSequence, followed_id: str, follower_id: str, success: bool, where: str = ""
) -> None:
    """Count one run that followed ``followed_id``'s plan, with its outcome; ``where``: the
    follower's setting when it is not the followed episode's."""
    followers = [f for f in family.followed.pop(followed_id, []) if _id(f) != follower_id]
    followers.append(("+" if success else "-") + follower_id + (_SETTING + where if where else ""))
    family.followed[followed_id] = followers[-FOLLOWERS_KEPT:]  # re-inserted: most recent last
    while len(family.followed) > FOLLOWED_KEPT:
        del family.followed[next(iter(family.followed))]


def failed_when_followed(family: ToolSequence, episode_id: str) -> bool:
    """Whether the latest runs that followed this episode all failed (failures in other
    settings left out; successes anywhere count)."""
    here = [f for f in family.followed.get(episode_id, []) if _SETTING not in f or f[0] == "+"]
    return _latest_failed(here)


def failed_when_followed_in(family: ToolSequence, episode_id: str, where: str) -> bool:
    """Whether the latest runs that followed this episode in another setting, ``where``,
    all failed."""
    there = [f for f in family.followed.get(episode_id, []) if f.endswith(_SETTING + where)]
    return _latest_failed(there)


def _latest_failed(followers: list[str]) -> bool:
    """Whether the latest ``FAILURES_TO_DEMOTE`` of these followers all failed."""
    latest = followers[-FAILURES_TO_DEMOTE:]
    return len(latest) == FAILURES_TO_DEMOTE and all(f.startswith("-") for f in latest)


def failed_among(
    episodes: Iterable[Episode],
    family_of: Callable[[Episode], ToolSequence | None],
    context: TaskContext | None = None,
) -> set[str]:
    """Ids of the episodes whose latest followers all failed (:func:`failed_when_followed`);
    with a task's ``context``, also those whose latest followers in its setting, another
    than theirs, all failed (:func:`failed_when_followed_in`)."""
    where = setting(context) if context is not None else None
    found = set()
    for episode in episodes:
        family = family_of(episode)
        if family is None:
            continue
        if failed_when_followed(family, episode.id) or (
            where is not None
            and where != setting(episode.context)
            and failed_when_followed_in(family, episode.id, where)
        ):
            found.add(episode.id)
    return found


def family_followed(
    episode: Episode, patterns: Mapping[str, AnyPattern], families: FamilyIndex
) -> str | None:
    """The family whose plan a run followed, as its agent said
    (``record_feedback(pattern_ids=...)``): a family's stored sequence, for a failed run, or
    what was offered from a changed family's runs (how far they got, a guessed repair:
    ``LearningEngine.offered``; kept in the episode's metadata, so relearning finds it),
    unless the run succeeded by work that is not that family's. Such a run is that family's
    run however its task was worded: what it tried after the plan broke was a way out, not
    another task; its failure is what tells that the family's procedure changed, and its
    success how the family's task is done now."""
    success = succeeded(episode)
    if not success:
        for pattern_id in links(episode.metadata, USED_PATTERNS_KEY):
            pattern = patterns.get(pattern_id)
            if isinstance(pattern, ToolSequence) and pattern.key in families.families:
                return pattern.key
    for key in links(episode.metadata, OFFER_FAMILIES_KEY):
        if key in families.families and (not success or families.does_work_of(episode, key)):
            return key
    return None


def forget(family: ToolSequence, episode_id: str) -> bool:
    """Remove a deleted episode as a followed one and as a follower; whether it was there."""
    changed = family.followed.pop(episode_id, None) is not None
    for followed_id, followers in list(family.followed.items()):
        kept = [f for f in followers if _id(f) != episode_id]
        if len(kept) != len(followers):
            changed = True
            if kept:
                family.followed[followed_id] = kept
            else:
                del family.followed[followed_id]
    return changed


def merge(keep: ToolSequence, gone: ToolSequence) -> None:
    """Two families found to be one: ``keep`` takes ``gone``'s followed episodes."""
    for followed_id, followers in gone.followed.items():
        keep.followed[followed_id] = [*keep.followed.get(followed_id, []), *followers][
            -FOLLOWERS_KEPT:
        ]


def move(source: ToolSequence, target: ToolSequence, episode_ids: Iterable[str]) -> None:
    """Runs moved from family ``source`` to ``target``: their followers move with them."""
    for episode_id in episode_ids:
        followers = source.followed.pop(episode_id, None)
        if followers is not None:
            target.followed[episode_id] = followers
