"""A first step nothing shows is needed: every run that called it called it first, it never
failed, and no run ever started with the step after it. It may be the procedure's first step,
or damage that shows only at the end that one exploring run started with; an offer of how far
failed runs got that starts with it has every follower repeat it, so it is left out of that
offer until a run shows which it is."""

from __future__ import annotations

from pathlib import Path

from selfmem import SelfLearningMemory, ToolSequence
from selfmem.learning import PatternLearner

from .test_idle_tools import _log as log_run
from .test_learner import Step, episode

OUT_OF_TURN = "precondition not met"
POISONED = "Final verification failed: 812 records inconsistent after an earlier action"
#: The migration's own steps, which fail when called out of turn.
SOURCE = ["list_bucket", "copy_objects"]
#: Other tools the runs called out of turn while exploring: the error comes from many tools, so it
#: says what state the task was in.
EXPLORED = ["rerun_job", "send_sms_code", "upload_file", "assign_role", "revoke_key"]


def _stuck(i: int) -> list[Step]:
    """A migration that deleted the bucket first: the copy "works", the final step does not."""
    wandered = [(tool, OUT_OF_TURN) for tool in [*SOURCE, *EXPLORED[i % 3 : i % 3 + 3]]]
    return [
        "delete_bucket", "list_bucket", "copy_objects", ("update_config", POISONED), *wandered,
    ]  # fmt: skip


def _learner(extra: list[list[Step]]) -> PatternLearner:
    learner = PatternLearner("tests")
    for i in range(6):
        learner.observe(episode(_stuck(i), success=False, minute=i))
    for i, tools in enumerate(extra):
        learner.observe(episode(tools, success=False, minute=10 + i))
    return learner


def test_a_step_only_ever_called_first_that_never_failed_is_unproven() -> None:
    assert _learner([]).unproven_tools() == {"delete_bucket"}


def test_the_next_step_failing_first_shows_the_step_is_needed() -> None:
    learner = _learner([[("list_bucket", OUT_OF_TURN), "delete_bucket", "list_bucket"]])
    assert learner.unproven_tools() == set()
    assert "delete_bucket" not in learner.idle_tools()


def test_the_next_step_working_first_shows_the_step_is_not_needed() -> None:
    learner = _learner([["list_bucket", "copy_objects", ("update_config", OUT_OF_TURN)]])
    assert learner.unproven_tools() == set()
    assert "delete_bucket" in learner.idle_tools()


def test_a_step_also_called_later_in_a_run_is_not_unproven() -> None:
    later = ["delete_bucket", "list_bucket", "delete_bucket", ("copy_objects", OUT_OF_TURN)]
    assert _learner([later]).unproven_tools() == set()


def _log(memory: SelfLearningMemory, task: str, steps: list[Step]) -> None:
    log_run(memory, task, steps, success=False, domain="storage")


def _first_offer(memory: SelfLearningMemory) -> list[str]:
    found = memory.recommend_patterns(
        "Migrate bucket media-prod to eu-central", {"domain": "storage"}
    )
    first = next(s for s in found if isinstance(s.pattern, ToolSequence))
    assert isinstance(first.pattern, ToolSequence) and "partial" in first.signals
    return first.pattern.tools


def test_how_far_failed_runs_got_is_offered_without_an_unproven_first_step(
    tmp_path: Path,
) -> None:
    """Every migration so far deleted the bucket first, because the offer of how far the
    first one got started there, and every one then failed at its last step. The offer now
    starts at the step after it; the next run shows whether it was needed, and the offer
    follows what it showed."""
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        buckets = ["logs-archive", "assets-cdn", "backups-2023", "media-prod", "logs", "cdn"]
        for i, bucket in enumerate(buckets):
            _log(memory, f"Migrate bucket {bucket} to us-east", _stuck(i))
        assert _first_offer(memory) == ["list_bucket", "copy_objects"]

        # the listing refused to run first: deleting came first for a reason
        needed: list[Step] = [("list_bucket", OUT_OF_TURN), "delete_bucket", "list_bucket"]
        _log(memory, "Migrate bucket assets-cdn to ap-south", needed)
        assert _first_offer(memory) == ["delete_bucket", "list_bucket", "copy_objects"]


def test_a_first_step_the_next_run_did_without_is_left_out_for_good(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i in range(6):
            _log(memory, f"Migrate bucket b{i} to us-east", _stuck(i))
        without: list[Step] = ["list_bucket", "copy_objects", ("rerun_job", OUT_OF_TURN)]
        _log(memory, "Migrate bucket logs to ap-south", without)
        task = "Migrate bucket media-prod to eu-central"
        found = memory.recommend_patterns(task, {"domain": "storage"})
        first = next(s for s in found if isinstance(s.pattern, ToolSequence))
        assert first.pattern.tools == ["list_bucket", "copy_objects"]
