"""When a family's procedure changed: which runs followed its sequence, and the ways a change
shows (more failed runs than before, runs breaking at one step that never broke, or at a step
that often broke, with an error it never raised)."""

from __future__ import annotations

from dataclasses import replace

from selfmem.config import LearningConfig
from selfmem.learning.changes import change_point, follows, skippable
from selfmem.learning.state import FamilyRun

SEQ = ("read_logs", "query_metrics", "approve", "restart", "notify")
CFG = LearningConfig()


def _ok(i: int, tools: tuple[str, ...] = SEQ) -> FamilyRun:
    return FamilyRun(f"r{i}", tools, True, len(tools), 1.0, attempted=tools)


def _broke(i: int, attempted: tuple[str, ...], at: int, error: str = "") -> FamilyRun:
    path = attempted[:at]
    return FamilyRun(f"r{i}", path, False, len(attempted), 1.0, attempted=attempted, broke_at=at,
                     broke_with=error)  # fmt: skip


def test_a_failed_run_that_skipped_a_step_some_runs_skip_and_broke_later_followed() -> None:
    # "approve" is only needed in some contexts: three successful runs did without it, so a
    # run without it that broke at "notify" still followed the sequence
    without = ("read_logs", "query_metrics", "restart", "notify")
    runs = [_ok(i, without if i < 3 else SEQ) for i in range(10)]
    optional = skippable(SEQ, runs, CFG)
    assert optional == {"approve"}
    skipped = _broke(1, ("read_logs", "query_metrics", "restart", "notify", "page"), at=3)
    assert follows(SEQ, skipped, optional)
    # a step every successful run takes, skipped: another way, not the sequence failing
    no_restart = _broke(2, ("read_logs", "query_metrics", "approve", "notify"), at=3)
    assert not follows(SEQ, no_restart, optional)
    # tools of the sequence out of its order before the break: another way
    shuffled = _broke(3, ("restart", "read_logs", "notify"), at=2)
    assert not follows(SEQ, shuffled, optional)
    # broke at a tool the sequence does not hold
    elsewhere = _broke(4, ("read_logs", "query_metrics", "scale_up"), at=2)
    assert not follows(SEQ, elsewhere, optional)


def _family(failing_elsewhere: int, broken_now: int) -> tuple[list[FamilyRun], list[int]]:
    """20 earlier runs, ``failing_elsewhere`` of them broke at "restart"; then 4 runs of
    which ``broken_now`` broke at "notify", a step that never failed before."""
    runs = []
    for i in range(20):
        runs.append(_broke(i, SEQ, at=3) if i < failing_elsewhere else _ok(i))
    for i in range(20, 24):
        runs.append(_broke(i, SEQ, at=4) if i - 20 < broken_now else _ok(i))
    return runs, [i for i, run in enumerate(runs) if follows(SEQ, run)]


def test_a_step_that_never_broke_breaking_run_after_run_is_a_change() -> None:
    # the family's runs fail 30% of the time at another step, so three failures in four
    # runs are not rare by the run's failure rate; at a step that never failed they are
    runs, following = _family(failing_elsewhere=6, broken_now=3)
    assert change_point(runs, following, CFG) == 20


def test_failures_at_the_step_that_usually_fails_are_not_a_change() -> None:
    runs = [_broke(i, SEQ, at=3) if i % 3 == 0 else _ok(i) for i in range(20)]
    runs += [_broke(20, SEQ, at=3), _ok(21), _broke(22, SEQ, at=3), _broke(23, SEQ, at=3)]
    following = [i for i, run in enumerate(runs) if follows(SEQ, run)]
    assert change_point(runs, following, CFG) == 0


def test_two_failures_are_never_a_change() -> None:
    runs, following = _family(failing_elsewhere=0, broken_now=2)
    assert change_point(runs, following, CFG) == 0


def test_a_step_that_often_broke_breaking_with_a_new_error_is_a_change() -> None:
    """A third of the runs broke at "restart" with "permission denied" (a context the
    explorer often got wrong); now three of four break there with "internal error", which
    no earlier run raised: a change. The same failures with the usual error are not."""
    earlier = [
        _broke(i, SEQ, at=3, error="permission denied") if i % 3 == 0 else _ok(i) for i in range(20)
    ]
    for error, changed in (("internal error (request <hex>)", True), ("permission denied", False)):
        runs = [*earlier, _broke(20, SEQ, at=3, error=error), _ok(21),
                _broke(22, SEQ, at=3, error=error), _broke(23, SEQ, at=3, error=error)]  # fmt: skip
        following = [i for i, run in enumerate(runs) if follows(SEQ, run)]
        assert change_point(runs, following, CFG) == (20 if changed else 0)


