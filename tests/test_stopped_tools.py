"""A tool that has stopped working: an error no run had met before, met by every run that
called the tool since, the tool never working in them. What a successful run did with that
tool before then is superseded, whichever task family the run is in."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from selfmem import SelfLearningMemory, TaskContext, TaskOutcome
from selfmem.learning import DecisionPoint, ErrorRecovery, PatternLearner
from selfmem.learning.extractors import run_setting
from selfmem.records.learned import pattern_adapter

from .test_learner import NS, episode, observe_all

GONE = ("trigger_pipeline", "410 gone: pipelines moved to the runner api")


def _stopped(learner: PatternLearner) -> set[str]:
    return set(learner.stopped_tools())


def test_a_new_error_met_twice_in_a_row_stops_the_tool_until_it_works_again() -> None:
    learner = PatternLearner(NS)
    observe_all(
        learner, [episode(["write_config", "trigger_pipeline"], minute=i) for i in range(5)]
    )
    learner.observe(episode(["write_config", GONE], success=False, minute=10))
    assert _stopped(learner) == set(), "one run is not yet a pattern"
    learner.observe(episode(["write_config", GONE, "open_pr"], success=False, minute=11))
    stopped = learner.stopped_tools()
    assert set(stopped) == {"trigger_pipeline"}
    assert stopped["trigger_pipeline"].since == episode([], minute=10).end_time
    learner.observe(episode(["write_config", "trigger_pipeline"], minute=12))
    assert _stopped(learner) == set(), "the tool worked again"
    learner.observe(episode(["write_config", GONE], success=False, minute=13))
    learner.observe(episode(["write_config", GONE], success=False, minute=14))
    assert _stopped(learner) == set(), "the error was met before the tool last worked"


def test_an_error_the_tool_recovers_from_or_that_other_runs_skip_never_stops_it() -> None:
    learner = PatternLearner(NS)
    flaky = ("fetch_data", "timeout after 30s")
    runs = [
        episode(["fetch_data", "report"], minute=0),
        episode([flaky, "fetch_data", "report"], minute=1),  # retried: it worked
        episode([flaky, "fetch_data", "report"], minute=2),
        episode(["fetch_data", "report"], minute=3),
    ]
    observe_all(learner, runs)
    assert _stopped(learner) == set()
    # a new error, met once, then a run that called the tool saw it work
    observe_all(
        learner,
        [
            episode([("fetch_data", "schema mismatch"), "report"], success=False, minute=4),
            episode(["fetch_data", "report"], minute=5),
            episode([("fetch_data", "schema mismatch")], success=False, minute=6),
        ],
    )
    assert _stopped(learner) == set()


def test_a_tool_stopped_for_one_task_stays_stopped_while_another_task_still_uses_it() -> None:
    learner = PatternLearner(NS)
    gone = ("notify_team", "403 forbidden: incident notices moved to paging")
    incident = ["read_logs", "query_metrics", "restart_service", "notify_team"]
    release = ["build_image", "rollback_release", "check_health", "notify_team"]
    observe_all(learner, [episode(incident, task="restore checkout", minute=i) for i in range(3)])
    observe_all(learner, [episode(release, task="roll back", minute=3 + i) for i in range(3)])
    observe_all(
        learner,
        [
            episode([*incident[:3], gone], success=False, task="restore checkout", minute=10),
            episode(release, task="roll back", minute=11),  # the tool works for this task
            episode([*incident[:3], gone, "page_oncall"], task="restore checkout", minute=12),
            episode(release, task="roll back", minute=13),
        ],
    )
    stop = learner.stopped_tools().get("notify_team")
    assert stop is not None, "runs of another task that still see it work do not end the stop"
    setting = run_setting(episode([]))
    assert stop.applies(setting, incident)
    assert not stop.applies(setting, release), "it has not stopped for the other task"
    stored = [
        pattern_adapter.validate_json(pattern_adapter.dump_json(p)) for p in learner.all_patterns()
    ]
    reloaded = PatternLearner(NS)
    reloaded.load(stored)
    assert reloaded.stopped_tools() == learner.stopped_tools()
    learner.observe(episode(incident, task="restore checkout", minute=14))
    assert _stopped(learner) == set(), "a run of the task itself saw it work again"


def test_a_tool_runs_of_another_task_tried_and_dropped_never_stops_for_that_task() -> None:
    learner = PatternLearner(NS)
    research = ["read_docs", "search_web", "write_report"]
    deploy = ["build_image", "push_image", "deploy"]
    observe_all(learner, [episode(research, task="compare parsers", minute=i) for i in range(3)])
    observe_all(learner, [episode(deploy, task="ship the api", minute=3 + i) for i in range(3)])
    stray = ("build_image", "permission denied: not a build host")
    observe_all(
        learner,
        [  # two research runs try a deploy tool, which fails, while deploy runs still use it
            episode([*research[:2], stray], success=False, task="compare parsers", minute=10),
            episode(deploy, task="ship the api", minute=11),
            episode([*research[:2], stray], success=False, task="compare parsers", minute=12),
            episode(deploy, task="ship the api", minute=13),
        ],
    )
    assert _stopped(learner) == set(), "it never worked for their task: nothing stopped there"


def test_a_stopped_tool_survives_reloading_and_forgetting_a_breaking_run_restarts_it() -> None:
    learner = PatternLearner(NS)
    ok = [episode(["write_config", "trigger_pipeline"], minute=i) for i in range(3)]
    broke = [episode(["write_config", GONE], success=False, minute=10 + i) for i in range(2)]
    observe_all(learner, [*ok, *broke])
    assert _stopped(learner) == {"trigger_pipeline"}
    stored = [
        pattern_adapter.validate_json(pattern_adapter.dump_json(p)) for p in learner.all_patterns()
    ]
    reloaded = PatternLearner(NS)
    reloaded.load(stored)
    assert _stopped(reloaded) == {"trigger_pipeline"}
    reloaded.observe(episode(["write_config", "trigger_pipeline"], minute=20))
    assert _stopped(reloaded) == set(), "a reloaded learner still sees the tool work again"
    learner.forget(broke[1])
    assert _stopped(learner) == set()
    (gone,) = [p for p in learner.all_patterns() if isinstance(p, ErrorRecovery)]
    assert list(gone.breaking) == [broke[0].id]


def test_a_state_error_never_stops_a_tool() -> None:
    # "called out of turn" raised by many tools says the run's order was wrong, not that
    # the tool is gone
    learner = PatternLearner(NS)
    turn = "precondition failed: called out of turn"
    runs = [
        episode(["a", "b", "c", "d", "e"], minute=0),
        *(
            episode([(tool, turn)], success=False, minute=1 + i)
            for i, tool in enumerate(["a", "a", "b", "b", "c", "c", "d", "d", "e", "e"])
        ),
    ]
    observe_all(learner, runs)
    assert turn in learner.state_errors()
    assert _stopped(learner) == set()


CI = TaskContext(domain="ci", language="python")


def _start(minute: int) -> datetime:
    return episode([], minute=minute).start_time


def _ci_run(memory: SelfLearningMemory, i: int, task: str, *, gone: bool) -> str:
    eid = memory.start_episode(task, CI, start_time=_start(i))
    memory.log_step(eid, tool="write_ci_config", observation="ok")
    memory.log_step(eid, tool="add_ci_secret", observation="ok")
    if gone:
        memory.log_step(eid, tool="trigger_pipeline", error="410 Gone: use the runner api")
        memory.log_step(eid, tool="ask_teammate", error="nobody knows")
        memory.complete_episode(eid, TaskOutcome.failure("pipeline never ran"))
    else:
        memory.log_step(eid, tool="trigger_pipeline", observation="pipeline green")
        memory.complete_episode(eid, TaskOutcome.success("ci set up"))
    return eid


def test_old_successes_of_any_family_are_superseded_once_a_tool_stopped(tmp_path: Path) -> None:
    # One task worded three ways that share no word: each wording's runs form a family of
    # its own, too small for a sequence, so no family ever sees its procedure change. The
    # tool they all used now answers "410 Gone" to every run.
    wordings = ("Set up CI for repo {i}", "Add a build pipeline to project {i}",
                "Wire continuous integration into service {i}")  # fmt: skip
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        old = [_ci_run(memory, i, wordings[i % 3].format(i=i), gone=False) for i in range(6)]
        query = "Set up CI for repo 99"
        before = memory.retrieve_relevant_context(query, CI, limit=6)
        assert not any("superseded" in s.signals for s in before.episodes)
        _ci_run(memory, 6, "Add a build pipeline to project 7", gone=True)
        _ci_run(memory, 7, "Set up CI for repo 8", gone=True)
        found = memory.retrieve_relevant_context(query, CI, limit=10)
        marked = {s.episode.id for s in found.episodes if "superseded" in s.signals}
        assert marked == {s.episode.id for s in found.episodes if s.episode.id in old}
        assert marked, "the old successes are returned, below, marked superseded"
        # the family's sequence is no longer served; what is offered is how far runs got,
        # up to the step that now fails (the agent meets what it answers), worth nothing yet
        offered = memory.recommend_patterns(query, CI, include_partial=True)
        with_it = [s for s in offered if "trigger_pipeline" in getattr(s.pattern, "tools", [])]
        assert all(s.signals["effectiveness"] == 0.0 for s in with_it)
        assert with_it and not memory.list_patterns("tool_sequence")


def _after_change(memory: SelfLearningMemory, i: int, task: str, *, found: bool) -> str:
    """Since the change a runner must be registered first, and trigger_pipeline is gone.
    The run breaks at write_ci_config and, with ``found``, gets register_ci_runner to work
    before it runs out of calls at trigger_pipeline."""
    eid = memory.start_episode(task, CI, start_time=_start(i))
    memory.log_step(eid, tool="write_ci_config", error="no runner registered for this repo")
    if found:
        memory.log_step(eid, tool="register_ci_runner", observation="runner 7 registered")
    memory.log_step(eid, tool="trigger_pipeline", error="410 Gone: use the runner api")
    memory.complete_episode(eid, TaskOutcome.failure("no pipeline"))
    return eid


def test_a_step_found_since_a_tool_stopped_comes_first_with_the_rest_of_the_old_way(
    tmp_path: Path,
) -> None:
    # The old successes are spread over wordings, so no family saw its procedure change.
    # Of the runs since, one found a step no old success used; the offer starts with it and
    # goes on with the old way's steps (a guess: whether each still works is not known).
    wordings = ("Set up CI for repo {i}", "Add a build pipeline to project {i}",
                "Wire continuous integration into service {i}")  # fmt: skip
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i in range(6):
            _ci_run(memory, i, wordings[i % 3].format(i=i), gone=False)
        _after_change(memory, 6, "Set up CI for repo 7", found=False)
        runs = [_after_change(memory, 7, "Add a build pipeline to project 8", found=True)]
        first = memory.recommend_patterns("Set up CI for repo 99", CI)[0]
        assert first.pattern.tools == [  # type: ignore[union-attr]
            "register_ci_runner", "write_ci_config", "add_ci_secret", "trigger_pipeline",
        ]  # fmt: skip
        assert first.pattern.key.startswith("repair:") and first.signals["effectiveness"] == 0.0
        assert set(runs) <= set(first.pattern.episode_ids)


def _replaced(memory: SelfLearningMemory, i: int, task: str) -> str:
    """Since the change trigger_pipeline answers "410 Gone"; run_pipeline_v2 does its work."""
    eid = memory.start_episode(task, CI, start_time=_start(i))
    memory.log_step(eid, tool="write_ci_config", observation="ok")
    memory.log_step(eid, tool="add_ci_secret", observation="ok")
    memory.log_step(eid, tool="trigger_pipeline", error="410 Gone: use the runner api")
    memory.log_step(eid, tool="run_pipeline_v2", observation="pipeline green")
    memory.complete_episode(eid, TaskOutcome.success("ci set up"))
    return eid


def test_runs_that_met_the_stop_stand_in_for_old_runs_however_worded(tmp_path: Path) -> None:
    # Only tasks worded "Add a build pipeline ..." met the change, and got past it; a task
    # worded "Set up CI ..." shares no word with them. Once trigger_pipeline has stopped
    # working, the runs that met it take the old runs' place, for this wording too.
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i in range(6):
            _ci_run(memory, i, f"Set up CI for repo {i}", gone=False)
        new = [_replaced(memory, i, f"Add a build pipeline to project {i}") for i in (6, 7)]
        query = "Set up CI for repo 99"
        found = memory.retrieve_relevant_context(query, CI, limit=4)
        assert {s.episode.id for s in found.episodes[:2]} == set(new)
        assert all(s.signals.get("new_way") == 1.0 for s in found.episodes[:2])
        first = memory.recommend_patterns(query, CI)[0].pattern
        assert first.tools == [  # type: ignore[union-attr]
            "write_ci_config", "add_ci_secret", "run_pipeline_v2",
        ]  # fmt: skip


def test_a_decision_for_a_tool_that_has_stopped_working_is_no_longer_served() -> None:
    """After ``build``, ``push_image`` did better than ``push_legacy``; then the registry
    answers "410 Gone" to every push, and runs publish an artifact instead. "Run
    push_image rather than push_legacy" is withdrawn with the family's sequence."""
    learner = PatternLearner(NS)
    pushes = [
        episode(["build", "push_image" if i % 4 else "push_legacy", "deploy", "verify"],
                success=bool(i % 4), minute=i)
        for i in range(25)
    ]  # fmt: skip
    observe_all(learner, pushes)
    decision = next(p for p in learner.patterns() if isinstance(p, DecisionPoint))
    assert (decision.after_tool, decision.best) == ("build", "push_image")
    gone = ("push_image", "410 gone: use publish_artifact")
    observe_all(
        learner,
        [
            episode(["build", gone, "publish_artifact"], success=False, minute=30 + i)
            for i in range(4)
        ],
    )
    assert "push_image" in learner.stopped_tools()
    assert not learner.is_served(learner.get(decision.id)), "it advises a step that broke"
    assert all(not isinstance(p, DecisionPoint) for p in learner.patterns())
