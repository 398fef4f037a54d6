"""Tool sequences shared by runs: the consensus of several runs' procedures, and the
sequence the nearest successful runs of a new task share."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

from ..config import LearningConfig
from ..records.episodes import Episode, TaskContext
from ..records.learned import DecisionPoint, PatternContext, ToolSequence, stable_id
from . import extractors as ex
from .error_classes import normalize_error
from .state import same_task

__all__ = [
    "consensus",
    "furthest",
    "neighbour_sequence",
    "with_decisions",
    "of_nearest_task",
    "progress_sequence",
    "same_stack",
    "same_task",
    "vote",
]


def consensus(paths: Sequence[tuple[str, ...]], cfg: LearningConfig) -> tuple[str, ...]:
    """Tools present in most paths (``sequence_min_frequency``), ordered by their mean
    relative position; nothing for fewer than ``min_support`` paths.

    A tool used twice in a path (e.g. tests run before and after a fix) counts as two slots,
    so the sequence can hold it twice, and a call repeated back to back (another page,
    another city) as often as most runs repeated it: a run that repeated it fewer times
    still follows the sequence (:func:`~.changes.follows`).
    """
    if len(paths) < cfg.min_support:
        return ()
    presence: dict[tuple[str, int], int] = {}
    position: dict[tuple[str, int], float] = {}
    for path in paths:
        seen: dict[str, int] = {}
        span = max(1, len(path) - 1)
        for index, tool in enumerate(path):
            times = seen.get(tool, 0)
            seen[tool] = times + 1
            slot = (tool, times)
            if slot in presence:
                presence[slot] += 1
                position[slot] += index / span
            else:
                presence[slot] = 1
                position[slot] = index / span
    needed = cfg.sequence_min_frequency * len(paths)
    frequent = [slot for slot, count in presence.items() if count >= needed]
    frequent.sort(key=lambda slot: (position[slot] / presence[slot], slot))
    return tuple(tool for tool, _ in frequent)


#: How fast a neighbour's vote fades with its distance from the nearest run: a run whose
#: retrieval score is 0.1 below the nearest one's counts 1/e as much.
VOTE_TEMPERATURE = 0.1


def _vote_weights(scores: Sequence[float]) -> list[float]:
    best = max(scores)
    return [math.exp((score - best) / VOTE_TEMPERATURE) for score in scores]


def _weight_holding(
    tools: Sequence[str], procedures: Sequence[tuple[str, ...]], weights: Sequence[float]
) -> float:
    return sum(
        w for path, w in zip(procedures, weights, strict=True) if ex.is_subsequence(tools, path)
    )


def vote(
    procedures: Sequence[tuple[str, ...]], weights: Sequence[float], cfg: LearningConfig
) -> tuple[str, ...]:
    """The procedure the weighted runs agree on: the one holding most of the weight; else
    the tools most of the close runs share (weight >= 1/e), if the runs holding them carry
    most of the weight; else the heaviest procedure, if it outweighs every other. Nothing
    when equally weighted runs did different things."""
    votes: dict[tuple[str, ...], float] = {}
    for path, weight in zip(procedures, weights, strict=True):
        votes[path] = votes.get(path, 0.0) + weight
    total = sum(weights)
    plurality = max(votes, key=lambda path: (votes[path], -procedures.index(path)))
    if votes[plurality] > total / 2:
        return plurality
    close = [path for path, w in zip(procedures, weights, strict=True) if w >= 1 / math.e]
    shared = consensus(close, cfg)
    if len(shared) >= 2 and _weight_holding(shared, procedures, weights) > total / 2:
        return shared
    runner_up = max(v for path, v in votes.items() if path != plurality)
    return plurality if votes[plurality] > runner_up else ()


def _same(ours: str | None, theirs: str | None) -> bool:
    return ours is None or theirs is None or ours.lower() == theirs.lower()


def same_stack(run: TaskContext, task: TaskContext | None) -> bool:
    """Whether a run could show how to do a task: it states no other language and no other
    framework than the task does. The language and framework decide the tools themselves
    (``pip_install`` or ``cargo_add``), so a run in another one never votes, however close
    its words; a field either side leaves unstated does not exclude it."""
    if task is None:
        return True
    return _same(task.language, run.language) and _same(task.framework, run.framework)


def of_nearest_task(
    runs: Sequence[Episode], scores: Sequence[float], idle: Collection[str] = frozenset()
) -> list[bool]:
    """For each of ``runs`` (with their retrieval ``scores``), whether it may stand for the
    task of the nearest one: it is about as close (within ``VOTE_TEMPERATURE``), or in
    another stack (its tools differ anyway), or did the same task (:func:`same_task`). A
    distant run of another task that shares a domain and a few words (a release and a
    feature flag, both "deployment") shows nothing about this one, whatever its context."""
    if not runs:
        return []
    top = max(range(len(runs)), key=lambda at: scores[at])
    nearest = ex.procedure(runs[top])
    return [
        score >= scores[top] - VOTE_TEMPERATURE
        or not same_stack(run.context, runs[top].context)
        or same_task(ex.procedure(run), nearest, idle)
        for run, score in zip(runs, scores, strict=True)
    ]


def _kept(
    found: Sequence[tuple[Episode, float, float]],
    paths: Sequence[tuple[str, ...]],
    kept: Sequence[bool],
    idle: Collection[str],
) -> tuple[list[bool], float]:
    """``kept`` (:func:`of_nearest_task`) less the runs of another way than the nearest
    run's (fewer than most of its tools: :func:`same_task` with ``most``) that fit the
    task's setting better than it and are not about as close, and the best context fit
    among the kept runs of the nearest run's way: the setting picks among the runs of one
    task (only those that fit it best vote), and must not pick another task that shares
    only its first and last steps (look the order up, email the customer). A run of another
    way about as close votes beside them. ``paths``: the runs' procedures."""
    top = max(range(len(found)), key=lambda at: found[at][1])
    _, best, fit = found[top]
    way = [same_task(path, paths[top], idle, most=True) for path in paths]
    kept = [
        keep and (f <= fit or score >= best - VOTE_TEMPERATURE or ours)
        for (_, score, f), keep, ours in zip(found, kept, way, strict=True)
    ]
    fits = [f for (_, _, f), keep, ours in zip(found, kept, way, strict=True) if keep and ours]
    return kept, max(fits or [f for (_, _, f), keep in zip(found, kept, strict=True) if keep])


