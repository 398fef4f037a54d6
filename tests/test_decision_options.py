"""A decision at a step where the runs choose between tools that never come together is
judged on every run that took each option, wherever an optional check or a note put it; a
decision that an error's replacement already states is not served twice; a step the setting
decides is not a context effect."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from selfmem import Episode, ExecutionStep, TaskContext, TaskOutcome, TaskType
from selfmem.learning import (
    ContextPattern,
    DecisionPoint,
    ErrorRecovery,
    PatternLearner,
    ToolSequence,
)
from selfmem.learning.sequences import with_decisions
from selfmem.records.learned import stable_id

BASE = datetime.now(UTC) - timedelta(days=1)


def _episode(i: int, steps: list[ExecutionStep], ok: bool, language: str = "python") -> Episode:
    end = BASE + timedelta(minutes=i)
    return Episode(
        task_description=f"Reroute shipment {4100 + i} around the depot closure",
        context=TaskContext(domain="logistics", language=language),
        task_type=TaskType.ANALYSIS,
        steps=steps,
        start_time=end - timedelta(seconds=30),
        end_time=end,
        outcome=TaskOutcome.success("rerouted") if ok else TaskOutcome.failure("late"),
    )


def _ok(*tools: str) -> list[ExecutionStep]:
    return [ExecutionStep(tool=t, observation="ok") for t in tools]


def _served(learner: PatternLearner, kind: type) -> list:  # type: ignore[type-arg]
    return [p for p in learner.patterns() if isinstance(p, kind)]


def test_an_optional_check_before_the_choice_does_not_split_it() -> None:
    """Half the runs check the hazmat rules before booking, and the booking is one of two
    tools: counting only the tool right after ``plan_route`` would compare the check with
    the options and halve each option's runs."""
    rng = random.Random(5)
    learner = PatternLearner("default")
    for i in range(300):
        option = "book_linehaul" if rng.random() < 0.3 else "hold_at_hub"
        tools = ["lookup_shipment", "plan_route", option, "notify_customer"]
        if rng.random() < 0.5:
            tools.insert(2, "check_hazmat")
        if rng.random() < 0.2:
            tools.insert(rng.randrange(1, len(tools)), "log_note")
        ok = rng.random() < (0.85 if option == "book_linehaul" else 0.5)
        learner.observe(_episode(i, _ok(*tools), ok))
    (decision,) = _served(learner, DecisionPoint)
    assert (decision.after_tool, decision.best, decision.worst) == (
        "plan_route",
        "book_linehaul",
        "hold_at_hub",
    )
    # judged on every run that took an option, not on those that took it right away
    linehaul = decision.option_stats["book_linehaul"]
    assert linehaul.n > decision.choices["book_linehaul"].n
    assert linehaul.n + decision.option_stats["hold_at_hub"].n == 300
    assert f"{linehaul.successes}/{linehaul.n}" in decision.describe()


def test_a_deprecated_tool_and_its_successor_are_one_finding() -> None:
    """A third of the runs call the old tool, which answers that it is gone; most then call
    its successor. The error's recovery says to replace it: no decision says it again."""
    rng = random.Random(2)
    learner = PatternLearner("default")
    for i in range(300):
        steps = _ok("lookup_shipment", "plan_route")
        ok = rng.random() < 0.8
        if rng.random() < 0.3:
            steps.append(ExecutionStep(tool="print_bol", error="410 gone: use generate_ebol"))
            if rng.random() < 0.25:
                learner.observe(_episode(i, steps, False))  # gave up
                continue
        steps += _ok("generate_ebol", "notify_customer")
        learner.observe(_episode(i, steps, ok))
    (recovery,) = [p for p in _served(learner, ErrorRecovery) if p.tool == "print_bol"]
    assert (recovery.best_mode, recovery.best_recovery) == ("replace", "generate_ebol")
    assert not [d for d in _served(learner, DecisionPoint) if d.worst == "print_bol"]


def test_a_step_the_language_decides_is_not_a_context_effect() -> None:
    """C# builds use dotnet, C++ builds msvc; the few runs that skipped the build failed.
    That is a step of the procedure in each setting, not a tool whose effect depends on it."""
    rng = random.Random(4)
    learner = PatternLearner("default")
    for i in range(400):
        language = "csharp" if rng.random() < 0.4 else "cpp"
        build = "build_with_dotnet" if language == "csharp" else "build_with_msvc"
        tools = ["sync_source", build, "run_unit_tests", "archive_artifacts"]
        skipped = rng.random() < 0.04
        if skipped:
            tools.remove(build)
        ok = rng.random() < (0.1 if skipped else 0.75)
        learner.observe(_episode(i, _ok(*tools), ok, language))
    assert not _served(learner, ContextPattern)
    (family,) = learner.families.families.values()
    assert family.conditional == {}


