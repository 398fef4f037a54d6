"""After the world changes: a procedure that now fails stops being recommended within a few
failures, what now succeeds takes its place, and retrieval puts the runs that used the old
procedure below the new ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from selfmem import ScoredPattern, SelfLearningMemory, TaskContext, TaskOutcome, ToolSequence

OPS = TaskContext(domain="ops", language="python")
OLD = ["build", "push_image", "deploy", "verify"]
NEW = ["build", "publish_artifact", "deploy", "verify"]
START = datetime.now(UTC) - timedelta(days=1)


def _run(
    memory: SelfLearningMemory,
    i: int,
    tools: list[str],
    *,
    works: bool,
    task: str = "Release the billing service {i}",
) -> str:
    eid = memory.start_episode(task.format(i=i), OPS, start_time=START + timedelta(minutes=i))
    for tool in tools:
        if tool == "push_image" and not works:
            memory.log_step(eid, tool=tool, error="403 Forbidden: request rejected")
            memory.complete_episode(eid, TaskOutcome.failure("release blocked"))
            return eid
        memory.log_step(eid, tool=tool, parameters={"i": i}, observation="ok")
    memory.complete_episode(eid, TaskOutcome.success("released"))
    return eid


def _sequences(memory: SelfLearningMemory) -> list[list[str]]:
    found = memory.recommend_patterns("Release the billing service", OPS)
    return [s.pattern.tools for s in found if isinstance(s.pattern, ToolSequence)]


def test_a_changed_procedure_is_dropped_and_replaced(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i in range(12):
            _run(memory, i, OLD, works=True)
        assert _sequences(memory)[0] == OLD
        for i in range(12, 15):  # the registry now refuses the old way
            _run(memory, i, OLD, works=False)
        assert OLD not in _sequences(memory), "three failures in a row retire the sequence"
        new_ids = [_run(memory, i, NEW, works=True) for i in range(15, 18)]
        assert _sequences(memory)[0] == NEW
        found = memory.retrieve_relevant_context("Release the billing service", OPS, limit=8)
        scores = {s.episode.id: s.score for s in found.episodes}
        old = [s for s in found.episodes if s.signals.get("superseded")]
        assert old, "runs of the old procedure are marked"
        assert all(s.episode.outcome and s.episode.outcome.status.value == "success" for s in old)
        # a superseded run keeps half its score, so any new run returned beside it comes first
        assert all(s.score <= 0.5 * 1.0 + 1e-9 for s in old)
        newest = [scores[i] for i in new_ids if i in scores]
        assert all(n > max(s.score for s in old) for n in newest)


def _replacing(memory: SelfLearningMemory, i: int) -> str:
    """The old way's push_image now answers "410 Gone"; the agent gets past it with
    publish_artifact and the run succeeds."""
    eid = memory.start_episode(
        f"Release the billing service {i}", OPS, start_time=START + timedelta(minutes=i)
    )
    memory.log_step(eid, tool="build", observation="ok")
    memory.log_step(eid, tool="push_image", error="410 Gone: this endpoint was removed")
    for tool in ("publish_artifact", "deploy", "verify"):
        memory.log_step(eid, tool=tool, parameters={"i": i}, observation="ok")
    memory.complete_episode(eid, TaskOutcome.success("released"))
    return eid


def test_runs_that_succeed_only_by_replacing_a_step_retire_the_old_way(tmp_path: Path) -> None:
    # Every run since push_image started answering "410 Gone" still succeeded, by another
    # tool: no failure says the procedure changed, the step that broke does. One such run
    # is not yet a change; two in a row met an error no run had met and never got
    # push_image to work: it has stopped working, and what they did takes the old way's
    # place at once (before, the twelve earlier successes kept the old way first). A third
    # shows the family's procedure changed at that step.
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i in range(12):
            _run(memory, i, OLD, works=True)
        _replacing(memory, 12)
        assert _sequences(memory)[0] == OLD, "one run is not yet a change"
        _replacing(memory, 13)
        assert _sequences(memory)[0] == NEW
        assert OLD not in _sequences(memory)
        _replacing(memory, 14)
        assert _sequences(memory)[0] == NEW
        assert OLD not in _sequences(memory)
        family = next(p for p in memory.list_patterns() if isinstance(p, ToolSequence)
                      and p.key.startswith("family:"))  # fmt: skip
        assert family.changed_tools == ["push_image"]


def test_a_replayed_run_keeps_its_own_end_time(tmp_path: Path) -> None:
    import pytest

    from selfmem import InvalidInputError

    with SelfLearningMemory.open(tmp_path) as memory:
        began = START + timedelta(hours=2)
        eid = memory.start_episode("Release the billing service", OPS, start_time=began)
        with pytest.raises(InvalidInputError, match="end_time"):
            memory.complete_episode(eid, TaskOutcome.success(), end_time=began - timedelta(1))
        ended = began + timedelta(minutes=3)
        episode = memory.complete_episode(eid, TaskOutcome.success(), end_time=ended)
        assert episode.end_time == ended
        assert memory.get_episode(eid).end_time == ended


def _explore(memory: SelfLearningMemory, i: int, *, found: str | None) -> str:
    """The old way fails at push_image; the agent then looks for a way out, trying tools that
    do not apply, and (when ``found``) finishes with that tool instead."""
    eid = memory.start_episode(
        f"Release the billing service {i}", OPS, start_time=START + timedelta(minutes=i)
    )
    memory.log_step(eid, tool="build", observation="ok")
    memory.log_step(eid, tool="push_image", error="403 Forbidden: request rejected")
    for tool in ("check_health", "read_logs"):
        memory.log_step(eid, tool=tool, error="precondition failed")
    if found is None:
        memory.log_step(eid, tool="reset_cluster", error="refused")
        memory.complete_episode(eid, TaskOutcome.failure("gave up"))
        return eid
    for tool in (found, "deploy", "verify"):
        memory.log_step(eid, tool=tool, parameters={"i": i}, observation="ok")
    memory.complete_episode(eid, TaskOutcome.success("released"))
    return eid


def test_runs_that_broke_at_a_step_then_explored_retire_the_sequence(tmp_path: Path) -> None:
    # Each failed run followed the old way up to push_image, which failed for good; what it
    # tried afterwards (ending on another tool) does not make it "another way". Nothing has
    # worked in its place, so no repaired way is guessed: the first sequence offered is the
    # old way up to the step that broke, marked partial (with include_partial=False,
    # nothing), so that the agent meets what that step now answers; the steps after it are
    # not offered.
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i in range(12):
            _run(memory, i, OLD, works=True)
        for i in range(12, 15):
            _explore(memory, i, found=None)
        assert OLD not in _sequences(memory)
        found = memory.recommend_patterns("Release the billing service", OPS)
        assert not any(s.pattern.key.startswith("repair:") for s in found)
        first = _first_sequence(memory)
        assert first.pattern.tools == ["build", "push_image"]  # type: ignore[union-attr]
        assert first.signals["partial"] == 1.0 and first.pattern.successes == 0  # type: ignore[union-attr]
        assert "changed (push_image stopped working)" in first.pattern.describe()
        assert "still goes as far as build -> push_image" in first.pattern.describe()
        asked_not_to = memory.recommend_patterns(
            "Release the billing service", OPS, include_partial=False
        )
        assert not [s for s in asked_not_to if isinstance(s.pattern, ToolSequence)]


def _first_sequence(memory: SelfLearningMemory) -> ScoredPattern:
    found = memory.recommend_patterns("Release the billing service", OPS)
    return next(s for s in found if isinstance(s.pattern, ToolSequence))


def _half_way(memory: SelfLearningMemory, i: int) -> str:
    """The old way fails at push_image, publish_artifact then works in its place, and the run
    still fails later (deploy times out)."""
    eid = memory.start_episode(
        f"Release the billing service {i}", OPS, start_time=START + timedelta(minutes=i)
    )
    memory.log_step(eid, tool="build", observation="ok")
    memory.log_step(eid, tool="push_image", error="403 Forbidden: request rejected")
    memory.log_step(eid, tool="read_logs", error="precondition failed")
    memory.log_step(eid, tool="publish_artifact", parameters={"i": i}, observation="ok")
    memory.log_step(eid, tool="deploy", error="timed out after 300 s")
    memory.complete_episode(eid, TaskOutcome.failure("release blocked"))
    return eid


def test_with_no_success_since_a_change_the_old_way_is_offered_repaired(tmp_path: Path) -> None:
    # No run has succeeded since push_image started failing, but in each of them
    # publish_artifact worked in its place: the old way with that step replaced is the best
    # guess, offered first and marked as not yet known to work. A run that succeeds the new
    # way then takes its place.
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i in range(12):
            _run(memory, i, OLD, works=True)
        repaired = [_half_way(memory, i) for i in range(12, 15)]
        first = memory.recommend_patterns("Release the billing service", OPS)[0]
        assert isinstance(first.pattern, ToolSequence)
        assert first.pattern.tools == NEW
        assert first.pattern.key.startswith("repair:")
        assert first.signals["repair"] == 1.0 and first.signals["effectiveness"] == 0.0
        assert (first.pattern.support, first.pattern.successes) == (3, 0)
        assert first.pattern.episode_ids == repaired
        assert "none of the 3 runs since succeeded" in first.pattern.describe()
        assert "not yet known to work" in first.pattern.describe()
        _run(memory, 15, NEW, works=True)
        first = memory.recommend_patterns("Release the billing service", OPS)[0]
        assert first.pattern.tools == NEW
        assert not first.pattern.key.startswith("repair:") and "repair" not in first.signals


def test_a_run_that_found_the_new_way_while_the_old_one_failed_is_recommended(
    tmp_path: Path,
) -> None:
    # One run found publish_artifact between the failures, before the change was detected:
    # it ended before the change point but never used the step that broke, so it is not
    # superseded, and it is what the task's nearest runs now agree on, although a dozen
    # closer old runs had to be looked past.
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i in range(12):
            _run(memory, i, OLD, works=True)
        _explore(memory, 12, found=None)
        _explore(memory, 13, found="publish_artifact")
        _explore(memory, 14, found=None)
        _explore(memory, 15, found=None)
        assert OLD not in _sequences(memory)
        assert _sequences(memory)[0] == ["build", "publish_artifact", "deploy", "verify"]


def _ship(memory: SelfLearningMemory, i: int, tools: list[str]) -> str:
    """The same task worded without a word of "Release the billing service"."""
    return _run(memory, i, tools, works=True, task="Ship payments {i} to prod")


def test_after_a_change_tasks_worded_otherwise_get_the_new_way(tmp_path: Path) -> None:
    # The family's task comes in two wordings that share no word. Only runs of the other
    # wording found the new way; once the old way is superseded they are what both the
    # recommendation and the retrieved runs offer for this wording too.
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i in range(12):
            _run(memory, i, OLD, works=True) if i % 2 else _ship(memory, i, OLD)
        for i in range(12, 15):
            _explore(memory, i, found=None)
        new_ids = [_ship(memory, i, NEW) for i in range(15, 17)]
        assert _sequences(memory)[0] == NEW
        found = memory.retrieve_relevant_context("Release the billing service", OPS, limit=3)
        assert [s.episode.id for s in found.episodes[:2]] == new_ids[::-1]
        assert all(s.signals == {"new_way": 1.0} for s in found.episodes[:2])
        old_way = [s for s in found.episodes if "push_image" in [t.tool for t in s.episode.steps]]
        assert all(
            s.signals.get("superseded")
            for s in old_way
            if s.episode.outcome.status.value == "success"
        )
        # the query's filters apply to the runs added this way as to the others
        filtered = memory.retrieve_relevant_context(
            "Release the billing service", OPS, limit=3, tags=["hotfix"]
        )
        assert not filtered.episodes


def _follow_and_fail(memory: SelfLearningMemory, i: int, task: str, error: str) -> str:
    """An agent follows the recommended sequence; its first step now fails (a step was added
    before it), and the agent then tries tools of other tasks in vain."""
    eid = memory.start_episode(task, OPS, start_time=START + timedelta(minutes=i))
    plan = next(s.pattern for s in memory.recommend_patterns(task, OPS)
                if isinstance(s.pattern, ToolSequence))  # fmt: skip
    memory.record_feedback(eid, pattern_ids=[plan.id])
    memory.log_step(eid, tool=plan.tools[0], error=error)
    for tool in ("rotate_keys", "scale_pool", "page_oncall"):
        memory.log_step(eid, tool=tool, error="not applicable")
    memory.complete_episode(eid, TaskOutcome.failure("budget spent"))
    return eid


def test_runs_that_followed_the_sequence_and_broke_at_its_first_step_retire_it(
    tmp_path: Path,
) -> None:
    # The followers are worded otherwise and spent most of their calls on other tasks' tools:
    # alike, they would start a family of their own. They said which sequence they followed
    # (record_feedback), so they are its family's runs, and three of them in a row retire it.
    # Each meets another error, so no one error says the step has stopped working.
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i in range(12):
            _run(memory, i, OLD, works=True)
        for i, (task, error) in enumerate(
            (("Cut a billing build for customers", "no registered runner for this project"),
             ("Billing goes out now", "runner pool is empty"),
             ("Push out billing v2", "build agent offline")),
            start=12,
        ):  # fmt: skip
            assert _sequences(memory)[0] == OLD
            _follow_and_fail(memory, i, task, error)
        assert OLD not in _sequences(memory)


def _register_first(
    memory: SelfLearningMemory, i: int, task: str, *, found: bool, plan_of: bool = False
) -> str:
    """The procedure changed: a runner must now be registered before build. The run meets
    "no registered runner", tries tools that do not apply and, when ``found``, gets
    register_runner and then build to work before it runs out of calls. With ``plan_of``
    it says it followed the first sequence offered."""
    eid = memory.start_episode(task, OPS, start_time=START + timedelta(minutes=i))
    if plan_of:
        memory.record_feedback(eid, pattern_ids=[_first_sequence(memory).pattern.id])
    memory.log_step(eid, tool="build", error="no registered runner for this project")
    for tool in ("page_oncall", "scale_pool"):
        memory.log_step(eid, tool=tool, error="not applicable")
    if found:
        memory.log_step(eid, tool="register_runner", observation="ok")
        memory.log_step(eid, tool="build", observation="ok")
    memory.complete_episode(eid, TaskOutcome.failure("budget spent"))
    return eid


def test_a_new_first_step_found_since_a_change_comes_with_the_rest_of_the_old_way(
    tmp_path: Path,
) -> None:
    # No run has succeeded since build started failing, and no tool worked in its place:
    # register_runner worked before it. The run since got as far as register_runner ->
    # build; the old way's later steps were never reached and are offered after them, as a
    # guess (repair:, effectiveness 0). A run worded otherwise that follows the guess counts
    # in the family.
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i in range(12):
            _run(memory, i, OLD, works=True)
        for i in range(12, 15):
            _register_first(memory, i, f"Release the billing service {i}", found=False)
        assert OLD not in _sequences(memory)
        _register_first(memory, 15, "Release the billing service 15", found=True)
        first = _first_sequence(memory)
        assert first.pattern.tools == ["register_runner", *OLD]  # type: ignore[union-attr]
        assert first.pattern.key.startswith("repair:") and first.signals["repair"] == 1.0
        assert first.signals["effectiveness"] == 0.0
        follower = _register_first(memory, 16, "Ship payments to prod", found=True, plan_of=True)
        # the follower is the family's run: the next guess comes from it too
        guess = _first_sequence(memory).pattern
        assert follower in guess.episode_ids
        # the episode keeps which family's offer it followed: relearning finds the same
        memory.relearn()
        assert _first_sequence(memory).pattern.episode_ids == guess.episode_ids
