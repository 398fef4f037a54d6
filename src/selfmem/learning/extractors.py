"""Pure per-episode extraction: what one completed episode says about each pattern kind.

Nothing here aggregates; :mod:`selfmem.learning.learner` merges these observations across
episodes. Each function reads one episode and returns plain values.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from ..records.episodes import Episode, ExecutionStep, OutcomeStatus, TaskContext
from ..security.redaction import REDACTED
from .error_classes import normalize_error
from .state import FamilyRun

__all__ = [
    "ErrorEvent",
    "context_features",
    "decision_transitions",
    "error_events",
    "family_run",
    "goes_on",
    "is_subsequence",
    "joined",
    "procedure",
    "run_setting",
    "setting_of",
    "succeeded",
    "tool_path",
]


def succeeded(episode: Episode) -> bool:
    return episode.outcome is not None and episode.outcome.status is OutcomeStatus.SUCCESS


def tool_path(episode: Episode) -> tuple[str, ...]:
    """The tools of an episode in order, consecutive repeats (retries) collapsed."""
    path: list[str] = []
    for step in episode.steps:
        if not path or path[-1] != step.tool:
            path.append(step.tool)
    return tuple(path)


def broke_at(episode: Episode) -> tuple[int, str]:
    """Where the run broke, rather than recovered: the position in :func:`tool_path` of the
    episode's first failed call whose tool never succeeded afterwards, and that call's error
    class; ``(-1, "")`` when it did not break."""
    positions: list[int] = []
    position = -1
    previous = None
    for step in episode.steps:
        if step.tool != previous:
            position += 1
            previous = step.tool
        positions.append(position)
    succeeded_after: set[str] = set()
    found = -1
    breaking: ExecutionStep | None = None
    for index in range(len(episode.steps) - 1, -1, -1):
        step = episode.steps[index]
        if step.success:
            succeeded_after.add(step.tool)
        elif step.tool not in succeeded_after:
            found, breaking = positions[index], step
    return found, normalize_error(breaking.error) if breaking is not None else ""


def procedure(episode: Episode, fixes: Collection[tuple[str, str]] = ()) -> tuple[str, ...]:
    """The tools of an episode's successful calls in order, a call repeated with the same
    arguments counted once: what the run did that worked.

    Calls made between a failure and the same tool's next success stay: whether such a call
    fixed the error (``pin_versions`` before ``pip_install`` again) or supplied a step the
    run had skipped (a precondition) can not be told from one run, and in both cases the next
    run in that context needs it. Across runs, a tool only some of a family's runs need
    drops out of the family's sequence or becomes conditional on the feature they share.
    ``fixes``: (fix, tool) pairs known to recover an error of ``tool``; a call of such a
    fix made while ``tool``'s last call had failed is left out (it recovered the error, and
    an agent that meets the error is told to run it then)."""
    steps = episode.steps
    path: list[str] = []
    previous: ExecutionStep | None = None
    failing: set[str] = set()
    for step in steps:
        if not step.success:
            failing.add(step.tool)
            continue
        failing.discard(step.tool)
        if fixes and any((step.tool, tool) in fixes for tool in failing):
            continue
        if previous is None or not _same_call(previous, step):
            path.append(step.tool)  # the same tool again on other arguments is another call
        previous = step
    return tuple(path)


def _same_call(first: ExecutionStep, second: ExecutionStep) -> bool:
    """The same tool with the same arguments. Arguments that were redacted before storage
    (two different tokens both read ``[REDACTED]``) can not be told apart: those calls count
    as different."""
    if first.tool != second.tool or first.parameters != second.parameters:
        return False
    return REDACTED not in json.dumps(first.parameters, default=str)


def is_subsequence(needle: Sequence[str], haystack: Sequence[str]) -> bool:
    """Whether ``needle`` occurs in ``haystack`` in order, gaps allowed."""
    remaining = iter(haystack)
    return all(tool in remaining for tool in needle)  # ``in`` consumes up to the match


def joined(tools: Sequence[str], way: Sequence[str]) -> tuple[str, ...]:
    """How far runs got (``tools``), then the rest of a ``way`` known to work that holds all
    of their steps but the last: that step worked for runs like these (a check only their
    setting needs), and the way shows what comes after the steps they share."""
    held, remaining = tools[:-1], iter(enumerate(way))
    at = -1
    for tool in held:
        at = next((i for i, t in remaining if t == tool), len(way))
    return (*tools, *(t for t in way[at + 1 :] if t != tools[-1]))


def goes_on(tools: Sequence[str], path: Sequence[str]) -> tuple[str, ...] | None:
    """What a successful run's ``path`` shows beyond how far other runs got (``tools``):
    the path, if it holds those steps and goes further; else, after three or more steps,
    the steps :func:`joined` with the path when it holds all of them but the last; else
    None."""
    if is_subsequence(tools, path):
        return tuple(path) if len(path) > len(tools) else None
    if len(tools) < 3 or not is_subsequence(tools[:-1], path):
        return None
    way = joined(tools, path)
    return way if len(way) > len(tools) else None


def decision_transitions(episode: Episode) -> set[tuple[str, str]]:
    """Distinct (tool, next different tool) pairs: the choices the agent made.

    A step after a *failed* call is a recovery, not a choice (error recoveries model it), so
    only transitions out of a successful call count. Nor does a transition into a failed call
    of a tool that works later in the run: that call came too early (a tool called out of
    turn, before the step it needs) and is no choice the run made.
    """
    found: set[tuple[str, str]] = set()
    previous: tuple[str, bool] | None = None  # last tool and whether its last call succeeded
    worked_from = {step.tool: i for i, step in enumerate(episode.steps) if step.success}
    for i, step in enumerate(episode.steps):
        early = not step.success and worked_from.get(step.tool, -1) > i
        if previous is not None and step.tool != previous[0] and previous[1] and not early:
            found.add((previous[0], step.tool))
        previous = (step.tool, step.success)
    return found


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """A failed step and what followed it.

    ``outcome`` is ``"fixed"`` when the same tool later succeeded (``actions`` are the
    other tools that ran successfully since its last failed call, or ``("retry",)`` when
    there were none: a call that failed itself fixed nothing; ``tried`` are the tools that
    ran successfully before a call of it that still failed: they did not fix it),
    ``"replaced"`` when
    it never succeeded again but the task did, with a tool it had not used before the error
    succeeding after it (``actions`` is the first such tool: what took the failing one's
    place), and ``"unrecovered"`` otherwise
    (``actions`` are what was tried after the error: other tools, and ``"retry"`` if the
    failing tool was run again).
    """

    tool: str
    error_class: str
    outcome: str
    actions: tuple[str, ...]
    tried: tuple[str, ...] = ()


def _after_failure(episode: Episode, index: int) -> ErrorEvent:
    steps = episode.steps
    failed = steps[index]
    error_class = normalize_error(failed.error)
    between: list[str] = []
    worked: list[str] = []
    in_vain: list[str] = []
    retried = False
    for later in steps[index + 1 :]:
        if later.tool == failed.tool:
            if later.success:
                fixes = tuple(worked) or ("retry",)
                tried = tuple(tool for tool in in_vain if tool not in worked)
                return ErrorEvent(failed.tool, error_class, "fixed", fixes, tried)
            retried = True
            in_vain.extend(tool for tool in worked if tool not in in_vain)
            worked = []  # what ran before a call that still failed did not fix it
        else:
            if later.tool not in between:
                between.append(later.tool)
            if later.success and later.tool not in worked:
                worked.append(later.tool)
    if succeeded(episode):
        used_before = {step.tool for step in steps[:index]}
        instead = next(
            (
                s.tool
                for s in steps[index + 1 :]
                if s.success and s.tool != failed.tool and s.tool not in used_before
            ),
            None,
        )
        if instead is not None:
            return ErrorEvent(failed.tool, error_class, "replaced", (instead,))
    tried = (("retry",) if retried else ()) + tuple(between)
    return ErrorEvent(failed.tool, error_class, "unrecovered", tried)


def error_events(episode: Episode) -> list[ErrorEvent]:
    """One event per distinct (tool, error class) failure in the episode, first occurrence."""
    events: dict[tuple[str, str], ErrorEvent] = {}
    for index, step in enumerate(episode.steps):
        if step.success:
            continue
        key = (step.tool, normalize_error(step.error))
        if key not in events:
            events[key] = _after_failure(episode, index)
    return list(events.values())


def context_features(episode: Episode) -> list[str]:
    """``name=value`` features of the episode's context (domain, language, task type, tags)."""
    ctx = episode.context
    return [f"domain={ctx.domain}", f"task_type={episode.task_type.value}", *_setting(ctx)]


