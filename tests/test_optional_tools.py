"""Which tools of a family's consensus stay in its sequence: what nearly every successful run
did, the better of two tools chosen at one step, and a step only some runs take only when it
pays off."""

from __future__ import annotations

from collections import Counter

from selfmem.learning import PatternLearner
from selfmem.learning.optional_tools import pays_off

from .test_learner import NS, episode, observe_all, sequences


def runs(path: tuple[str, ...], successes: int, failures: int) -> list[tuple[Counter[str], bool]]:
    """Runs that each called the tools of ``path`` (counted as the learner counts calls)."""
    return [(Counter(path), True)] * successes + [(Counter(path), False)] * failures


def test_a_tool_nearly_every_successful_run_called_stays() -> None:
    family = runs(("a", "b", "c"), 9, 5) + runs(("a", "c"), 1, 0)
    assert pays_off(("a", "b", "c"), family) == ("a", "b", "c")


def test_the_better_of_two_tools_chosen_at_a_step_stays_and_the_worse_goes() -> None:
    # "check" is chosen in 12 runs and succeeds in 10, "ask" in 12 and succeeds in 8: with a
    # few more runs choosing "ask" the consensus could hold either; only the better stays
    better = runs(("read", "check", "reply"), 10, 2) + runs(("read", "ask", "reply"), 8, 4)
    assert pays_off(("read", "check", "reply"), better) == ("read", "check", "reply")
    assert pays_off(("read", "ask", "reply"), better) == ("read", "reply")


def test_a_step_half_the_runs_skip_without_effect_goes() -> None:
    # "lint" is in 11 of 18 successful runs, and runs with it succeed as often as without
    family = runs(("build", "lint", "test"), 11, 5) + runs(("build", "test"), 7, 4)
    assert pays_off(("build", "lint", "test"), family) == ("build", "test")


def test_a_step_only_some_runs_take_stays_when_it_clearly_pays_off() -> None:
    family = runs(("build", "warm_cache", "test"), 18, 2) + runs(("build", "test"), 5, 15)
    assert pays_off(("build", "warm_cache", "test"), family) == ("build", "warm_cache", "test")


def test_a_tool_replaced_after_an_error_still_counts_as_called() -> None:
    # the learner passes every tool a run called: "install" failed and was replaced by
    # "install_legacy" in a third of the runs, but it is still the family's step
    family = runs(("fetch", "install", "build"), 10, 2) + runs(
        ("fetch", "install", "install_legacy", "build"), 5, 1
    )
    assert pays_off(("fetch", "install", "build"), family) == ("fetch", "install", "build")


def test_the_learner_leaves_an_optional_step_without_effect_out_of_the_sequence() -> None:
    # "lint" in two runs of three (in most successful runs), failures every fifth run whatever
    # the path: without the rule the learned sequence told every agent to lint
    learner = PatternLearner(NS)
    history = []
    for i in range(40):
        path = ["build", "lint", "test"] if i % 3 else ["build", "test"]
        history.append(episode(path, success=i % 5 != 0, minute=i))
    observe_all(learner, history)
    (sequence,) = sequences(learner)
    assert sequence.tools == ["build", "test"]
    assert learner.is_served(sequence)
