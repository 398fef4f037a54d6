"""A retrieved episode whose plan stops working for the runs that copy it is demoted.

An agent retrieves past episodes, follows one's plan, and says so with
``record_feedback(..., followed_episode_ids=[...])``. Once the latest two runs that followed
an episode failed, retrieval ranks it below the others with the signal
``failed_when_followed`` and the prompt text says it no longer works; a follower that
succeeds restores it. Real libSQL file, real learner, learning inline.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from selfmem import (
    ExecutionStep,
    InvalidInputError,
    SelfLearningMemory,
    TaskContext,
    TaskOutcome,
    ToolSequence,
)
from selfmem.learning import followed

from .helpers import run_episode

TASK = "Deploy the payments service to production"
PROCEDURE = ["build_image", "deploy_service", "verify_health"]
WEB = TaskContext(domain="web", language="python")


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[SelfLearningMemory]:
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        yield memory


def _history(memory: SelfLearningMemory) -> str:
    """Four successful deploys; returns the one an agent will copy (the latest)."""
    ids = [run_episode(memory, f"{TASK} (run {i})", PROCEDURE, context=WEB) for i in range(4)]
    return ids[-1]


def _follow(
    memory: SelfLearningMemory,
    past: str,
    *,
    success: bool,
    before_completion: bool = True,
    error: str = "410 gone: use helm",
) -> str:
    """A run that copies ``past``'s plan; it says so while open, or once completed."""
    eid = memory.start_episode(TASK, WEB)
    memory.log_step(eid, tool="build_image", observation="built")
    if success:
        memory.log_step(eid, tool="deploy_service", observation="deployed")
    else:
        memory.log_step(eid, ExecutionStep(tool="deploy_service", error=error))
    if before_completion:
        memory.record_feedback(eid, followed_episode_ids=[past])
    outcome = TaskOutcome.success("live") if success else TaskOutcome.failure("not deployed")
    memory.complete_episode(eid, outcome)
    if not before_completion:
        memory.record_feedback(eid, followed_episode_ids=[past])
    return eid


def _signals(memory: SelfLearningMemory, episode_id: str) -> dict[str, float]:
    result = memory.retrieve_relevant_context(TASK, WEB, limit=10)
    found = {s.episode.id: s.signals for s in result.episodes}
    assert episode_id in found, "the followed episode is still retrieved"
    return found[episode_id]


def test_two_failed_followers_demote_the_episode_and_the_prompt_says_so(
    memory: SelfLearningMemory,
) -> None:
    past = _history(memory)
    assert "failed_when_followed" not in _signals(memory, past)
    _follow(memory, past, success=False)
    assert "failed_when_followed" not in _signals(memory, past)  # one failure is not enough
    # said after completion; another error, so deploy_service has not stopped working for
    # every run, only for those that copied this one
    _follow(memory, past, success=False, before_completion=False, error="quota exceeded")
    assert _signals(memory, past)["failed_when_followed"] == 1.0
    result = memory.retrieve_relevant_context(TASK, WEB, limit=10)
    ranked = [s.episode.id for s in result.episodes]
    others = [s.episode.id for s in result.successes if s.episode.id != past]
    assert all(ranked.index(other) < ranked.index(past) for other in others)
    line = next(line for line in result.render(2000).splitlines() if "(run 3)" in line)
    assert line.endswith("(no longer works for similar tasks)")


def test_a_demoted_episode_ranks_below_the_others_however_close_its_words(
    memory: SelfLearningMemory,
) -> None:
    """The copied run is worded exactly like the task; the other successful runs share only
    its procedure and a word or two. Once two followers failed, it comes after them all:
    halving its score would have left it first."""
    others = [
        run_episode(memory, f"Roll the {name} service out", PROCEDURE, context=WEB)
        for name in ("billing", "search", "ledger")
    ]
    past = run_episode(memory, TASK, PROCEDURE, context=WEB)
    first = memory.retrieve_relevant_context(TASK, WEB, limit=10).successes[0]
    assert first.episode.id == past
    _follow(memory, past, success=False)
    _follow(memory, past, success=False, error="quota exceeded")
    ranked = [s.episode.id for s in memory.retrieve_relevant_context(TASK, WEB, limit=10).successes]
    assert set(others) <= set(ranked) and ranked[-1] == past


def test_a_follower_that_succeeds_restores_the_episode(memory: SelfLearningMemory) -> None:
    past = _history(memory)
    _follow(memory, past, success=False)
    _follow(memory, past, success=False)
    assert "failed_when_followed" in _signals(memory, past)
    _follow(memory, past, success=True)
    assert "failed_when_followed" not in _signals(memory, past)


def test_deleting_a_failed_follower_unlearns_its_failure(memory: SelfLearningMemory) -> None:
    past = _history(memory)
    _follow(memory, past, success=False)
    second = _follow(memory, past, success=False)
    assert "failed_when_followed" in _signals(memory, past)
    memory.delete_episode(second)
    assert "failed_when_followed" not in _signals(memory, past)