def neighbour_sequence(
    namespace: str,
    task: str,
    neighbours: Sequence[Episode],
    cfg: LearningConfig,
    scores: Sequence[float] | None = None,
    fits: Sequence[float] | None = None,
    context: TaskContext | None = None,
    any_stack: bool = False,
    idle: Collection[str] = frozenset(),
    fixes: Collection[tuple[str, str]] = frozenset(),
) -> ToolSequence | None:
    """The sequence the nearest successful runs of a task agree on, as a pattern record that
    is not stored.

    Each run votes for its procedure with weight ``exp((score - best) / VOTE_TEMPERATURE)``,
    ``scores`` being the runs' retrieval scores (all equal when not given): runs about as
    close as the nearest one count fully, distant ones barely (see :func:`vote`). With
    ``fits``, each run's match of the task's stated context (domain, language, tags...),
    only the runs that match it best vote: where the procedure depends on the context, runs
    in another context would outvote the right ones. Which context fits best is decided
    among the runs of the nearest run's task (:func:`of_nearest_task`): a distant run of
    another task that fits better never shuts them out, nor votes (``idle``: tools that
    work in any state, left out of that comparison). With the task's ``context``, runs in
    another language or framework do not vote at all (:func:`same_stack`), unless
    ``any_stack``: then every run votes and the record is keyed ``transfer:`` (for a task
    whose own stack has no successful run yet; its stack-specific steps may differ).
    ``support`` counts the runs, ``successes`` those that followed the sequence, and
    ``confidence``, the Wilson lower bound of that share, says how much they agree. None
    when the vote singles out no sequence of at least two tools. ``fixes``: (fix, tool)
    pairs of the served recoveries; where fewer than half the voters ran a fix at all, a
    run's call of it after its tool failed is no step of the way it votes for
    (:func:`~.extractors.procedure`): the two nearest runs met a passing error and
    recovered, the others did not need the fix, and an agent that meets the error is told
    to run it then. A fix most of them ran stays (the step their setting needs)."""
    fit = list(fits or [1.0] * len(neighbours))
    found = [
        (ep, score, f)
        for ep, score, f in zip(neighbours, scores or [1.0] * len(neighbours), fit, strict=True)
        if ex.succeeded(ep) and (any_stack or same_stack(ep.context, context))
    ]
    if not found:
        return None
    kept = of_nearest_task([ep for ep, _, _ in found], [score for _, score, _ in found], idle)
    paths = [ex.procedure(ep) for ep, _, _ in found]
    kept, best_fit = _kept(found, paths, kept, idle)
    voters = [
        (ep, score, path)
        for (ep, score, f), path, keep in zip(found, paths, kept, strict=True)
        if keep and f >= best_fit - 1e-9
    ]
    runs = [ep for ep, _, _ in voters]
    procedures = [path for _, _, path in voters]
    rare = {(fix, tool) for fix, tool in fixes if 2 * sum(fix in p for p in procedures) < len(runs)}
    if rare:
        procedures = [ex.procedure(ep, rare) for ep in runs]
    tools = vote(procedures, _vote_weights([score for _, score, _ in voters]), cfg)
    if len(tools) < 2:
        return None
    followed = [
        ep for ep, path in zip(runs, procedures, strict=True) if ex.is_subsequence(tools, path)
    ]
    prefix = "transfer:" if any_stack else "similar:"
    return _unstored(namespace, prefix, tools, len(runs), followed, len(followed))