def test_the_nearest_runs_do_not_outvote_a_served_decision(tmp_path: Path) -> None:
    """The runs worded most like the task happened to render a table and succeed; the
    family's 160 runs show that a chart works far more often. The sequence offered for the
    task holds the chart."""
    from selfmem import SelfLearningMemory

    from .helpers import run_episode

    rng = random.Random(7)
    ctx = TaskContext(domain="analytics", language="sql")
    wordings = ("Generate the weekly {} report", "Compile this week's {} numbers")
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i in range(160):
            chart = rng.random() < 0.5
            tools = ["query_db", "aggregate", "render_chart" if chart else "render_table",
                     "write_report"]  # fmt: skip
            ok = rng.random() < (0.9 if chart else 0.45)
            task = wordings[i % 2].format(rng.choice(["sales", "churn", "traffic"]))
            run_episode(memory, task, tools, context=ctx, success=ok)
        table = ["query_db", "aggregate", "render_table", "write_report"]
        for _ in range(6):
            run_episode(memory, "Build the revenue report for this week", table, context=ctx)
        decisions = memory.list_patterns("decision_point")
        assert [(d.best, d.worst) for d in decisions] == [("render_chart", "render_table")]
        offered = memory.recommend_patterns("Build the revenue report for this week", ctx)
        first = next(s.pattern for s in offered if isinstance(s.pattern, ToolSequence))
        assert first.tools == ["query_db", "aggregate", "render_chart", "write_report"]


#: A served decision: after ``aggregate``, ``render_chart`` rather than ``render_table``.
CHART_OVER_TABLE = DecisionPoint(
    id="d", namespace="default", key="f|aggregate", family="f", after_tool="aggregate",
    best="render_chart", worst="render_table", support=160, successes=110,
)  # fmt: skip


def _voted(tools: list[str], voters: list[Episode]) -> ToolSequence:
    """The sequence the ``voters`` (all of whom followed it) agreed on, as the nearest
    runs' vote offers it."""
    key = "similar:" + "|".join(tools)
    return ToolSequence(
        id=stable_id("default", "tool_sequence", key), namespace="default", key=key,
        tools=tools, support=len(voters), successes=len(voters),
        episode_ids=[ep.id for ep in voters],
    )  # fmt: skip


def test_a_decided_sequence_counts_only_the_voters_that_followed_it() -> None:
    """The vote of two successful runs took the table; a served decision puts the chart in
    its place. Of the nearest runs, a failed one and one the vote left out also took the
    chart: the decided sequence's evidence stays within its two voters (more successes than
    runs would break its confidence, and ``recommend_patterns`` with it)."""
    table = ["query_db", "aggregate", "render_table", "write_report"]
    chart = ["query_db", "aggregate", "render_chart", "write_report"]
    voters = [_episode(i, _ok(*table), True) for i in range(2)]
    others = [_episode(2, _ok(*chart), False), _episode(3, _ok(*chart), True)]
    others += [_episode(4, _ok(*chart), True)]
    voted = _voted(table, voters)
    decided = with_decisions(voted, [*voters, *others], [CHART_OVER_TABLE])
    assert decided.tools == chart
    assert decided.key == "similar:" + "|".join(chart)
    assert decided.successes <= decided.support == 2
    assert 0.0 <= decided.confidence <= 1.0


def test_a_step_the_voters_split_on_gets_the_decisions_better_choice() -> None:
    """Half the nearest runs rendered a table, half a chart, so the vote kept neither; the
    served decision says a chart does better after ``aggregate``: the sequence offered
    holds it there. Had most runs skipped the step, it would stay out."""
    shared = ["query_db", "aggregate", "write_report"]
    split = [
        _episode(i, _ok("query_db", "aggregate", option, "write_report"), True)
        for i, option in enumerate(["render_table", "render_chart"] * 2)
    ]
    voted = _voted(shared, split)
    decision = CHART_OVER_TABLE
    decided = with_decisions(voted, split, [decision])
    assert decided.tools == ["query_db", "aggregate", "render_chart", "write_report"]
    assert decided.successes == 2  # the two voters that took the chart

    skipped = [_episode(i, _ok(*shared), True) for i in range(3)] + split[:1]
    assert with_decisions(voted, skipped, [decision]).tools == shared
