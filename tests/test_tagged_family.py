"""A family whose runs all had a tag the task lacks does not take the place of the sequence
the task's nearest runs agree on: every password reset so far was an ``eu`` one, and a ``us``
task is offered the runs' way, not a pattern that says it holds under ``eu``."""

from __future__ import annotations

from pathlib import Path

from selfmem import SelfLearningMemory, TaskContext, TaskOutcome, ToolSequence

RESET = ["lookup_customer", "verify_identity", "send_sms_code"]


def _reset(memory: SelfLearningMemory, name: str, tags: list[str]) -> None:
    eid = memory.start_episode(
        f"{name} is locked out and cannot log in", TaskContext(domain="accounts", tags=tags)
    )
    for tool in RESET:
        memory.log_step(eid, tool=tool, observation=f"{tool}: ok")
    memory.complete_episode(eid, TaskOutcome.success("done"))


def _first_sequence(memory: SelfLearningMemory, tags: list[str]) -> ToolSequence:
    found = memory.recommend_patterns(
        "Bob Chen is locked out and cannot log in", TaskContext(domain="accounts", tags=tags)
    )
    first = next(s.pattern for s in found if isinstance(s.pattern, ToolSequence))
    assert isinstance(first, ToolSequence)
    return first


def test_a_family_learned_under_a_tag_the_task_lacks_gives_way_to_the_runs(
    tmp_path: Path,
) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True, flush_interval_s=None) as memory:
        for name in ("Alice Moreau", "Femi Ade", "Eva Novak", "Dev Patel", "Carla Diaz"):
            _reset(memory, name, ["eu"])
        learned = [p for p in memory.list_patterns(kind="tool_sequence") if p.tools == RESET]
        assert learned and learned[0].context.tags == ["eu"]

        here = _first_sequence(memory, ["eu"])  # the learned family, where it was learned
        assert here.id == learned[0].id

        elsewhere = _first_sequence(memory, ["us"])
        assert elsewhere.tools == RESET
        assert elsewhere.id != learned[0].id and elsewhere.context.tags == []
        assert set(elsewhere.episode_ids) <= set(learned[0].episode_ids)


def test_a_task_that_states_no_tags_gets_the_learned_family(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True, flush_interval_s=None) as memory:
        for name in ("Alice Moreau", "Femi Ade", "Eva Novak", "Dev Patel"):
            _reset(memory, name, ["eu"])
        learned = next(p for p in memory.list_patterns(kind="tool_sequence") if p.tools == RESET)
        assert _first_sequence(memory, []).id == learned.id