def with_decisions(
    pattern: ToolSequence, runs: Sequence[Episode], decisions: Sequence[DecisionPoint]
) -> ToolSequence:
    """A voted sequence (``similar:`` or ``transfer:``) with each step's worse choice
    replaced by the better where a served decision says so: a handful of near runs can
    happen to have taken the worse tool more often than the family's hundreds show. Where
    the runs split between the two so that the vote kept neither, the better one goes in
    after the decision's step.
    ``runs``: the nearest runs, the voters among them (``successes`` counts the successful
    runs that followed the result, at most the ``support`` of voters)."""
    tools = list(pattern.tools)
    paths = [ex.procedure(run) for run in runs if ex.succeeded(run)]
    for d in decisions:
        if d.best is None or d.worst is None or d.best in tools:
            continue
        if d.worst in tools:
            at = tools.index(d.worst)
            if d.after_tool in tools[:at]:
                tools[at] = d.best
        elif d.after_tool in tools and _split_on(paths, (d.best, d.worst)):
            tools.insert(tools.index(d.after_tool) + 1, d.best)
    if tools == pattern.tools:
        return pattern
    prefix = pattern.key.split(":", 1)[0] + ":"
    key = prefix + "|".join(tools)
    followed = sum(ex.is_subsequence(tools, path) for path in paths)
    return pattern.model_copy(
        update={
            "key": key,
            "id": stable_id(pattern.namespace, "tool_sequence", key),
            "tools": tools,
            "successes": min(followed, pattern.support),
        }
    )


def _split_on(paths: Sequence[tuple[str, ...]], options: tuple[str, str]) -> bool:
    """Whether most of the successful runs took one of a decision's ``options``: the vote
    left the step out because the runs split between them, not because they skipped it."""
    took = sum(any(option in path for option in options) for path in paths)
    return 2 * took > len(paths)


def _unstored(
    namespace: str,
    prefix: str,
    tools: Sequence[str],
    support: int,
    holding: Sequence[Episode],
    successes: int,
) -> ToolSequence:
    """A sequence record that is not stored, keyed ``prefix`` + its tools, its evidence the
    runs ``holding`` it (at least one); its domain and task type are theirs where they all
    share one."""
    key = prefix + "|".join(tools)
    first = holding[0]
    same_domain = all(ep.context.domain == first.context.domain for ep in holding)
    same_type = all(ep.task_type == first.task_type for ep in holding)
    return ToolSequence(
        id=stable_id(namespace, "tool_sequence", key),
        namespace=namespace,
        key=key,
        tools=list(tools),
        support=support,
        successes=successes,
        sample_task=first.task_description[:200],
        episode_ids=[ep.id for ep in holding],
        first_seen=min(ep.start_time for ep in holding),
        last_seen=max(ep.end_time or ep.start_time for ep in holding),
        context=PatternContext(
            domain=first.context.domain if same_domain else None,
            task_type=first.task_type if same_type else None,
        ),
    )