def test_relearning_and_reopening_keep_what_followers_said(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        past = _history(memory)
        _follow(memory, past, success=False)
        _follow(memory, past, success=False)
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        assert "failed_when_followed" in _signals(memory, past)  # stored with the learning
        memory.relearn()  # rebuilt from the followers' own records
        assert "failed_when_followed" in _signals(memory, past)


def test_bad_followed_ids_are_refused_and_unknown_ones_change_nothing(
    memory: SelfLearningMemory,
) -> None:
    past = _history(memory)
    eid = memory.start_episode(TASK, WEB)
    with pytest.raises(InvalidInputError, match="followed_episode_ids"):
        memory.record_feedback(eid, followed_episode_ids=past)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="follow itself"):
        memory.record_feedback(eid, followed_episode_ids=[eid])
    memory.record_feedback(eid, followed_episode_ids=["no-such-episode"])
    memory.complete_episode(eid, TaskOutcome.failure("no"))
    assert "failed_when_followed" not in _signals(memory, past)


def test_feedback_keys_the_caller_filled_with_other_values_link_nothing(
    memory: SelfLearningMemory,
) -> None:
    # the metadata is the caller's: keys of the library's feedback holding something other
    # than a list of ids (nested lists, a string, a mapping) must not stop the run from being
    # learned, nor later feedback from being kept
    past = _history(memory)
    odd = {"selfmem.used_patterns": [[1], 2], "selfmem.followed_episodes": "not a list",
           "selfmem.offer_families": {"a": 1}}  # fmt: skip
    eid = memory.start_episode(TASK, WEB, metadata=odd)
    memory.record_feedback(eid, followed_episode_ids=[past])
    memory.log_step(eid, ExecutionStep(tool="deploy_service", error="410 gone: use helm"))
    memory.complete_episode(eid, TaskOutcome.failure("not deployed"))
    memory.flush()
    assert memory.learning_failures == []
    kept = memory.get_episode(eid).metadata
    assert kept["selfmem.followed_episodes"] == [past]
    assert kept["selfmem.used_patterns"] == [[1], 2], "a key no feedback touched stays as given"
    stray = memory.start_episode(TASK, WEB, metadata=odd)
    memory.complete_episode(stray, TaskOutcome.failure("no"))
    memory.flush()
    assert memory.learning_failures == []


def test_feedback_lists_have_limits_and_a_refused_call_keeps_what_was_said(
    memory: SelfLearningMemory,
) -> None:
    past = _history(memory)
    eid = memory.start_episode(TASK, WEB)
    with pytest.raises(InvalidInputError, match="at most 100 per call"):
        memory.record_feedback(eid, followed_episode_ids=[f"e{i}" for i in range(101)])
    with pytest.raises(InvalidInputError, match="at most 100 per call"):
        memory.record_feedback(eid, pattern_ids=[f"p{i}" for i in range(101)])
    memory.record_feedback(eid, followed_episode_ids=[past])
    for call in range(9):
        memory.record_feedback(eid, followed_episode_ids=[f"c{call}-{i}" for i in range(111)][:100])
    with pytest.raises(InvalidInputError, match="at most 1000"):
        memory.record_feedback(eid, followed_episode_ids=[f"last-{i}" for i in range(100)])
    memory.log_step(eid, ExecutionStep(tool="deploy_service", error="410 gone: use helm"))
    memory.complete_episode(eid, TaskOutcome.failure("not deployed"))  # still completes
    followed = memory.get_episode(eid).metadata["selfmem.followed_episodes"]
    assert len(followed) == 901 and followed[0] == past


def test_a_failed_follower_in_another_setting_does_not_demote_the_episode(
    memory: SelfLearningMemory,
) -> None:
    """Two runs tagged ``eu`` copy a run tagged ``us`` and fail (the eu procedure needs one
    more step): that shows the setting matters, not that the us run's plan stopped working;
    it stays undemoted. A follower in its own setting counts."""
    us, eu = TaskContext(domain="web", tags=["us"]), TaskContext(domain="web", tags=["eu"])
    past = run_episode(memory, TASK, PROCEDURE, context=us)
    for _ in range(2):
        eid = memory.start_episode(TASK, eu)
        memory.record_feedback(eid, followed_episode_ids=[past])
        memory.log_step(eid, ExecutionStep(tool="deploy_service", error="consent missing"))
        memory.complete_episode(eid, TaskOutcome.failure("not deployed"))
    assert "failed_when_followed" not in _signals(memory, past)
    for _ in range(2):
        eid = memory.start_episode(TASK, us)
        memory.record_feedback(eid, followed_episode_ids=[past])
        memory.log_step(eid, ExecutionStep(tool="deploy_service", error="410 gone: use helm"))
        memory.complete_episode(eid, TaskOutcome.failure("not deployed"))
    assert _signals(memory, past)["failed_when_followed"] == 1.0


