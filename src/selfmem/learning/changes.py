"""Which runs followed a family's sequence, where they broke, and whether the procedure
changed: the runs that followed it started failing more than it ever did before."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence

from ..config import LearningConfig
from ..records.learned import ToolSequence
from . import extractors as ex
from .sequences import consensus
from .significance import failure_tail
from .state import FamilyRun

__all__ = [
    "broken_tools",
    "change_point",
    "continued",
    "follows",
    "new_way_runs",
    "old_way_holds",
    "repaired_sequence",
    "rest_of",
    "runs_since_change",
    "replaced",
    "replacements",
    "skippable",
]


def _collapsed(tools: Sequence[str]) -> tuple[str, ...]:
    """The tools with calls repeated back to back counted once."""
    return tuple(tool for i, tool in enumerate(tools) if not i or tools[i - 1] != tool)


def _in_order(tools: Sequence[str], sequence: tuple[str, ...]) -> list[str] | None:
    """The sequence's tools among ``tools`` (repeats collapsed) if they are its first ones in
    order, else None (the run went another way)."""
    wanted = set(sequence)
    called: list[str] = []
    for tool in tools:
        if tool in wanted and (not called or called[-1] != tool):
            called.append(tool)
    return called if tuple(called) == sequence[: len(called)] else None


def broken_tools(
    sequence: tuple[str, ...], runs: Sequence[FamilyRun], optional: frozenset[str] = frozenset()
) -> list[str]:
    """The sequence's tools at which the runs that followed it broke (the failed runs' first
    failed call never made good, the step a successful run did without after it failed,
    :func:`replaced`), in sequence order; the whole sequence when none shows where."""
    broken = {
        run.attempted[run.broke_at]
        for run in runs
        if not run.success and run.broke_at >= 0 and follows(sequence, run, optional)
    }
    broken |= {step for run in runs if (step := replaced(sequence, run, optional)) is not None}
    return [tool for tool in sequence if tool in broken] or list(sequence)


def replaced(
    sequence: tuple[str, ...], run: FamilyRun, optional: frozenset[str] = frozenset()
) -> str | None:
    """The step of the sequence a successful run called, saw fail and then did without
    (another tool did its work: "410 gone, use the new endpoint"), having done the steps
    before it in order (the ``optional`` ones aside); None for other runs."""
    if not run.success:
        return None
    done = set(run.path)
    step = next((tool for tool in run.attempted if tool in sequence and tool not in done), None)
    if step is None:
        return None
    prefix = [tool for tool in sequence[: sequence.index(step)] if tool not in optional]
    return step if ex.is_subsequence(prefix, run.path) else None


def skippable(
    sequence: tuple[str, ...], runs: Sequence[FamilyRun], cfg: LearningConfig
) -> frozenset[str]:
    """The sequence's steps that at least ``min_support`` successful runs did without: steps
    only some contexts need (``request_approval`` in production only)."""
    wins = [set(run.path) for run in runs if run.success]
    return frozenset(
        tool for tool in sequence if sum(tool not in path for path in wins) >= cfg.min_support
    )


def follows(
    sequence: tuple[str, ...], run: FamilyRun, optional: frozenset[str] = frozenset()
) -> bool:
    """Whether a run followed the sequence: a successful run did all of it (gaps allowed; a
    call the sequence repeats back to back, such as a search paged through, may have been
    made fewer times, at least once); a failed run called its first tools in order (at
    least two) and either ended at one of them or broke at one (its first failure it never
    made good) after calling the ones before it in order, whatever it tried after that (an
    agent looking for a way out is not going another way). Of the tools before the one it
    broke at, it may have skipped the ``optional`` ones (see :func:`skippable`), not the
    others: a run that skipped a step every successful run takes went another way."""
    if run.success:
        return ex.is_subsequence(sequence, run.path) or ex.is_subsequence(
            _collapsed(sequence), _collapsed(run.path)
        )
    if not run.attempted:
        return False
    if run.attempted[-1] in sequence:
        called = _in_order(run.attempted, sequence)
        if called is not None and len(called) >= 2:
            return True
    step = _broke_at(run)
    if step is None or step not in sequence:
        return False
    prefix = sequence[: sequence.index(step)]
    before = _collapsed([tool for tool in run.attempted[: run.broke_at] if tool in sequence])
    return (
        (bool(before) or not prefix)
        and ex.is_subsequence(before, prefix)
        and set(prefix) - set(before) <= optional
    )


def _broke_at(run: FamilyRun) -> str | None:
    return run.attempted[run.broke_at] if not run.success and run.broke_at >= 0 else None


def change_point(
    runs: Sequence[FamilyRun],
    following: Sequence[int],
    cfg: LearningConfig,
    replacing: Sequence[tuple[int, str]] = (),
) -> int:
    """Where the family's procedure changed: the first of the latest failures of the runs
    that followed the sequence its successes share (``following``), or 0 when it still
    works. ``replacing``: the successful runs that followed it but did without a step they
    saw fail (:func:`replaced`, given as ``(index, step)`` by :func:`replacements`).

    Two ways to tell, each needing ``change_min_failures`` of the last ``change_window``
    followers failed, at most ``change_alpha`` likely had nothing changed: as many failed
    runs, at the earlier failure rate of the runs; or as many runs that broke at one same
    step (failed there, or got past it only by another tool), at the rate the earlier runs
    broke there (a step that never failed and now fails run after run is a change even in
    a family whose runs often fail elsewhere, or get by without it). The second is tested
    once per tool the earlier runs used, and again per step and error class (a step that
    failed before, for some contexts, now failing with an error it never raised);
    Bonferroni over both.

    Neither counts when the runs that failed share a feature of their setting under which
    no earlier run got past that point, or most that got there fell the same way
    (:func:`_setting_explains`): a step that fails under ``tag=prod`` only, met by a
    streak of production tasks, is a setting it never worked in, not a change."""
    dropped = dict(replacing)
    ordered = sorted({*following, *dropped})
    latest = ordered[-cfg.change_window :]
    failed = [i for i in latest if not runs[i].success]
    broke = [i for i in latest if not runs[i].success or i in dropped]
    earlier = ordered[: -cfg.change_window]
    if len(broke) < cfg.change_min_failures or len(earlier) < cfg.min_support:
        return 0
    # as many failures would be rare if the sequence still worked as well as before
    fail_rate = (sum(not runs[i].success for i in earlier) + 0.5) / (len(earlier) + 1)
    if (
        len(failed) >= cfg.change_min_failures
        and failure_tail(len(failed), len(latest), fail_rate) <= cfg.change_alpha
        and not _setting_explains(runs, failed, latest[0], _failed)
    ):
        return failed[0]
    tests = max(1, len({tool for i in earlier for tool in runs[i].path}))
    for same in (_broke_at, _broke_with):
        keys = {i: _break_key(runs[i], same, dropped.get(i)) for i in ordered}
        for key in sorted({key for i in broke if (key := keys[i]) is not None}):
            at_step = [i for i in broke if keys[i] == key]
            if len(at_step) < cfg.change_min_failures:
                continue
            rate = (sum(keys[i] == key for i in earlier) + 0.5) / (len(earlier) + 1)
            if 2 * tests * failure_tail(
                len(at_step), len(latest), rate
            ) <= cfg.change_alpha and not _setting_explains(
                runs, at_step, latest[0], _breaks_at(key, same, dropped)
            ):
                return at_step[0]
    return 0


def _setting_explains(
    runs: Sequence[FamilyRun],
    broke: Sequence[int],
    before: int,
    fell: Callable[[FamilyRun, int], bool | None],
) -> bool:
    """Whether the runs that ``broke`` share a feature of their setting under which none of
    the runs before index ``before`` got past that point, or most of those that got there
    fell the same way (``fell``, given a run and its index: True when it fell so, False
    when it got past, None when it did not get there): nothing shows that the way ever
    worked there, so their breaking is no sign that it changed."""
    shared = frozenset.intersection(*(runs[i].setting for i in broke))
    for feature in sorted(shared):
        there = [fell(runs[i], i) for i in range(before) if feature in runs[i].setting]
        falls = sum(outcome is True for outcome in there)
        passes = sum(outcome is False for outcome in there)
        if passes == 0 or falls > passes:
            return True
    return False


def _failed(run: FamilyRun, index: int) -> bool:
    return not run.success


def _breaks_at(
    key: str, same: Callable[[FamilyRun], str | None], dropped: dict[int, str]
) -> Callable[[FamilyRun, int], bool | None]:
    """Whether a run broke where ``key`` says (see :func:`_break_key`), got past that step
    (False) or never reached it (None)."""
    step = key.split("|", 1)[0]

    def fell(run: FamilyRun, index: int) -> bool | None:
        if _break_key(run, same, dropped.get(index)) == key:
            return True
        return False if step in run.path else None

    return fell


def replacements(
    sequence: tuple[str, ...], runs: Sequence[FamilyRun], optional: frozenset[str] = frozenset()
) -> list[tuple[int, str]]:
    """``(index, step)`` of the successful runs that followed the sequence but did without
    a step they saw fail (:func:`replaced`)."""
    return [
        (i, step)
        for i, run in enumerate(runs)
        if (step := replaced(sequence, run, optional)) is not None
    ]


def _break_key(
    run: FamilyRun, same: Callable[[FamilyRun], str | None], step: str | None
) -> str | None:
    """Where a run broke, by ``same`` (:func:`_broke_at` or :func:`_broke_with`); for a
    successful run, the ``step`` it did without after it failed (:func:`replaced`), by step
    only."""
    if run.success:
        return step if same is _broke_at else None
    return same(run)


def _broke_with(run: FamilyRun) -> str | None:
    """Where a failed run broke and with which error class ("step|error")."""
    step = _broke_at(run)
    return None if step is None or not run.broke_with else f"{step}|{run.broke_with}"


def runs_since_change(family: ToolSequence, runs: Sequence[FamilyRun]) -> list[str]:
    """Ids of the family's runs, of any outcome, since its procedure changed, newest first
    (none when it has not changed; ``runs``: its recent runs, oldest first)."""
    if family.changed_at is None:
        return []
    since = family.changed_at.timestamp()
    return [run.episode_id for run in reversed(runs) if run.ended_at >= since]


def new_way_runs(family: ToolSequence, runs: Sequence[FamilyRun]) -> list[str]:
    """Ids of the family's successful runs since its procedure changed, newest first: how
    the family's task is done now, whatever the wording of those runs' tasks (``runs``: its
    recent runs, oldest first).

    With the steps that broke known (``ToolSequence.changed_tools``), these are the
    successful runs that used none of them, back to the last run that still succeeded with
    one (a run may have found the new way before the change showed), and those since
    ``changed_at`` that used a tool no successful run before it did (a step added before the
    one that broke leaves that one in the new way); otherwise the successful runs since
    ``changed_at``."""
    if family.changed_at is None:
        return []
    since = family.changed_at.timestamp()
    broken = set(family.changed_tools)
    known = {tool for run in runs if run.success and run.ended_at < since for tool in run.path}
    found = []
    for run in reversed(runs):
        if not run.success:
            continue
        if not broken:
            if run.ended_at < since:
                break
        elif not broken.isdisjoint(run.path) and (run.ended_at < since or set(run.path) <= known):
            break  # the old way still worked then
        found.append(run.episode_id)
    return found


def old_way_holds(family: ToolSequence, runs: Sequence[FamilyRun], cfg: LearningConfig) -> bool:
    """Whether the way the family's procedure was said to have changed from still works:
    since ``changed_at``, the runs that took it (a tool that broke, and no tool no successful
    run used before) succeeded more often than they failed, at least ``change_min_failures``
    times. A streak of failures that chance put together looks like a change (checked after
    every run, one such streak comes up sooner or later); the runs after it show it was not
    one, and the alarm is withdrawn (``ToolSequence.changed_at`` cleared)."""
    if family.changed_at is None:
        return False
    since = family.changed_at.timestamp()
    broken = set(family.changed_tools) or set(family.tools)
    known = {tool for run in runs if run.success and run.ended_at < since for tool in run.path}
    took = [
        run.success
        for run in runs
        if run.ended_at >= since and not broken.isdisjoint(run.attempted) and set(run.path) <= known
    ]
    worked = sum(took)
    return worked >= cfg.change_min_failures and worked > len(took) - worked


def _precedes(run: FamilyRun, new: str, step: str) -> bool:
    """Whether a run shows ``new`` to be a step to run before ``step``: ``step`` was tried
    first and did not work, ``new`` then worked, and ``step`` worked after it."""
    if new not in run.path or step not in run.path:
        return False
    tried = run.attempted
    return tried.index(step) < tried.index(new) and run.path.index(new) < run.path.index(step)


def _place(
    repaired: list[str],
    new: str,
    broken: str,
    after: Sequence[FamilyRun],
    state_errors: Collection[str] = (),
) -> None:
    """Put the new tool into the repaired sequence: before the first step that runs since
    showed needs it first (:func:`_precedes`: a new precondition, such as a step added at
    the start of the procedure); before the step that broke when most runs since that broke
    there did so with an error that only says the call came out of turn (``state_errors``:
    the step is not gone, something must now come before it); else in place of the step
    that broke."""
    for step in repaired:
        if any(_precedes(run, new, step) for run in after):
            repaired.insert(repaired.index(step), new)
            return
    there = [run.broke_with for run in after if _broke_at(run) == broken]
    out_of_turn = sum(error in state_errors for error in there)
    at = repaired.index(broken)
    if there and out_of_turn * 2 > len(there):
        repaired.insert(at, new)
    else:
        repaired[at] = new


def repaired_sequence(
    family: ToolSequence,
    runs: Sequence[FamilyRun],
    cfg: LearningConfig,
    idle: set[str] | frozenset[str] = frozenset(),
    state_errors: Collection[str] = (),
) -> tuple[tuple[str, ...], list[str]] | None:
    """For a family whose procedure changed and that no run has succeeded at since: the
    sequence its runs agreed on before the change, repaired with the new tool that worked
    after a step that broke (``ToolSequence.changed_tools``) in most of the runs since that
    broke there (at least ``min_support`` of them), with the ids of the runs since. The
    new tool goes before a step that a run since tried first, failing, and that worked
    once the new tool had (a step added before it); otherwise it takes the broken step's
    place (a step replaced). A guess at the new way, from what the runs since got right
    ("410 gone" from the old step, then a new one that worked): None when no step has
    such a new tool, when a run has succeeded since (its way is known), or with too few
    runs before. ``runs``: the family's recent runs, oldest first; ``idle``: tools that
    work in any state (:func:`.idle.idle_tools`), which repair nothing."""
    if family.changed_at is None or not family.changed_tools:
        return None
    since = family.changed_at.timestamp()
    after = [run for run in runs if run.ended_at >= since]
    if not after or any(run.success for run in after):
        return None
    old = consensus([run.path for run in runs if run.ended_at < since and run.success], cfg)
    repaired = list(old)
    for broken in family.changed_tools:
        if broken not in repaired:
            continue
        broke = [run for run in after if broken in run.attempted and broken not in run.path]
        counts = Counter(tool for run in broke for tool in set(run.path) - set(repaired) - idle)
        ranked = counts.most_common(2)
        if not ranked:
            continue
        tool, count = ranked[0]
        if (
            count >= cfg.min_support
            and count * 2 > len(broke)
            and (len(ranked) == 1 or ranked[1][1] < count)
        ):
            _place(repaired, tool, broken, after, state_errors)
    if len(old) < 2 or tuple(repaired) == old:
        return None
    return tuple(repaired), [run.episode_id for run in after]


def continued(
    found: Sequence[str], family: ToolSequence, runs: Sequence[FamilyRun], cfg: LearningConfig
) -> tuple[str, ...] | None:
    """For a changed family that no run has succeeded at since: how far its runs got
    (``found``, :func:`~.sequences.progress_sequence`) followed by the rest of the sequence
    its runs agreed on before the change, when those steps hold a tool the old sequence does
    not (a new step found since: ``register_ci_runner``, now needed before
    ``write_ci_config``). The rest starts after the last step of the old sequence the runs
    got through, or at its start. A guess at the new way, not known to work: the old way's
    later steps were not reached since, and are likely still needed. None when no new tool
    was found or nothing is left to add. ``runs``: the family's recent runs, oldest first."""
    if family.changed_at is None:
        return None
    since = family.changed_at.timestamp()
    old = consensus([run.path for run in runs if run.ended_at < since and run.success], cfg)
    return rest_of(found, old)


def rest_of(found: Sequence[str], old: Sequence[str]) -> tuple[str, ...] | None:
    """``found`` (steps that work now, holding a tool ``old`` does not) followed by the
    steps of the old way after the last one ``found`` got through (:func:`continued`); None
    when ``found`` holds no new tool or nothing is left to add."""
    if len(old) < 2 or all(tool in old for tool in found):
        return None
    reached = [old.index(tool) for tool in found if tool in old]
    rest = [tool for tool in old[max(reached) + 1 if reached else 0 :] if tool not in found]
    return (*found, *rest) if rest else None