#: How many of the nearest failed runs that called nothing but the offered steps withdraw
#: the offer of how far they got (:func:`progress_sequence`).
STALLED_RUNS = 2


def stopped_working(
    runs: Sequence[Episode],
    state_errors: frozenset[str] | set[str] = frozenset(),
    procedures: Sequence[tuple[str, ...]] | None = None,
) -> set[str]:
    """Tools that worked in some of ``runs`` but not in the latest run that called them,
    where they failed with an error that is not in ``state_errors`` (an error that only says
    the call came out of turn) and were never made to work: the latest evidence says what
    worked for the earlier runs no longer does (a tool removed, "410 Gone").
    ``procedures``: the runs' :func:`extractors.procedure`, when the caller has them."""
    latest: dict[str, tuple[float, bool]] = {}
    worked: set[str] = set()
    if procedures is None:
        procedures = [ex.procedure(run) for run in runs]
    for run, procedure in zip(runs, procedures, strict=True):
        ended = run.end_time.timestamp() if run.end_time else 0.0
        done = set(procedure)
        worked |= done
        for step in run.steps:
            if step.tool in done:
                outcome = True
            elif step.success or normalize_error(step.error) in state_errors:
                continue
            else:
                outcome = False
            if step.tool not in latest or latest[step.tool][0] < ended:
                latest[step.tool] = (ended, outcome)
    return {tool for tool, (_, ok) in latest.items() if not ok and tool in worked}


def needed_first(
    runs: Sequence[Episode],
    procedures: Sequence[tuple[str, ...]],
    state_errors: Collection[str],
    idle: Collection[str] = (),
) -> dict[str, tuple[str, float]]:
    """Steps that now need a new tool first: for a step, the latest run that called it and
    met an error that only says the call came out of turn (one of ``state_errors``), then
    called a tool no earlier run had used, which worked, and then the step, which worked:
    ``{step: (new tool, when that run ended)}``. Runs that ended before it did the step
    without the new tool; a later run that did the step without it, never out of turn, shows
    it is not needed (no entry then). ``procedures``: the runs' :func:`extractors.procedure`;
    tools that work in any state (``idle``) are never the new tool."""
    ends = [_ended(run) for run in runs]
    used: set[str] = set()
    found: dict[str, tuple[str, float]] = {}
    for i in sorted(range(len(runs)), key=ends.__getitem__):
        run, done, ended = runs[i], procedures[i], ends[i]
        turned = {
            step.tool
            for step in run.steps
            if not step.success and normalize_error(step.error) in state_errors
        }
        for step in set(done) & set(found):
            if step not in turned and found[step][0] not in done[: done.index(step)]:
                del found[step]  # done without the new tool, never out of turn
        for step in turned & set(done):
            new = [t for t in done[: done.index(step)] if t not in used and t not in idle]
            if new:
                found[step] = (new[-1], ended)
        used |= set(done)
    return found


def _ended(run: Episode) -> float:
    return run.end_time.timestamp() if run.end_time else 0.0


def _first(
    path: tuple[str, ...], ended: float, needed: Mapping[str, tuple[str, float]]
) -> tuple[str, ...]:
    """``path`` of a run that ended at ``ended`` with the tools its steps now need first
    (:func:`needed_first`) put before them, when it ended before that was seen."""
    out: list[str] = []
    for tool in path:
        new, since = needed.get(tool, ("", 0.0))
        if new and ended < since and new not in out:
            out.append(new)
        out.append(tool)
    return tuple(out)


def furthest(
    tools: Sequence[str], paths: Sequence[tuple[str, ...]], ranks: Sequence[float]
) -> tuple[str, ...]:
    """The longest of ``paths`` that holds ``tools`` in order and goes further (of equals,
    the one of highest ``rank``), else ``tools``: of the runs that got through those steps,
    the one that got furthest shows the most."""
    further = [
        (len(path), rank, path)
        for path, rank in zip(paths, ranks, strict=True)
        if len(path) > len(tools) and ex.is_subsequence(tools, path)
    ]
    return max(further)[2] if further else tuple(tools)