def _since_change(i: int, path: tuple[str, ...]) -> FamilyRun:
    """A run after the change: "restart" failed for good, ``path`` is what worked."""
    attempted = ("read_logs", "query_metrics", "approve", "restart", *path[3:])
    return FamilyRun(f"r{i}", path, False, len(attempted), 1.0, ended_at=100.0 + i,
                     attempted=attempted, broke_at=3, broke_with="internal error")  # fmt: skip


def test_a_broken_step_is_repaired_with_what_worked_in_its_place_in_most_runs_since() -> None:
    from datetime import UTC, datetime

    from selfmem.learning.changes import repaired_sequence
    from selfmem.records.learned import ToolSequence

    family = ToolSequence(id="f", namespace="ns", key="family:f", changed_tools=["restart"],
                          changed_at=datetime.fromtimestamp(100.0, tz=UTC))  # fmt: skip
    before = [
        FamilyRun(f"r{i}", SEQ, True, 5, 1.0, ended_at=float(i), attempted=SEQ) for i in range(10)
    ]
    head = SEQ[:3]
    since = [
        _since_change(10, (*head, "redeploy", "wipe_disk")),
        _since_change(11, (*head, "wipe_disk", "redeploy")),
        _since_change(12, (*head, "redeploy", "notify")),
    ]
    # "redeploy" worked in all three runs; "wipe_disk" (a step that "works" anywhere) in two
    assert repaired_sequence(family, before + since, CFG) == (
        ("read_logs", "query_metrics", "approve", "redeploy", "notify"),
        ["r10", "r11", "r12"],
    )
    # two runs are too few to say; as many runs with another tool, nothing to choose
    assert repaired_sequence(family, before + since[:2], CFG) is None
    tied = [*since, _since_change(13, (*head, "wipe_disk"))]
    assert repaired_sequence(family, before + tied, CFG) is None
    # a run that succeeded since shows the new way itself
    done = FamilyRun("r15", (*head, "redeploy", "notify"), True, 5, 1.0, ended_at=115.0)
    assert repaired_sequence(family, [*before, *since, done], CFG) is None


def test_a_failed_run_that_broke_at_the_first_step_followed_the_sequence() -> None:
    # a step added before the first: the first step now fails and the agent looks elsewhere
    first = _broke(1, ("read_logs", "page_oncall", "scale_up"), at=0)
    assert follows(SEQ, first)
    # a later step of the sequence tried before the first one: another way
    later_first = _broke(2, ("approve", "read_logs", "page_oncall"), at=1)
    assert not follows(SEQ, later_first)


def test_a_new_step_the_old_first_step_needs_now_goes_before_it() -> None:
    # Since the change "read_logs" fails until "grant_access" has run. In each run since, it
    # failed, "grant_access" worked, "read_logs" then worked, and the run broke later, at
    # "restart" (it came to it out of turn). "grant_access" is a step added before
    # "read_logs", not one that took the place of the step where the runs broke.
    from datetime import UTC, datetime

    from selfmem.learning.changes import repaired_sequence
    from selfmem.records.learned import ToolSequence

    family = ToolSequence(id="f", namespace="ns", key="family:f", changed_tools=["restart"],
                          changed_at=datetime.fromtimestamp(100.0, tz=UTC))  # fmt: skip
    before = [
        FamilyRun(f"r{i}", SEQ, True, 5, 1.0, ended_at=float(i), attempted=SEQ) for i in range(10)
    ]
    attempted = ("read_logs", "grant_access", "read_logs", "query_metrics", "approve", "restart")
    path = ("grant_access", "read_logs", "query_metrics", "approve")
    since = [
        FamilyRun(f"r{i}", path, False, 6, 1.0, ended_at=100.0 + i, attempted=attempted, broke_at=5)
        for i in range(10, 13)
    ]
    repaired, runs = repaired_sequence(family, before + since, CFG) or ((), [])
    assert repaired == ("grant_access", *SEQ)
    assert runs == ["r10", "r11", "r12"]


