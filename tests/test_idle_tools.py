"""Tools that work in any state: where calls out of turn fail, a tool that never failed, even
after other steps had worked, shows no progress; it is left out of how far failed runs got,
and replaces nothing after a change."""

from __future__ import annotations

from pathlib import Path

from selfmem import SelfLearningMemory, TaskContext, TaskOutcome, ToolSequence
from selfmem.learning import PatternLearner

from .test_learner import Step, episode

OUT_OF_TURN = "not applicable now"
TICKET = ["open_ticket", "diagnose", "patch", "close_ticket"]


def _out_of_turn(tools: list[str]) -> list[Step]:
    return [(tool, OUT_OF_TURN) for tool in tools]


def _runs() -> list[list[Step]]:
    """Runs that start with ``triage`` and call tools out of turn (they fail without
    effect), and call ``wipe_cache``, which works wherever it is called."""
    return [
        ["triage", "open_ticket", "wipe_cache", *_out_of_turn(["close_ticket", "deploy"])],
        ["triage", "wipe_cache", *_out_of_turn(["diagnose", "patch"]), "open_ticket"],
        ["triage", "open_ticket", "diagnose", "wipe_cache", *_out_of_turn(["restart"])],
        ["triage", *_out_of_turn(["open_ticket", "rollback"]), "open_ticket", "diagnose"],
    ]


def test_a_tool_that_worked_in_any_state_where_calls_out_of_turn_fail_is_idle() -> None:
    learner = PatternLearner("tests")
    for i, tools in enumerate(_runs() * 2):
        learner.observe(episode(tools, success=False, minute=i))
    # "triage" never failed either, but only ever worked first: a procedure's first step
    assert learner.idle_tools() == {"wipe_cache"}


def test_a_tool_only_ever_called_first_is_idle_once_the_next_step_starts_other_runs() -> None:
    """Every run that got anywhere called ``wipe_cache`` first (an offer of how far runs got
    that starts with it has every follower call it there), then ``triage``: like a first
    step, it never failed and never came after one. Once ``triage`` starts runs without it,
    ``wipe_cache`` did nothing ``triage`` needed."""
    learner = PatternLearner("tests")
    led = [
        ["wipe_cache", "triage", "open_ticket", *_out_of_turn(["close_ticket", "triage"])],
        ["wipe_cache", "triage", *_out_of_turn(["diagnose", "patch"]), "open_ticket"],
        ["wipe_cache", *_out_of_turn(["open_ticket", "rollback"]), "triage", "open_ticket"],
    ]
    for i, tools in enumerate(led * 2):
        learner.observe(episode(tools, success=False, minute=i))
    assert "wipe_cache" not in learner.idle_tools()
    started = ["triage", "open_ticket", *_out_of_turn(["patch"])]
    learner.observe(episode(started, success=False, minute=9))
    assert "wipe_cache" in learner.idle_tools()


def test_without_calls_failing_out_of_turn_no_tool_is_idle() -> None:
    learner = PatternLearner("tests")
    for i in range(8):
        tools: list[Step] = ["open_ticket", "wipe_cache", "diagnose", "patch"]
        learner.observe(episode(tools, success=i % 2 == 0, minute=i))
    assert learner.idle_tools() == set()


def _log(
    memory: SelfLearningMemory, task: str, steps: list[Step], success: bool, domain: str = "support"
) -> None:
    eid = memory.start_episode(task, TaskContext(domain=domain))
    for step in steps:
        if isinstance(step, tuple):
            memory.log_step(eid, tool=step[0], error=step[1])
        else:
            memory.log_step(eid, tool=step, observation="ok")
    outcome = TaskOutcome.success() if success else TaskOutcome.failure("not closed")
    memory.complete_episode(eid, outcome)


def test_how_far_failed_runs_got_leaves_out_a_step_that_works_anywhere(tmp_path: Path) -> None:
    """Every run of the task failed; each did ``wipe_cache`` (it "worked", and is what made
    the last step fail later), then the first two steps; one of the earlier runs got a step
    further. Offered as how far they got, the steps come without it."""
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i, steps in enumerate(_runs()):
            _log(memory, f"Billing export {i} is stuck", steps, success=False)
        task = "The billing sync of tenant {} is stuck"
        for tenant in ("acme", "globex", "initech"):
            stuck: list[Step] = [
                "wipe_cache", "triage", "open_ticket", *_out_of_turn(["patch", "close_ticket"]),
            ]  # fmt: skip
            _log(memory, task.format(tenant), stuck, success=False)
        first = memory.recommend_patterns(
            task.format("umbrella"), {"domain": "support"}, include_partial=True
        )[0]
        assert isinstance(first.pattern, ToolSequence) and "partial" in first.signals
        assert first.pattern.tools == ["triage", "open_ticket", "diagnose"]


def test_a_learned_sequence_is_offered_without_a_step_that_works_anywhere(
    tmp_path: Path,
) -> None:
    """The successful runs all called ``wipe_cache`` (an agent that copies what worked keeps
    repeating it), so the family's sequence holds it; it is idle, so the offer leaves it out
    and says so, while the stored pattern keeps its evidence and its id."""
    done = ["triage", "wipe_cache", "open_ticket", "diagnose", "patch", "close_ticket"]
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i, steps in enumerate(_runs()):
            _log(memory, f"Billing export {i} is stuck", steps, success=False)
        for i in range(4):
            _log(memory, f"Billing export {10 + i} is stuck", list(done), success=True)
        stored = [
            p for p in memory.list_patterns(kind="tool_sequence")
            if isinstance(p, ToolSequence) and "wipe_cache" in p.tools
        ]  # fmt: skip
        assert stored, "the runs' sequence is learned with the step they all took"
        task, ctx = "Billing export 99 is stuck", {"domain": "support"}
        found = memory.recommend_patterns(task, ctx)
        offered = [s for s in found if isinstance(s.pattern, ToolSequence)]
        assert offered[0].pattern.tools == [t for t in done if t != "wipe_cache"]
        assert offered[0].signals["idle_left_out"] == 1.0
        assert all("wipe_cache" not in s.pattern.tools for s in offered)
        assert any(s.pattern.id == p.id for s in offered for p in stored)
        context = memory.retrieve_relevant_context(task, ctx)
        assert context.heuristics
        assert all("wipe_cache" not in h.heuristic.action for h in context.heuristics)