def _until(
    path: tuple[str, ...], stopped: set[str], through: Collection[str] = ()
) -> tuple[str, ...]:
    """``path`` up to its first step in ``stopped`` (left out) or in ``through`` (kept):
    what came after it relied on it."""
    for at, tool in enumerate(path):
        if tool in through:
            return path[: at + 1]
        if tool in stopped:
            return path[:at]
    return path


def _stuck_at(
    run: Episode, path: tuple[str, ...], state_errors: Collection[str], idle: Collection[str]
) -> tuple[str, ...]:
    """``path`` with the step the run was stuck at put after the call that may have fixed
    it: a step that failed with an error saying more than that it came out of turn, right
    after which another tool worked, and that never worked in the run. The run stopped
    before calling the step again, so whether the tool that worked fixed it only the next
    run can show; without the step the offer would end where the run gave up. Nothing is
    put in while no error is known to say only that (no ``state_errors``): any failed call
    may then have been one out of turn."""
    if not state_errors:
        return path
    steps = run.steps
    worked = {step.tool for step in steps if step.success}
    for at in range(len(steps) - 2, -1, -1):
        step, after = steps[at], steps[at + 1]
        if (
            not step.success
            and step.tool not in worked
            and step.tool not in idle
            and after.success
            and after.tool not in idle
            and after.tool in path
            and normalize_error(step.error) not in state_errors
        ):
            cut = path.index(after.tool) + 1
            return (*path[:cut], step.tool, *path[cut:])
    return path


def progress_sequence(
    namespace: str,
    runs: Sequence[Episode],
    cfg: LearningConfig,
    scores: Sequence[float],
    idle: frozenset[str] | set[str] = frozenset(),
    state_errors: frozenset[str] | set[str] = frozenset(),
    broken: Mapping[str, set[str]] | None = None,
    unproven: frozenset[str] | set[str] = frozenset(),
) -> ToolSequence | None:
    """How far the nearest runs of a task got when none of them succeeded (or when what
    worked for them has changed since, ``broken`` giving by run id the steps that broke):
    the steps that worked in them (:func:`extractors.procedure`), each run's cut before a
    step that has stopped working (:func:`stopped_working`, where ``state_errors`` are error
    classes that only say a call came out of turn), with the new tool a step now needs
    first put before it in the runs from before (:func:`needed_first`), or after one of the
    run's ``broken``
    steps (kept, so that the agent meets what it now answers), as the runs agree on them
    (:func:`vote`, weighted as in :func:`neighbour_sequence`), else the nearest run's,
    extended by the run that got furthest through those steps (the closest among equals),
    less its first step when that is ``unproven`` (a first step nothing shows is needed,
    :func:`.idle.unproven_tools`: the next run shows whether it is). A pattern record that
    is not stored, with ``successes`` 0: a place to start from, not a way known to work.
    None when no run had a step that worked, or when ``STALLED_RUNS`` of the runs (those
    in ``broken`` aside) called nothing but the offered steps (and tools that work in any
    state): the agent stops where the offer ends, and offering it again would only have it
    repeated."""
    procedures = [ex.procedure(run) for run in runs]
    stopped = stopped_working(runs, state_errors, procedures)
    broken = broken or {}
    needed = needed_first(runs, procedures, state_errors, idle)
    paths = []
    for run, procedure in zip(runs, procedures, strict=True):
        path = _stuck_at(run, tuple(t for t in procedure if t not in idle), state_errors, idle)
        paths.append(_until(_first(path, _ended(run), needed), stopped, broken.get(run.id, ())))
    if not any(paths):
        return None
    weights = _vote_weights(scores)
    agreed = vote(paths, weights, cfg) or next(path for path in paths if path)
    tools = furthest(agreed, paths, weights)
    if len(tools) > 1 and tools[0] in unproven:
        tools = tools[1:]
    offered = set(tools) | set(idle)
    stalled = [run for run in runs if run.id not in broken and set(ex.tool_path(run)) <= offered]
    if len(stalled) >= STALLED_RUNS:
        return None  # runs stop where the offer ends: it leads nowhere for this agent
    holding = [run for run, path in zip(runs, paths, strict=True) if ex.is_subsequence(tools, path)]
    pattern = _unstored(namespace, "progress:", tools, len(runs), holding, 0)
    pattern.changed_tools = sorted({tool for steps in broken.values() for tool in steps})
    return pattern
