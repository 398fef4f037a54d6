"""Pure building blocks of learning: statistics, error classes and per-episode extraction."""

from __future__ import annotations

import json
import math

import pytest

from selfmem import Episode, ExecutionStep, TaskContext, TaskOutcome, TaskType
from selfmem.learning.error_classes import normalize_error
from selfmem.learning.extractors import (
    ErrorEvent,
    context_features,
    decision_transitions,
    error_events,
    is_subsequence,
    succeeded,
    tool_path,
)
from selfmem.records.stats import decay_factor, two_proportion_z, wilson_lower_bound


def ok(tool: str) -> ExecutionStep:
    return ExecutionStep(tool=tool, observation=f"{tool} ok")


def fail(tool: str, error: str = "boom") -> ExecutionStep:
    return ExecutionStep(tool=tool, error=error)


def episode(
    steps: list[ExecutionStep],
    *,
    context: TaskContext | None = None,
    task_type: TaskType = TaskType.DEBUGGING,
    outcome: TaskOutcome | None = None,
) -> Episode:
    return Episode(
        task_description="Fix the failing build",
        context=context or TaskContext(domain="web"),
        task_type=task_type,
        steps=steps,
        outcome=outcome or TaskOutcome.success(),
    )


# --- wilson_lower_bound ----------------------------------------------------------------


@pytest.mark.parametrize(
    "successes, total, expected",
    [(3, 3, 0.4385), (30, 30, 0.8865), (5, 10, 0.2366), (50, 100, 0.4038)],
)
def test_wilson_lower_bound_known_values(successes: int, total: int, expected: float) -> None:
    assert wilson_lower_bound(successes, total) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("total", [1, 5, 100, 10_000])
def test_wilson_lower_bound_of_no_successes_is_zero(total: int) -> None:
    assert wilson_lower_bound(0, total) == 0.0


def test_wilson_lower_bound_without_trials_is_zero() -> None:
    assert wilson_lower_bound(0, 0) == 0.0
    assert wilson_lower_bound(3, -1) == 0.0


def test_small_samples_are_bounded_well_below_the_raw_rate() -> None:
    assert wilson_lower_bound(1, 1) < 0.25
    assert wilson_lower_bound(2, 2) < 0.35
    assert wilson_lower_bound(3, 3) < 0.5


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.8, 1.0])
def test_wilson_lower_bound_grows_with_evidence_at_a_fixed_rate(rate: float) -> None:
    bounds = [wilson_lower_bound(rate * n, n) for n in (5, 10, 20, 50, 100, 1_000)]
    assert bounds == sorted(bounds)
    assert len(set(bounds)) == len(bounds)
    assert all(0.0 <= bound < rate for bound in bounds)
    assert bounds[-1] == pytest.approx(rate, abs=0.05)


def test_wilson_lower_bound_is_ordered_by_rate_at_a_fixed_total() -> None:
    bounds = [wilson_lower_bound(s, 20) for s in range(21)]
    assert bounds == sorted(bounds)


# --- two_proportion_z ------------------------------------------------------------------


def test_z_is_positive_when_the_first_rate_is_higher_and_antisymmetric() -> None:
    z = two_proportion_z(9, 10, 2, 10)
    assert z > 3
    assert two_proportion_z(2, 10, 9, 10) == pytest.approx(-z)


def test_z_known_value() -> None:
    # 5/5 vs 0/5: pooled 0.5, se = sqrt(0.25 * 0.4)
    assert two_proportion_z(5, 5, 0, 5) == pytest.approx(1 / math.sqrt(0.1))


def test_z_is_zero_for_equal_rates() -> None:
    assert two_proportion_z(3, 6, 5, 10) == 0.0


@pytest.mark.parametrize(
    "args",
    [(1, 0, 1, 5), (1, 5, 1, 0), (0, 0, 0, 0), (5, 5, 7, 7), (0, 5, 0, 9)],
)
def test_z_is_zero_when_undefined(args: tuple[int, int, int, int]) -> None:
    assert two_proportion_z(*args) == 0.0


# --- decay_factor ----------------------------------------------------------------------


