"""Offers made from a task's nearest runs rather than from stored patterns: the sequence
the runs agree on scored like a family's (:func:`scored`), a guess at a changed family's new
way (:func:`guessed`), and whether a run added to a result passes the query's filters."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from ..learning.extractors import succeeded
from ..records.episodes import Episode, TaskContext, TaskType
from ..records.learned import MAX_PROVENANCE, PatternContext, ToolSequence, stable_id
from ..retrieval.pattern_ranking import ScoredPattern, context_score

if TYPE_CHECKING:
    from ..learning.learner import PatternLearner
    from ..retrieval.index import QueryFilters

__all__ = ["for_setting", "guessed", "passes", "scored", "with_own_steps", "without_idle"]


def guessed(
    namespace: str, tools: Sequence[str], ids: Sequence[str], family: ToolSequence, score: float
) -> ScoredPattern:
    """A guess at a changed family's new way (not stored, not yet known to work): keyed
    ``repair:``, effectiveness 0, with the signal ``repair``; ``ids``: the runs it comes
    from, ``score``: its relevance."""
    key = "repair:" + "|".join(tools)
    pattern = ToolSequence(
        id=stable_id(namespace, "tool_sequence", key),
        namespace=namespace,
        key=key,
        tools=list(tools),
        support=len(ids),
        sample_task=family.sample_task,
        episode_ids=list(ids)[-MAX_PROVENANCE:],
        context=PatternContext(domain=family.context.domain, task_type=family.context.task_type),
    )
    signals = {"effectiveness": 0.0, "relevance": score, "neighbours": float(len(ids))}
    return ScoredPattern(pattern, 0.0, {**signals, "repair": 1.0})


def without_idle(found: ScoredPattern, idle: Collection[str]) -> ScoredPattern:
    """A tool sequence offered without the tools that work in any state
    (:meth:`PatternLearner.idle_tools`): they move nothing forward, and one that does damage
    shows it only at the end of the run (a step that deletes what the last one checks), so
    a sequence that every run followed would keep repeating it. The pattern keeps its id
    (feedback still reaches it); the signal ``idle_left_out`` counts what was left out."""
    pattern = found.pattern
    if not isinstance(pattern, ToolSequence) or not set(pattern.tools) & set(idle):
        return found
    tools = [tool for tool in pattern.tools if tool not in idle]
    if not tools:
        return found
    signals = {**found.signals, "idle_left_out": float(len(pattern.tools) - len(tools))}
    return ScoredPattern(pattern.model_copy(update={"tools": tools}), found.score, signals)


def for_setting(
    found: ScoredPattern, learner: PatternLearner, setting: frozenset[str]
) -> ScoredPattern:
    """A tool sequence offered for a task in ``setting``, up to its first step whose calls
    fail under a feature of that setting in the sequence's family (a served context
    pattern: :meth:`PatternLearner.failing_in`), then on as the family's runs with that
    feature went from there (:meth:`PatternLearner.in_setting`): the staging way
    (``issue_internal_certificate``, "not applicable" in production) is not offered to a
    production task, and what production runs did instead is. With the signal
    ``left_out_here`` (1.0); the pattern keeps its id. Unchanged when no step fails there,
    or when the first one does and the runs with the feature show nothing else."""
    pattern = found.pattern
    if not isinstance(pattern, ToolSequence) or not setting:
        return found
    families = learner.families.families
    keys = [pattern.key] if pattern.key in families else learner.holding(pattern.episode_ids)
    failing = learner.failing_in(keys, setting) if keys else {}
    at = next((i for i, tool in enumerate(pattern.tools) if tool in failing), None)
    if at is None:
        return found
    tools = pattern.tools[:at]
    feature = failing[pattern.tools[at]]
    tools = list(learner.in_setting(keys, tools, feature, failing) or tools)
    if not tools:
        return found
    signals = {**found.signals, "left_out_here": 1.0}
    return ScoredPattern(pattern.model_copy(update={"tools": tools}), found.score, signals)


def scored(
    pattern: ToolSequence,
    scores: dict[str, float],
    ctx: TaskContext | None,
    task_type: TaskType | None,
    runs: list[Episode],
) -> ScoredPattern:
    """The nearest runs' sequence scored like a family's: its relevance is the mean
    retrieval score of the runs that followed it."""
    relevance = sum(scores[i] for i in pattern.episode_ids) / len(pattern.episode_ids)
    effectiveness = pattern.confidence
    ctx_fit = context_score(pattern.context, ctx, task_type)
    score = effectiveness * (0.6 * relevance + 0.25 * ctx_fit + 0.15 * 1.0)
    signals = {
        "effectiveness": effectiveness,
        "relevance": relevance,
        "neighbours": float(len(runs)),
    }
    return ScoredPattern(pattern, score, signals)


def passes(episode: Episode, filters: QueryFilters) -> bool:
    """Whether an episode added to a result passes the query's filters, as ranked ones do."""
    ended = episode.end_time.timestamp() if episode.end_time else None
    return (
        (filters.domain is None or episode.context.domain == filters.domain)
        and (filters.task_type is None or str(episode.task_type) == filters.task_type)
        and (not filters.success_only or succeeded(episode))
        and (filters.ended_after is None or (ended is not None and ended >= filters.ended_after))
        and (filters.ended_before is None or (ended is not None and ended < filters.ended_before))
        and set(filters.tags) <= {tag.lower() for tag in episode.context.tags}
    )


def with_own_steps(
    pattern: ToolSequence,
    here: Sequence[Sequence[str]],
    elsewhere: Sequence[Sequence[str]],
    broken: Collection[str],
) -> ToolSequence:
    """A way that runs in other settings took (``pattern``), with the steps it lacks that
    every successful run with a feature of the task's setting took (``here``: their
    procedures, the newest first) and no run without it did (``elsewhere``), and that did
    not break (``broken``), such as an approval that production needs; each placed before
    the step it came before there (a gate goes with the step it guards), or after the one
    it followed."""
    old = here[0]
    own = [
        tool
        for tool in old
        if tool not in pattern.tools
        and tool not in broken
        and all(tool in path for path in here)
        and not any(tool in path for path in elsewhere)
    ]
    if not own:
        return pattern
    tools = list(pattern.tools)
    for tool in own:
        at = old.index(tool)
        after = [tools.index(t) for t in old[at + 1 :] if t in tools]
        before = [tools.index(t) + 1 for t in old[:at] if t in tools]
        tools.insert(min(after) if after else max(before, default=0), tool)
    key = pattern.key.split(":", 1)[0] + ":" + "|".join(tools)
    update = {"tools": tools, "key": key, "id": stable_id(pattern.namespace, "tool_sequence", key)}
    return pattern.model_copy(update=update)
