"""The step a failed run got stuck at: it failed with an error of its own (not one that only
says the call came out of turn), another tool worked right after, and the run never called
the step again. How far such runs got goes on with that step, after the tool that may have
fixed it: the next run shows whether it did."""

from __future__ import annotations

from pathlib import Path

from selfmem import SelfLearningMemory, TaskContext, TaskOutcome, ToolSequence

from .test_learner import Step

OUT_OF_TURN = "not applicable now"
QUOTA = "Quota exceeded in region eu-west-{}: {} vCPU requested"
TASK = "Users report {} is slow"


def _log(memory: SelfLearningMemory, task: str, steps: list[Step]) -> None:
    eid = memory.start_episode(task, TaskContext(domain="infra"))
    for step in steps:
        if isinstance(step, tuple):
            memory.log_step(eid, tool=step[0], error=step[1])
        else:
            memory.log_step(eid, tool=step, observation="ok")
    memory.complete_episode(eid, TaskOutcome.failure("alert still firing"))


def _stuck_runs(out_of_turn: str | None) -> list[list[Step]]:
    """Runs that read the metrics and logs, met a quota error scaling the service, requested
    more quota (which worked) and then called tools out of turn until they gave up.
    ``out_of_turn``: the answer of such a call, one text for every tool, or None for an
    answer that names the tool (no class of errors then says "out of turn")."""

    def wrong(tool: str) -> Step:
        return (tool, out_of_turn or f"{tool} refused with code {len(tool)}")

    return [
        [
            "read_metrics", "read_logs", ("scale_service", QUOTA.format(i, 4 * i)),
            "request_quota_increase", wrong("ack_alert"), wrong("send_sms_code"),
            wrong(["issue_refund", "rotate_key", "open_dashboard"][i]), wrong("upload_file"),
        ]
        for i in range(3)
    ]  # fmt: skip


def _first_offer(memory: SelfLearningMemory) -> list[str]:
    found = memory.recommend_patterns(
        TASK.format("ledger"), {"domain": "infra"}, include_partial=True
    )
    assert found, "how far the runs got is offered"
    first = found[0]
    assert isinstance(first.pattern, ToolSequence) and "partial" in first.signals
    return first.pattern.tools


def test_how_far_runs_got_goes_on_with_the_step_they_got_stuck_at(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i, steps in enumerate(_stuck_runs(OUT_OF_TURN)):
            _log(memory, TASK.format(["checkout-api", "search-svc", "notifier"][i]), steps)
        assert _first_offer(memory) == [
            "read_metrics", "read_logs", "request_quota_increase", "scale_service",
        ]  # fmt: skip


def test_without_an_answer_known_to_mean_out_of_turn_no_failed_step_is_put_in(
    tmp_path: Path,
) -> None:
    """Every failed call answered in its own words: any of them may have been a call out of
    turn, so the offer ends with the last step that worked."""
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i, steps in enumerate(_stuck_runs(None)):
            _log(memory, TASK.format(["checkout-api", "search-svc", "notifier"][i]), steps)
        assert _first_offer(memory) == ["read_metrics", "read_logs", "request_quota_increase"]


def test_a_step_called_out_of_turn_before_one_that_worked_is_not_put_in(tmp_path: Path) -> None:
    """``ack_alert`` out of turn, then ``read_logs`` worked: the call came too early, it was
    no step the run got stuck at."""
    runs = [
        [*steps[:1], ("ack_alert", OUT_OF_TURN), *steps[1:2], *steps[4:]]
        for steps in _stuck_runs(OUT_OF_TURN)
    ]
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i, steps in enumerate(runs):
            _log(memory, TASK.format(["checkout-api", "search-svc", "notifier"][i]), steps)
        assert _first_offer(memory) == ["read_metrics", "read_logs"]