def test_decay_halves_every_half_life() -> None:
    assert decay_factor(0, 30) == 1.0
    assert decay_factor(30, 30) == pytest.approx(0.5)
    assert decay_factor(60, 30) == pytest.approx(0.25)
    assert decay_factor(15, 30) == pytest.approx(math.sqrt(0.5))


def test_decay_ignores_future_evidence_and_a_disabled_half_life() -> None:
    assert decay_factor(-5, 30) == 1.0
    assert decay_factor(100, 0) == 1.0


# --- normalize_error -------------------------------------------------------------------


@pytest.mark.parametrize(
    "message, expected",
    [
        ("Timeout after 30s reading '/tmp/x'", "timeout after <n> reading <str>"),
        ("connection refused on port 5432", "connection refused on port <n>"),
        ("connection refused on localhost:8080", "connection refused on localhost:<n>"),
        ("request took 1500ms", "request took <n>"),
        ("retry in 2.5s", "retry in <n>"),
        ('KeyError: "user_id"', "keyerror: <str>"),
        ("file /var/log/app.log missing", "file <path> missing"),
        ("object 0xDEADBEEF not found", "object <id> not found"),
        ("commit 3f2a9c1b8e not found", "commit <id> not found"),
    ],
)
def test_variable_parts_become_placeholders(message: str, expected: str) -> None:
    assert normalize_error(message) == expected


@pytest.mark.parametrize(
    "first, second",
    [
        ("Timeout after 30s", "timeout after 31s"),
        ("connection refused on port 5432", "Connection refused on port 6543"),
        ("took 1500ms", "took 20ms"),
        ("KeyError: 'user_id'", 'KeyError: "account"'),
        ("cannot read /srv/a/config.yaml", "cannot read ./b/other.toml"),
        ("object 0xdeadbeef not found", "object 0x1234 not found"),
        ("checkout of 3f2a9c1b8e failed", "checkout of a1b2c3d4e5f6 failed"),
    ],
)
def test_messages_that_differ_only_in_variable_parts_share_a_class(first: str, second: str) -> None:
    assert normalize_error(first) == normalize_error(second)


def test_different_errors_keep_different_classes() -> None:
    assert normalize_error("connection refused") != normalize_error("permission denied")


def _traceback(exception: str, path: str, line: int) -> str:
    return (
        "Traceback (most recent call last):\n"
        f'  File "{path}", line {line}, in push\n'
        "    resp = session.put(url, data=blob)\n"
        f"{exception}"
    )


def test_a_traceback_is_classed_by_the_exception_it_ends_with() -> None:
    denied = "PermissionError: registry denied push: authentication required"
    timeout = "ReadTimeoutError: registry read timed out (read timeout=30)"
    first = normalize_error(_traceback(denied, "/srv/a1/client.py", 120))
    assert first == normalize_error(_traceback(denied, "/srv/b7/client.py", 87))
    assert first == "permissionerror: registry denied push: authentication required"
    assert first != normalize_error(_traceback(timeout, "/srv/a1/client.py", 120))
    # detail lines after the exception, and a chained traceback: the exception raised last
    detailed = _traceback(f"{denied}\nDETAIL: session 7f3a from 10.0.0.4", "/srv/c/x.py", 9)
    assert normalize_error(detailed) == first
    chained = (
        _traceback(timeout, "/srv/a1/client.py", 120)
        + "\n\nDuring handling of the above exception, another exception occurred:\n\n"
        + _traceback(denied, "/srv/a1/client.py", 131)
    )
    assert normalize_error(chained) == first


def test_a_json_error_body_is_classed_by_its_message() -> None:
    def body(message: str, request: str) -> str:
        return json.dumps({"error": {"code": 403, "message": message}, "request_id": request})

    quota = normalize_error(body("Quota exceeded for project 77", "a1"))
    assert quota == normalize_error(body("Quota exceeded for project 12", "f9"))
    assert quota == "quota exceeded for project <n>"
    assert quota != normalize_error(body("Bucket is locked", "a1"))
    flat = {"error": "ReadTimeoutError", "message": "registry read timed out", "host": "10.0.0.1"}
    assert normalize_error(json.dumps(flat)) == "registry read timed out"
    assert normalize_error(json.dumps({"errors": [{"detail": "Row 17 is locked"}]})) == (
        "row <n> is locked"
    )
    assert normalize_error("{not json at all") == "{not json at all"