def test_a_success_since_the_change_with_a_new_step_is_the_new_way() -> None:
    # "read_logs" broke (a step now needs "grant_access" first). Runs since that succeeded
    # with the new step are the new way, although they call the step that broke; a success
    # since that did only what the old runs did (the change point is an estimate) is not,
    # and the runs before it are the old way.
    from datetime import UTC, datetime

    from selfmem.learning.changes import new_way_runs
    from selfmem.records.learned import ToolSequence

    family = ToolSequence(id="f", namespace="ns", key="family:f", changed_tools=["read_logs"],
                          changed_at=datetime.fromtimestamp(100.0, tz=UTC))  # fmt: skip
    before = [
        FamilyRun(f"r{i}", SEQ, True, 5, 1.0, ended_at=float(i), attempted=SEQ) for i in range(10)
    ]
    old_way_late = FamilyRun("r10", SEQ, True, 5, 1.0, ended_at=101.0, attempted=SEQ)
    new = ("grant_access", *SEQ)
    since = [
        FamilyRun(f"r{i}", new, True, 6, 1.0, ended_at=100.0 + i, attempted=new)
        for i in range(11, 13)
    ]
    assert new_way_runs(family, [*before, old_way_late, *since]) == ["r12", "r11"]
    # a success since that did what the old runs did ends the new way, going back
    assert new_way_runs(family, [*before, *since, old_way_late]) == []


def test_a_new_tool_goes_before_a_step_that_only_failed_out_of_turn() -> None:
    # Since the change "read_logs" answers only that it came out of turn (an error many
    # tools raise), "grant_access" worked in each run since, and no run got "read_logs" to
    # work after it. The step is not gone: the new tool goes before it. When the runs broke
    # there with an error of the step's own ("410 Gone"), the new tool takes its place.
    from datetime import UTC, datetime

    from selfmem.learning.changes import repaired_sequence
    from selfmem.records.learned import ToolSequence

    family = ToolSequence(id="f", namespace="ns", key="family:f", changed_tools=["read_logs"],
                          changed_at=datetime.fromtimestamp(100.0, tz=UTC))  # fmt: skip
    before = [
        FamilyRun(f"r{i}", SEQ, True, 5, 1.0, ended_at=float(i), attempted=SEQ) for i in range(10)
    ]

    def since(error: str) -> list[FamilyRun]:
        tried = ("read_logs", "grant_access", "approve")
        run = FamilyRun("r", ("grant_access",), False, 3, 1.0, attempted=tried, broke_at=0)
        return [replace(run, episode_id=f"r{i}", ended_at=100.0 + i, broke_with=error)
                for i in range(10, 13)]  # fmt: skip

    state = {"not applicable now"}
    inserted = repaired_sequence(family, before + since("not applicable now"), CFG, set(), state)
    assert inserted is not None and inserted[0] == ("grant_access", *SEQ)
    replaced = repaired_sequence(family, before + since("410 gone"), CFG, set(), state)
    assert replaced is not None and replaced[0] == ("grant_access", *SEQ[1:])


def _replaced(i: int, step: str = "restart", by: str = "redeploy") -> FamilyRun:
    """A successful run that saw ``step`` fail and did its work with ``by``."""
    at = SEQ.index(step)
    attempted = (*SEQ[:at], step, by, *SEQ[at + 1 :])
    path = (*SEQ[:at], by, *SEQ[at + 1 :])
    return FamilyRun(f"r{i}", path, True, len(attempted), 1.0, attempted=attempted,
                     broke_at=at)  # fmt: skip


def test_a_step_that_successful_runs_now_replace_run_after_run_is_a_change() -> None:
    from selfmem.learning.changes import broken_tools, replaced, replacements

    runs = [_ok(i) for i in range(20)] + [_replaced(i) for i in range(20, 23)]
    assert replaced(SEQ, runs[20]) == "restart"
    assert replaced(SEQ, runs[0]) is None
    following = [i for i, run in enumerate(runs) if follows(SEQ, run)]
    assert following == list(range(20)), "a run without the step did not follow the sequence"
    assert change_point(runs, following, CFG) == 0, "without the replacements: no change"
    replacing = replacements(SEQ, runs)
    assert change_point(runs, following, CFG, replacing) == 20
    assert broken_tools(SEQ, runs[20:]) == ["restart"]


def test_a_step_replaced_as_often_as_before_is_not_a_change() -> None:
    # a third of the runs always got past "restart" by "redeploy" (a context where it
    # fails): three more in four runs are not rare at that rate
    runs = [_replaced(i) if i % 3 == 0 else _ok(i) for i in range(20)]
    runs += [_replaced(20), _ok(21), _replaced(22), _replaced(23)]
    following = [i for i, run in enumerate(runs) if follows(SEQ, run)]
    from selfmem.learning.changes import replacements

    assert change_point(runs, following, CFG, replacements(SEQ, runs)) == 0


def test_a_run_that_skipped_the_steps_before_the_failed_one_replaced_nothing() -> None:
    from selfmem.learning.changes import replaced

    # it never ran "read_logs" and "query_metrics": it went another way
    tried = ("approve", "restart", "redeploy", "notify")
    other = FamilyRun("x", ("approve", "redeploy", "notify"), True, 4, 1.0, attempted=tried)
    assert replaced(SEQ, other) is None
    failed = replace(_replaced(1), success=False)
    assert replaced(SEQ, failed) is None


