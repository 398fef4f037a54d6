"""Which tools of a family's consensus stay in its sequence: what nearly every successful run
did, the better of two tools chosen at one step, and a step only some runs take only when it
pays off."""

from __future__ import annotations

from collections import Counter

from selfmem.learning import PatternLearner
from selfmem.learning.optional_tools import pays_off

from .test_learner import NS, episode, observe_all, sequences


def runs(
    path: tuple[str, ...], successes: int, failures: int, setting: frozenset[str] = frozenset()
) -> list[tuple[Counter[str], bool, frozenset[str]]]:
    """Runs in ``setting`` that each called the tools of ``path`` (counted as the learner
    counts calls)."""
    return [(Counter(path), True, setting)] * successes + [
        (Counter(path), False, setting)
    ] * failures


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


LEGACY = frozenset({"tag=legacy-os"})


def test_a_step_that_pays_off_only_under_one_tag_leaves_the_sequence() -> None:
    # "install_compat" helps on legacy hosts (18 of 20 against 6 of 20) and nowhere else (10
    # of 20 either way): it pays off for the family overall (28 of 40 against 16 of 40,
    # p = 0.01), but it is the tag's step, not the family's
    family = (
        runs(("ssh", "install_compat", "renew"), 18, 2, LEGACY)
        + runs(("ssh", "renew"), 6, 14, LEGACY)
        + runs(("ssh", "install_compat", "renew"), 10, 10)
        + runs(("ssh", "renew"), 10, 10)
    )
    assert pays_off(("ssh", "install_compat", "renew"), family) == ("ssh", "renew")


def test_a_step_that_pays_off_everywhere_stays_though_one_tag_shows_it_more() -> None:
    # a dry run helps on every host, most on legacy ones: without the tag it still pays off
    # significantly (16 of 20 against 7 of 20)
    family = (
        runs(("write", "dry_run", "apply"), 10, 0, LEGACY)
        + runs(("write", "apply"), 2, 8, LEGACY)
        + runs(("write", "dry_run", "apply"), 16, 4)
        + runs(("write", "apply"), 7, 13)
    )
    assert pays_off(("write", "dry_run", "apply"), family) == ("write", "dry_run", "apply")


def test_a_step_whose_effect_under_a_tag_may_be_chance_stays() -> None:
    # few runs: the step helps without the tag too (7 of 9 against 3 of 8, not significant
    # alone), and the tag's larger gap is weaker evidence still; the step stays
    family = (
        runs(("write", "dry_run", "apply"), 8, 1, LEGACY)
        + runs(("write", "apply"), 2, 6, LEGACY)
        + runs(("write", "dry_run", "apply"), 7, 2)
        + runs(("write", "apply"), 3, 5)
    )
    assert pays_off(("write", "dry_run", "apply"), family) == ("write", "dry_run", "apply")


def test_a_step_taken_only_under_one_tag_leaves_the_sequence() -> None:
    # no run without the tag took "install_compat": nothing says it pays off there
    family = (
        runs(("ssh", "install_compat", "renew"), 18, 2, LEGACY)
        + runs(("ssh", "renew"), 6, 14, LEGACY)
        + runs(("ssh", "renew"), 20, 20)
    )
    assert pays_off(("ssh", "install_compat", "renew"), family) == ("ssh", "renew")
