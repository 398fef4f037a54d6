"""Two kinds of task taken for one family are told apart by their words: where every task
that says "credit note" posted a credit note and no other did, that is another task, not a
choice at one step; a real choice, made whatever the task says, keeps one family."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from selfmem import Episode, ExecutionStep, SelfLearningMemory, TaskContext, TaskOutcome, TaskType
from selfmem.learning import PatternLearner
from selfmem.learning.word_split import CHECKPOINTS, dividing_terms
from selfmem.records.learned import DecisionPoint, ErrorRecovery, PatternKind, ToolSequence

BASE = datetime.now(UTC) - timedelta(days=1)  # recent: learned patterns decay with age
FINANCE = TaskContext(domain="finance", language="german")
SUPPLIERS = ["Orbis Trading", "Nordlicht GmbH", "Alpenblick AG", "Hansa Logistik"]
INVOICE = ["fetch_invoice", "match_purchase_order", "post_invoice", "archive_document"]
CREDIT = ["fetch_invoice", "match_purchase_order", "post_credit_note", "archive_document"]
REVERSAL = [*CREDIT[:3], "reverse_booking", CREDIT[3]]


def _task(i: int, credit: bool, reversal: bool = False) -> str:
    supplier = SUPPLIERS[i % len(SUPPLIERS)]
    if reversal:
        return f"Book the credit note reversal {1000 + i} from {supplier} against order PO-{i}"
    if credit:
        return f"Book the credit note {1000 + i} from {supplier} against order PO-{i}"
    return f"Book the invoice {1000 + i} from {supplier} against order PO-{i}"


def _is_credit(i: int) -> bool:
    return i % 5 in (1, 3)  # two in five, mixed in from the start


def _episode(
    i: int,
    credit: bool,
    tools: list[str],
    ok: bool = True,
    steps: list[ExecutionStep] | None = None,
) -> Episode:
    end = BASE + timedelta(minutes=i)
    return Episode(
        task_description=_task(i, credit, reversal=tools == REVERSAL),
        context=FINANCE,
        task_type=TaskType.DOCUMENTATION,
        steps=steps or [ExecutionStep(tool=t, observation="ok") for t in tools],
        start_time=end - timedelta(seconds=30),
        end_time=end,
        outcome=TaskOutcome.success("booked") if ok else TaskOutcome.failure("rejected"),
    )


def _history(runs: int) -> list[Episode]:
    return [
        _episode(i, _is_credit(i), CREDIT if _is_credit(i) else INVOICE, ok=i % 7 != 6)
        for i in range(runs)
    ]


def _sequences(learner: PatternLearner) -> list[list[str]]:
    return sorted(
        p.tools for p in learner.patterns(served_only=True) if isinstance(p, ToolSequence)
    )


def test_a_rarer_task_is_divided_off_once_it_has_enough_runs_past_the_first_looks() -> None:
    """Credit notes are one booking in twelve: by the family's 46th run there are four, too
    few to tell them from chance. The family goes on being looked at up to 100 runs, and
    is divided once they are enough."""
    learner = PatternLearner("default")
    for i in range(100):
        credit = i % 12 == 5
        learner.observe(_episode(i, credit, CREDIT if credit else INVOICE, ok=i % 7 != 6))
        if i + 1 == 46:
            assert len(learner.families.families) == 1, "four credit notes are too few"
    assert _sequences(learner) == sorted([INVOICE, CREDIT])


def test_a_tool_choice_that_follows_the_tasks_words_makes_two_families() -> None:
    learner = PatternLearner("default")
    history = _history(40)
    for episode in history[:8]:
        learner.observe(episode)
    assert len(learner.families.families) == 1  # at first alike enough to be one task
    for episode in history[8:]:
        learner.observe(episode)
    assert _sequences(learner) == sorted([INVOICE, CREDIT])
    families = {key: f for key, f in learner.families.families.items()}
    credit = next(f for f in families.values() if "post_credit_note" in f.tools)
    invoice = next(f for f in families.values() if "post_invoice" in f.tools)
    assert credit.members.n + invoice.members.n == len(history)  # every run counted once
    assert credit.members.n == sum(_is_credit(i) for i in range(40))
    assert credit.terms["credit"] == credit.members.n and "credit" not in invoice.terms
    assert "post_invoice" not in credit.tool_stats  # the moved runs' counts moved too
    assert "invoice" in invoice.sample_task and "credit" in credit.sample_task
    # the choice between posting an invoice and a credit note is not served as a decision
    assert not [p for p in learner.patterns() if isinstance(p, DecisionPoint)]


def test_the_two_families_are_not_merged_again_and_new_runs_join_their_own() -> None:
    learner = PatternLearner("default")
    history = _history(120)
    for episode in history:
        learner.observe(episode)
    assert _sequences(learner) == sorted([INVOICE, CREDIT])
    credit = next(f for f in learner.families.families.values() if "post_credit_note" in f.tools)
    assert credit.members.n == sum(_is_credit(i) for i in range(120))
    assert credit.tool_stats["post_credit_note"].n == credit.members.n


def test_a_real_choice_at_one_step_keeps_one_family() -> None:
    """The choice between two ways of posting is made whatever the task says."""
    learner = PatternLearner("default")
    pick = random.Random(7)
    for i in range(40):
        way = "post_invoice" if pick.random() < 0.5 else "post_invoice_batch"
        tools = ["fetch_invoice", "match_purchase_order", way, "archive_document"]
        learner.observe(_episode(i, False, tools))
    assert len(learner.families.families) == 1


def _three_kinds(runs: int) -> list[Episode]:
    """Invoices, credit notes and credit note reversals (a credit note with one more step),
    the first run a reversal."""
    kinds = [(True, REVERSAL), (False, INVOICE), (True, CREDIT)]
    return [_episode(i, *kinds[i % 3]) for i in range(runs)]


def test_a_divided_family_can_be_divided_again_and_every_family_has_its_own_key() -> None:
    learner = PatternLearner("default")
    history = _three_kinds(90)
    for episode in history:
        learner.observe(episode)
    assert _sequences(learner) == sorted([INVOICE, CREDIT, REVERSAL])
    families = list(learner.families.families.values())
    assert sum(f.members.n for f in families) == len(history)
    for family in families:  # each apart from both others
        assert sorted(family.apart) == sorted(f.key for f in families if f is not family)
    removed = learner.take_removed()
    assert not set(removed) & {p.id for p in learner.all_patterns()}


def test_dividing_gives_what_counting_each_run_into_its_family_would_give() -> None:
    """Relearning (runs counted with their sequences worked out at the end) finds the same
    families and the same counts as learning one run at a time."""
    history = _three_kinds(90)
    live, bulk = PatternLearner("default"), PatternLearner("default")
    for episode in history:
        live.observe(episode)
        bulk.observe(episode, defer_sequences=True)
    bulk.settle_sequences()
    assert {p.id: p.model_dump() for p in live.all_patterns()} == {
        p.id: p.model_dump() for p in bulk.all_patterns()
    }


def test_the_runs_that_followed_a_moved_run_move_with_it() -> None:
    learner = PatternLearner("default")
    history = _history(40)
    first_credit = history[1]
    for episode in history[:4]:
        learner.observe(episode)
    for n in range(2):
        follower = _episode(100 + n, True, CREDIT, ok=False)
        learner.record_followed(first_credit, follower)
    assert learner.failed_when_followed([first_credit]) == {first_credit.id}
    for episode in history[4:]:
        learner.observe(episode)
    assert len(learner.families.families) == 2  # divided, and the followers went along
    assert learner.failed_when_followed([first_credit]) == {first_credit.id}


def test_dividing_a_family_leaves_error_recoveries_as_they_were() -> None:
    """Recoveries are learned per tool and error, not per family: a recovery retired by
    feedback stays retired, its evidence in the order it came."""
    learner = PatternLearner("default")
    history = []
    for i in range(40):
        credit = _is_credit(i)
        steps = []
        for tool in CREDIT if credit else INVOICE:
            if credit and tool == "post_credit_note" and i < 12:
                steps.append(ExecutionStep(tool=tool, error="LedgerLocked: period closed"))
            steps.append(ExecutionStep(tool=tool, observation="ok"))
        history.append(_episode(i, credit, [], steps=steps))
    for episode in history[:12]:
        learner.observe(episode)
    (recovery,) = [p for p in learner.all_patterns() if isinstance(p, ErrorRecovery)]
    for _ in range(5):
        learner.record_feedback([recovery.id], success=False)
    assert recovery.retired
    before = list(recovery.episode_ids)
    for episode in history[12:]:
        learner.observe(episode)
    assert len(learner.families.families) == 2
    after = learner.get(recovery.id)
    assert isinstance(after, ErrorRecovery) and after.retired and after.feedback_uses == 5
    assert after.episode_ids == before


def _held(runs: int) -> list[tuple[Episode, frozenset[str]]]:
    return [
        (_episode(i, _is_credit(i), CREDIT if _is_credit(i) else INVOICE),
         frozenset({"credit"} if _is_credit(i) else {"invoice"}))
        for i in range(runs)
    ]  # fmt: skip


def test_no_term_divides_runs_too_few_to_tell() -> None:
    assert dividing_terms(_held(8), 0.05) is None
    assert 28 in CHECKPOINTS and 30 not in CHECKPOINTS
    assert dividing_terms(_held(28), 0.05) == ("credit",)
    assert dividing_terms(_held(30), 0.05) is None  # looked at only at the checkpoints


def test_a_task_worded_two_ways_is_divided_by_the_terms_of_both() -> None:
    """Credit notes and invoices each asked for in two wordings: no one term covers either
    task, the terms of both wordings of one together decide the tool."""
    learner = PatternLearner("default")
    for i in range(60):
        credit = _is_credit(i)
        episode = _episode(i, credit, CREDIT if credit else INVOICE, ok=i % 7 != 6)
        if i % 2:
            supplier = SUPPLIERS[i % len(SUPPLIERS)]
            what = "refund voucher" if credit else "supplier bill"
            text = f"Book the {what} {1000 + i} from {supplier} against order PO-{i}"
            episode = episode.model_copy(update={"task_description": text})
        learner.observe(episode)
    sequences = sorted(
        tuple(f.tools) for f in learner.families.families.values() if f.members.n > 5
    )
    assert sequences == [tuple(CREDIT), tuple(INVOICE)]


def _log(memory: SelfLearningMemory, episode: Episode) -> str:
    eid = memory.start_episode(
        episode.task_description, episode.context, task_type=episode.task_type
    )
    for step in episode.steps:
        memory.log_step(eid, tool=step.tool, observation="ok")
    assert episode.outcome is not None
    memory.complete_episode(eid, episode.outcome)
    return eid


def test_a_memory_reopened_part_way_still_tells_the_tasks_apart(tmp_path: Path) -> None:
    """The runs of a young family counted before the memory was reopened are read back
    from the store, so the family can still be divided."""
    history = _history(40)
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for episode in history[:12]:
            _log(memory, episode)
        assert len(memory.list_patterns(PatternKind.TOOL_SEQUENCE, include_unserved=True)) == 1
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for episode in history[12:]:
            _log(memory, episode)
        learned = memory.list_patterns(PatternKind.TOOL_SEQUENCE)
        assert sorted(p.tools for p in learned if isinstance(p, ToolSequence)) == sorted(
            [INVOICE, CREDIT]
        )
        relearned = memory.relearn()
        assert relearned == len(history)
        again = memory.list_patterns(PatternKind.TOOL_SEQUENCE)
        assert sorted(p.tools for p in again if isinstance(p, ToolSequence)) == sorted(
            [INVOICE, CREDIT]
        )


def _sequence_tools(memory: SelfLearningMemory) -> list[list[str]]:
    learned = memory.list_patterns(PatternKind.TOOL_SEQUENCE)
    return sorted(p.tools for p in learned if isinstance(p, ToolSequence))


def test_a_run_deleted_after_reopening_does_not_stop_the_family_being_divided(
    tmp_path: Path,
) -> None:
    history = _history(40)
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        ids = [_log(memory, episode) for episode in history[:10]]
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        memory.delete_episode(ids[2])
        for episode in history[10:]:
            _log(memory, episode)
        assert _sequence_tools(memory) == sorted([INVOICE, CREDIT])


def test_a_handle_that_reloads_after_another_divided_a_family_keeps_the_right_sequences(
    tmp_path: Path,
) -> None:
    """Handle a learns the first runs, handle b the rest (and divides the family); a,
    reloading what b learned, must not keep the moved runs in its copy of the family."""
    history = [_episode(i, _is_credit(i), CREDIT if _is_credit(i) else INVOICE) for i in range(21)]
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as first:
        for episode in history[:12]:
            _log(first, episode)
        with SelfLearningMemory.open(tmp_path, learn_inline=True) as second:
            for episode in history[12:20]:
                _log(second, episode)
            assert _sequence_tools(second) == sorted([INVOICE, CREDIT])
        _log(first, history[20])
        assert _sequence_tools(first) == sorted([INVOICE, CREDIT])