def test_a_new_step_found_since_the_change_is_followed_by_the_rest_of_the_old_way() -> None:
    from datetime import UTC, datetime

    from selfmem.learning.changes import continued
    from selfmem.records.learned import ToolSequence

    family = ToolSequence(id="f", namespace="ns", key="family:f", changed_tools=["read_logs"],
                          changed_at=datetime.fromtimestamp(100.0, tz=UTC))  # fmt: skip
    before = [
        FamilyRun(f"r{i}", SEQ, True, 5, 1.0, ended_at=float(i), attempted=SEQ) for i in range(10)
    ]
    # runs since got "grant_access" to work, once also "read_logs" after it: the old way's
    # later steps were never reached, and come next
    assert continued(("grant_access",), family, before, CFG) == ("grant_access", *SEQ)
    assert continued(("grant_access", "read_logs"), family, before, CFG) == ("grant_access", *SEQ)
    # steps of the old way only: nothing new was found, no guess
    assert continued(("read_logs", "query_metrics"), family, before, CFG) is None
    # nothing left to add after the last old step reached
    assert continued(("grant_access", "notify"), family, before, CFG) is None
    unchanged = family.model_copy(update={"changed_at": None})
    assert continued(("grant_access",), unchanged, before, CFG) is None


def _in(run: FamilyRun, *setting: str) -> FamilyRun:
    return replace(run, setting=frozenset(setting))


def test_a_step_that_never_worked_in_the_runs_setting_breaking_there_is_not_a_change() -> None:
    # "restart" fails under tag=prod (a transient error nobody retried); staging runs
    # succeed. The two earlier prod runs broke there too, so a streak of prod runs
    # breaking there says nothing about time
    runs = []
    for i in range(16):
        prod = i % 8 == 0
        runs.append(_in(_broke(i, SEQ, at=3), "tag=prod") if prod else _in(_ok(i), "tag=staging"))
    streak = [_in(_broke(i, SEQ, at=3), "tag=prod", "tag=hotfix") for i in range(16, 20)]
    following = list(range(20))
    assert all(follows(SEQ, run) for run in [*runs, *streak])
    assert change_point([*runs, *streak], following, CFG) == 0
    # nor is a streak in a setting no earlier run had: nothing shows the way worked there
    staging = [_in(_ok(i), "tag=staging") for i in range(16)]
    assert change_point([*staging, *streak], following, CFG) == 0
    # the same streak where earlier prod runs got past "restart" is a change
    past = [
        _in(_ok(i), "tag=prod", "tag=hotfix") if i % 8 == 0 else run for i, run in enumerate(runs)
    ]
    assert change_point([*past, *streak], following, CFG) == 16
    # and so is one that spans settings: a staging run breaks there too
    mixed = [*streak[:3], _in(_broke(19, SEQ, at=3), "tag=staging")]
    assert change_point([*runs, *mixed], following, CFG) == 16


def _timed(run: FamilyRun, at: int) -> FamilyRun:
    return replace(run, ended_at=1000.0 + at)


def test_a_streak_of_failures_the_old_way_then_outlives_is_withdrawn_as_a_change() -> None:
    """Three of four runs broke at "notify", which had never broken: a change, as far as
    anyone can tell then. The runs after it did the same as before and succeeded: the
    alarm is withdrawn, and the runs before it are no longer the old way. Where the runs
    after it break there again and succeed only with another tool, the change stands."""
    from selfmem.learning.settling import settle
    from selfmem.records.learned import ToolSequence

    history = [_timed(_ok(i), i) for i in range(30)]
    streak = [_timed(_broke(i, SEQ, at=4) if i != 31 else _ok(i), i) for i in range(30, 34)]
    family = ToolSequence(id="f", namespace="ns", key="family:f")
    settle(family, [*history, *streak], CFG)
    assert family.changed_at is not None and family.changed_tools == ["notify"]

    chance = [*history, *streak, *(_timed(_ok(i), i) for i in range(34, 38))]
    settle(family, chance, CFG)
    assert family.changed_at is None and family.changed_tools == []
    assert family.tools == list(SEQ)

    family = ToolSequence(id="f", namespace="ns", key="family:f")
    settle(family, [*history, *streak], CFG)
    new = (*SEQ[:4], "notify_v2")
    real = [*history, *streak]
    for i in range(34, 42):  # the old way keeps breaking; the new tool works
        real.append(_timed(_broke(i, SEQ, at=4) if i % 2 else _ok(i, new), i))
        settle(family, real, CFG)
    assert family.changed_at is not None
    assert family.tools == list(new)