def test_quoted_value_after_a_contraction_still_becomes_a_placeholder() -> None:
    # An apostrophe inside a word ("can't") is not an opening quote.
    assert normalize_error("Can't open 'a.txt'") == normalize_error("Can't open 'b.txt'")
    assert normalize_error("Can't open 'a.txt'") == "can't open <str>"


def test_uuid_request_ids_become_one_placeholder() -> None:
    first = normalize_error("request 1b4e28ba-2fa1-11d2-883f-0016d3cca427 failed")
    second = normalize_error("request 6a1f3c2e-9b7d-4e5a-8c3b-1d2e3f4a5b6c failed")
    assert first == second == "request <id> failed"


def test_multi_line_messages_use_their_first_line() -> None:
    message = "\n  Traceback 42 happened\n  File /a/b.py, line 3\nValueError: x"
    assert normalize_error(message) == "traceback <n> happened"


def test_long_messages_are_cut_to_eight_words() -> None:
    assert normalize_error("a b c d e f g h i j") == "a b c d e f g h"


@pytest.mark.parametrize("message", [None, "", "   ", "\n\n"])
def test_empty_messages_are_unknown(message: str | None) -> None:
    assert normalize_error(message) == "unknown error"


# --- extractors ------------------------------------------------------------------------


def test_succeeded_only_for_a_success_outcome() -> None:
    assert succeeded(episode([ok("a")]))
    assert not succeeded(episode([ok("a")], outcome=TaskOutcome.failure("no")))
    assert not succeeded(episode([ok("a")], outcome=TaskOutcome.partial(completed=["x"])))
    assert not succeeded(Episode(task_description="open", steps=[ok("a")]))


def test_tool_path_collapses_consecutive_repeats_only() -> None:
    steps = [ok("grep"), fail("build"), fail("build"), ok("build"), ok("grep"), ok("grep")]
    assert tool_path(episode(steps)) == ("grep", "build", "grep")
    assert tool_path(episode([])) == ()


@pytest.mark.parametrize(
    "needle, haystack, expected",
    [
        (("a", "c"), ("a", "b", "c"), True),
        (("a", "b", "c"), ("x", "a", "y", "b", "z", "c"), True),
        ((), ("a",), True),
        ((), (), True),
        (("c", "a"), ("a", "b", "c"), False),
        (("a", "a"), ("a", "b"), False),
        (("a", "a"), ("a", "b", "a"), True),
        (("a",), (), False),
        (("a", "d"), ("a", "b", "c"), False),
    ],
)
def test_is_subsequence_allows_gaps_but_keeps_order(
    needle: tuple[str, ...], haystack: tuple[str, ...], expected: bool
) -> None:
    assert is_subsequence(needle, haystack) is expected


def test_decision_transitions_are_distinct_pairs_of_different_tools() -> None:
    steps = [ok("a"), ok("a"), ok("b"), ok("a"), ok("c"), ok("a"), ok("b")]
    assert decision_transitions(episode(steps)) == {("a", "b"), ("b", "a"), ("a", "c"), ("c", "a")}
    assert decision_transitions(episode([ok("a"), ok("a")])) == set()


def test_a_call_out_of_turn_is_no_choice() -> None:
    """``deploy`` called before ``sign`` fails and works once the build is signed: after
    ``test`` the run went on to sign, not to deploy. A call that failed and never worked is
    still the choice the run made."""
    early = [ok("test"), fail("deploy", "precondition failed"), ok("sign"), ok("deploy")]
    assert decision_transitions(episode(early)) == {("sign", "deploy")}
    broken = [ok("test"), fail("deploy", "quota exceeded"), ok("notify")]
    assert decision_transitions(episode(broken)) == {("test", "deploy")}