def test_failed_followers_in_another_setting_demote_the_episode_for_that_setting_only(
    memory: SelfLearningMemory,
) -> None:
    """Two runs tagged ``eu`` copy a run tagged ``us`` and fail: for ``eu`` tasks the us
    run's plan no longer works. Retrieval for an eu task demotes it, and recommend_patterns
    offers how far the eu runs got instead of its plan; for a us task nothing changes. An
    eu follower that succeeds restores it for eu tasks."""
    us, eu = TaskContext(domain="web", tags=["us"]), TaskContext(domain="web", tags=["eu"])
    past = run_episode(memory, TASK, PROCEDURE, context=us)

    def follow(success: bool) -> str:
        eid = memory.start_episode(TASK, eu)
        memory.record_feedback(eid, followed_episode_ids=[past])
        memory.log_step(eid, tool="build_image", observation="built")
        if success:
            memory.log_step(eid, tool="check_consent", observation="consent on file")
            memory.log_step(eid, tool="deploy_service", observation="deployed")
        else:
            memory.log_step(eid, ExecutionStep(tool="deploy_service", error="consent missing"))
        outcome = TaskOutcome.success("live") if success else TaskOutcome.failure("not deployed")
        memory.complete_episode(eid, outcome)
        return eid

    def signals(context: TaskContext) -> dict[str, float]:
        found = memory.retrieve_relevant_context(TASK, context, limit=10).episodes
        return next(s.signals for s in found if s.episode.id == past)

    def first_tools(context: TaskContext) -> list[str]:
        first = memory.recommend_patterns(TASK, context)[0].pattern
        return first.tools  # type: ignore[union-attr, no-any-return]

    follow(success=False)
    assert "failed_when_followed" not in signals(eu)  # one failure is not enough
    second = follow(success=False)
    assert signals(eu)["failed_when_followed"] == 1.0
    memory.delete_episode(second)  # a deleted follower no longer counts
    assert "failed_when_followed" not in signals(eu)
    follow(success=False)
    assert signals(eu)["failed_when_followed"] == 1.0
    assert "failed_when_followed" not in signals(us)
    assert first_tools(us) == PROCEDURE
    offered = memory.recommend_patterns(TASK, eu)[0]
    assert offered.signals.get("partial") == 1.0
    assert first_tools(eu) == ["build_image"]
    follow(success=True)
    assert "failed_when_followed" not in signals(eu)


def test_feedback_on_the_nearest_runs_sequence_reaches_the_runs_that_held_it(
    memory: SelfLearningMemory,
) -> None:
    """Two runs (too few for a learned family sequence) did the task; an agent follows the
    sequence ``recommend_patterns`` offered from them (not a stored pattern) and says so
    with ``pattern_ids``; twice it fails. The runs that held the sequence are then demoted,
    and once a run doing something else succeeds, the offer is that run's procedure."""
    for i in range(2):
        run_episode(memory, f"{TASK} (run {i})", PROCEDURE, context=WEB)
    offered = memory.recommend_patterns(TASK, WEB)[0].pattern
    assert offered.key.startswith("similar:") and offered.tools == PROCEDURE
    for _ in range(2):
        eid = memory.start_episode(TASK, WEB)
        memory.record_feedback(eid, pattern_ids=[offered.id])
        memory.log_step(eid, ExecutionStep(tool="deploy_service", error="410 gone: use helm"))
        memory.complete_episode(eid, TaskOutcome.failure("not deployed"))
    held = offered.episode_ids
    assert all("failed_when_followed" in _signals(memory, run) for run in held)
    helm = ["build_image", "helm_upgrade", "verify_health"]
    run_episode(memory, TASK, helm, context=WEB)
    assert memory.recommend_patterns(TASK, WEB)[0].pattern.tools == helm


def test_follower_records_keep_their_setting_apart_from_the_id_whatever_the_tags() -> None:
    """A tag may hold any character (``@`` and control characters included); a follower
    recorded in another setting counts for exactly that setting and is forgotten with its
    episode."""
    family = ToolSequence(id="x", namespace="t", key="family:x", tools=["a", "b"])
    odd = followed.setting(TaskContext(domain="web", tags=["eu@west", "a\x1fb"]))
    near = followed.setting(TaskContext(domain="web", tags=["eu@west"]))
    for follower in ("f1", "f2"):
        followed.note(family, "past", follower, success=False, where=odd)
    assert followed.failed_when_followed_in(family, "past", odd)
    assert not followed.failed_when_followed_in(family, "past", near)
    assert not followed.failed_when_followed(family, "past")  # not the past run's own setting
    assert followed.forget(family, "f2")
    assert not followed.failed_when_followed_in(family, "past", odd)
