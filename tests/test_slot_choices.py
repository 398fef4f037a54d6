"""A step where a family's runs choose between tools stays in its sequence, with the option
whose runs did best; what follows the family's last step is not a choice of its procedure."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from selfmem import Episode, ExecutionStep, TaskContext, TaskOutcome, TaskType
from selfmem.learning import DecisionPoint, PatternLearner, ToolSequence

BASE = datetime.now(UTC) - timedelta(days=1)  # recent: learned patterns decay with age
CONTEXT = TaskContext(domain="clinical-data", language="python")
NOISE = ("check_status", "search_kb")
WITH_MAP = ["fetch_ticket", "pull_feed", "map_codes", "validate", "push_results"]


def _episode(i: int, tools: list[str], ok: bool) -> Episode:
    end = BASE + timedelta(minutes=i)
    return Episode(
        task_description=f"Import the lab results feed for ward {i % 9} into the chart",
        context=CONTEXT,
        task_type=TaskType.ANALYSIS,
        steps=[ExecutionStep(tool=t, observation="ok") for t in tools],
        start_time=end - timedelta(seconds=30),
        end_time=end,
        outcome=TaskOutcome.success("imported") if ok else TaskOutcome.failure("rejected"),
    )


def _learn(runs: int, options: dict[str, tuple[float, float]], seed: int = 0) -> PatternLearner:
    """``options``: tool -> (share of the runs that take it, their success rate)."""
    rng = random.Random(seed)
    learner = PatternLearner("default")
    names, shares = list(options), [share for share, _ in options.values()]
    for i in range(runs):
        option = rng.choices(names, weights=shares)[0]
        tools = ["fetch_ticket", "pull_feed", option, "validate", "push_results"]
        if rng.random() < 0.3:
            tools.insert(rng.randrange(len(tools) + 1), rng.choice(NOISE))
        learner.observe(_episode(i, tools, rng.random() < options[option][1]))
    return learner


def _sequence(learner: PatternLearner) -> list[str]:
    (family,) = learner.families.families.values()
    assert isinstance(family, ToolSequence)
    return family.tools


def test_a_step_split_between_two_tools_keeps_the_better_one() -> None:
    # neither option is taken by 60% of the successful runs: the step used to be left out
    learner = _learn(200, {"map_codes": (0.3, 0.9), "guess_codes": (0.7, 0.55)})
    assert _sequence(learner) == WITH_MAP
    served = [p for p in learner.patterns() if isinstance(p, ToolSequence)]
    assert [p.tools for p in served] == [_sequence(learner)]


def test_three_options_at_one_step() -> None:
    learner = _learn(
        240, {"restart": (0.4, 0.9), "clear_queue": (0.3, 0.5), "bounce_port": (0.3, 0.5)}
    )
    assert _sequence(learner)[2] == "restart"


def test_tools_called_now_and_then_are_not_a_step() -> None:
    """Noise steps at any place, together in most runs: no choice between them."""
    learner = _learn(200, {"map_codes": (1.0, 0.8)})
    assert _sequence(learner) == WITH_MAP


def test_a_step_after_the_last_one_only_failed_runs_take_is_not_a_decision() -> None:
    """A note written after a run failed follows the family's last step: it is not the worse
    choice of a step of the procedure, whatever its record."""
    rng = random.Random(3)
    learner = PatternLearner("default")
    for i in range(200):
        ok = rng.random() < 0.6
        tools = ["fetch_ticket", "pull_feed", "map_codes", "validate", "push_results"]
        if not ok and rng.random() < 0.8:
            tools.append("write_incident_note")
        elif rng.random() < 0.4:
            tools.append("check_status")
        learner.observe(_episode(i, tools, ok))
    assert _sequence(learner)[-1] == "push_results"
    decisions = [p for p in learner.patterns() if isinstance(p, DecisionPoint)]
    assert all(d.after_tool != "push_results" for d in decisions)