def test_error_recovered_through_another_tool_then_a_successful_retry() -> None:
    steps = [ok("plan"), fail("build", "missing dep"), ok("install"), ok("lint"), ok("build")]
    assert error_events(episode(steps)) == [
        ErrorEvent("build", "missing dep", "fixed", ("install", "lint"))
    ]


def test_recovery_tools_are_distinct_and_in_order() -> None:
    steps = [
        fail("build", "missing dep"),
        ok("install"),
        fail("build", "missing dep"),
        ok("install"),
        ok("clean"),
        ok("build"),
    ]
    events = error_events(episode(steps))
    assert [e.actions for e in events] == [("install", "clean")]


def test_immediate_successful_retry_is_recovered_by_retry() -> None:
    events = error_events(episode([fail("fetch", "timeout after 3s"), ok("fetch")]))
    assert events == [ErrorEvent("fetch", "timeout after <n>", "fixed", ("retry",))]


def test_repeated_failures_then_success_count_as_retry() -> None:
    steps = [fail("fetch", "timeout"), fail("fetch", "timeout"), ok("fetch")]
    assert error_events(episode(steps)) == [ErrorEvent("fetch", "timeout", "fixed", ("retry",))]


def test_a_never_recovered_error_lists_what_was_tried_after_it() -> None:
    steps = [fail("deploy", "health check failed"), fail("deploy", "health check failed"),
             ok("rollback"), ok("notify")]  # fmt: skip
    failed = TaskOutcome.failure("still down")
    assert error_events(episode(steps, outcome=failed)) == [
        ErrorEvent("deploy", "health check failed", "unrecovered", ("retry", "rollback", "notify"))
    ]


def test_a_tool_used_instead_of_the_failing_one_is_a_replacement() -> None:
    steps = [ok("build"), fail("deploy_service", "410 gone, use helm"), ok("helm_upgrade")]
    assert error_events(episode(steps)) == [
        ErrorEvent("deploy_service", "<n> gone, use helm", "replaced", ("helm_upgrade",))
    ]


def test_no_replacement_when_the_task_failed_or_only_earlier_tools_ran() -> None:
    steps = [ok("build"), fail("deploy_service", "410 gone"), ok("helm_upgrade")]
    failed = TaskOutcome.failure("down")
    assert error_events(episode(steps, outcome=failed))[0].outcome == "unrecovered"
    again = [ok("build"), fail("deploy", "boom"), ok("build")]
    assert error_events(episode(again))[0].outcome == "unrecovered"


def test_only_the_first_occurrence_of_a_tool_and_error_class_counts() -> None:
    steps = [
        fail("fetch", "timeout after 3s"),
        ok("wait"),
        fail("fetch", "timeout after 9s"),  # same class, ignored
        ok("fetch"),
        fail("fetch", "404 not found"),  # another class of the same tool
        fail("parse", "timeout after 3s"),  # the same class on another tool
    ]
    events = error_events(episode(steps))
    assert [(e.tool, e.error_class, e.outcome) for e in events] == [
        ("fetch", "timeout after <n>", "fixed"),
        ("fetch", "<n> not found", "unrecovered"),
        ("parse", "timeout after <n>", "unrecovered"),
    ]
    # "wait" ran before a call that still failed: it fixed nothing, running fetch again did
    assert (events[0].actions, events[0].tried) == (("retry",), ("wait",))


def test_no_error_events_without_failures() -> None:
    assert error_events(episode([ok("a"), ok("b")])) == []


def test_context_features_cover_domain_task_type_language_framework_and_tags() -> None:
    ctx = TaskContext(domain="web", language="Python", framework="Django", tags=["API", "auth"])
    features = context_features(episode([], context=ctx, task_type=TaskType.TESTING))
    assert features == [
        "domain=web",
        "task_type=testing",
        "language=python",
        "framework=django",
        "tag=api",
        "tag=auth",
    ]


def test_context_features_skip_missing_fields() -> None:
    features = context_features(episode([], context=TaskContext(domain="ops")))
    assert features == ["domain=ops", "task_type=debugging"]