def family_run(episode: Episode) -> FamilyRun:
    """What a task family keeps of one of its episodes."""
    path = procedure(episode)
    attempted = tool_path(episode)
    calls = dict(Counter(path))
    calls.update((tool, 1) for tool in attempted if tool not in calls)
    position, error_class = broke_at(episode)
    return FamilyRun(
        episode.id,
        path,
        succeeded(episode),
        len(episode.steps),
        episode.duration_ms or 0.0,
        episode.reward.total if episode.reward else 0.0,
        sum(step.latency_ms for step in episode.steps),
        episode.end_time.timestamp() if episode.end_time else 0.0,
        attempted,
        position,
        calls,
        error_class,
        run_setting(episode),
    )


def run_setting(episode: Episode) -> frozenset[str]:
    """The features of an episode's setting that tell runs of one task apart: language,
    framework and tags (``FamilyRun.setting``)."""
    return setting_of(episode.context)


def setting_of(ctx: TaskContext) -> frozenset[str]:
    """:func:`run_setting` of a context (a task's, before it runs)."""
    return frozenset(_setting(ctx))


def _setting(ctx: TaskContext) -> list[str]:
    """The language, framework and tag features of a context, in that order."""
    features = []
    if ctx.language:
        features.append(f"language={ctx.language.lower()}")
    if ctx.framework:
        features.append(f"framework={ctx.framework.lower()}")
    features.extend(f"tag={tag}" for tag in ctx.tags)
    return features
