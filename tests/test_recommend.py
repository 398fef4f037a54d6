"""recommend_patterns: a new task gets the sequence of the family it belongs to, or, when its
nearest successful runs agree on a more specific one, that sequence first."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfmem import ExecutionStep, SelfLearningMemory, TaskContext, TaskOutcome, ToolSequence
from selfmem.config import LearningConfig
from selfmem.errors import InvalidInputError
from selfmem.learning.extractors import procedure
from selfmem.learning.sequences import neighbour_sequence, of_nearest_task, same_task, vote

from .helpers import run_episode

TRAVEL = TaskContext(domain="travel")
CITIES = ["Paris", "Rome", "Oslo", "Lima", "Kyiv", "Doha"]


def _book(memory: SelfLearningMemory, city: str, *, with_reviews: bool) -> None:
    if with_reviews:
        text = f"Find hotels in {city} and read the guest reviews of the best two"
        tools = ["search_location", "search_hotels", "get_reviews", "get_reviews"]
    else:
        text = f"Find hotels in {city} for next weekend"
        tools = ["search_location", "search_hotels"]
    eid = memory.start_episode(text, TRAVEL)
    for index, tool in enumerate(tools):
        memory.log_step(eid, tool=tool, parameters={"n": index}, observation="ok")
    memory.complete_episode(eid, TaskOutcome.success("done"))


def test_the_nearest_runs_sequence_goes_first_when_most_of_them_followed_it(
    tmp_path: Path,
) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for city in CITIES:
            _book(memory, city, with_reviews=False)
            _book(memory, city, with_reviews=True)
        task = "Find hotels in Cairo and read the guest reviews of the best two"
        top = memory.recommend_patterns(task, TRAVEL)[0]
        assert isinstance(top.pattern, ToolSequence)
        # repeated calls on other arguments are steps of the procedure too
        assert top.pattern.tools == [
            "search_location",
            "search_hotels",
            "get_reviews",
            "get_reviews",
        ]
        assert top.pattern.successes >= 3
        assert "most similar successful runs" in top.pattern.describe()
        other = memory.recommend_patterns("Find hotels in Cairo for next weekend", TRAVEL)[0]
        assert isinstance(other.pattern, ToolSequence)
        assert other.pattern.tools == ["search_location", "search_hotels"]


def test_equally_close_runs_that_did_different_things_recommend_nothing(tmp_path: Path) -> None:
    cfg = LearningConfig()
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for tools in (["a", "b"], ["c", "d"], ["e", "f"]):
            run_episode(memory, "Tidy the repository", tools, context=TRAVEL)
        runs = memory.list_episodes(limit=10)
        assert neighbour_sequence("default", "Tidy the repository", runs, cfg) is None
        assert neighbour_sequence("default", "Tidy the repository", runs[:0], cfg) is None


def test_the_nearest_run_decides_when_the_others_are_clearly_further() -> None:
    cfg = LearningConfig()
    paths = [("a", "b", "c"), ("a", "x"), ("a", "y")]
    # the nearest run alone did a-b-c; two runs 0.3 further did something else each
    assert vote(paths, [1.0, 0.05, 0.05], cfg) == ("a", "b", "c")
    # three equally close runs, three procedures: nothing is singled out
    assert vote(paths, [1.0, 1.0, 1.0], cfg) == ()
    # two of three equally close runs agree: their procedure
    assert vote([("a", "b"), ("a", "b"), ("c", "d")], [1.0, 1.0, 1.0], cfg) == ("a", "b")
    # every run differs by a noise step: what most of the close runs share
    noisy = [("a", "n1", "b", "c"), ("a", "b", "n2", "c"), ("a", "b", "c", "n3")]
    assert vote(noisy, [1.0, 1.0, 1.0], cfg) == ("a", "b", "c")


def test_a_run_is_of_another_task_only_when_distant_in_its_stack_and_sharing_few_tools(
    tmp_path: Path,
) -> None:
    release = ["bump_version", "build_wheel", "tag_release", "upload_to_registry"]
    flag = ["create_flag", "configure_rollout_rule", "deploy_service"]
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        python, go = (
            TaskContext(domain="web", language="python"),
            TaskContext(domain="web", language="go"),
        )
        ids = [
            run_episode(memory, "Publish release 1.0", release, context=python),  # the nearest
            run_episode(memory, "Publish release 1.1 with approval", [*release, "approve"]),
            run_episode(memory, "Roll out a flag", flag),
            run_episode(memory, "Roll out a flag, close", flag),
            run_episode(memory, "Roll out a flag in go", flag, context=go),
            run_episode(memory, "Roll out a flag, listing first", ["ls", *flag[:1]]),
        ]
        runs = [memory.get_episode(eid) for eid in ids]
        scores = [0.9, 0.5, 0.5, 0.85, 0.5, 0.5]
        # a step more is the same task; a distant run sharing no tool is another, unless it
        # is about as close or in another stack (whose tools differ anyway)
        assert of_nearest_task(runs, scores) == [True, True, False, True, True, False]
        assert of_nearest_task([], []) == []
        # a tool that works in any state ("ls") shared is no sign of the same task
        assert same_task(["ls", "create_flag"], ["ls", "bump_version"]) is True
        assert same_task(["ls", "create_flag"], ["ls", "bump_version"], {"ls"}) is False
        assert same_task(["ls"], ["ls", *release], {"ls"}) is True  # nothing left to compare


def test_calls_whose_arguments_were_redacted_are_not_merged_as_repeats(tmp_path: Path) -> None:
    """Two different secret-looking tokens are both stored as ``[REDACTED]``; the two calls
    are still two steps of the procedure, while a real repeat counts once."""
    tokens = [
        "d6a1f_H4sIAAAAAAAA_y2QbW-CMBSFf41-o7QUkZo0C8OXOUAiihv70mCtgNN1gU4dv34V",
        "d7699_H4sIAAAAAAAA_y2QW4-CMBCFf42-USgFAZNmg4iGRcQbbtwXAgW5rNoN7Sry67eC6eSc",
    ]
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        eid = memory.start_episode("Details of two flights", TRAVEL)
        memory.log_step(eid, tool="search_flights", parameters={"to": "Oslo"}, observation="ok")
        memory.log_step(eid, tool="search_flights", parameters={"to": "Oslo"}, observation="ok")
        for token in tokens:
            memory.log_step(eid, tool="get_details", parameters={"token": token}, observation="ok")
        memory.complete_episode(eid, TaskOutcome.success("done"))
        episode = memory.get_episode(eid)
        assert all(step.parameters == {"token": "[REDACTED]"} for step in episode.steps[2:])
        assert procedure(episode) == ("search_flights", "get_details", "get_details")


def test_a_learned_sequence_equal_to_the_nearest_runs_one_is_served_first_as_itself(
    tmp_path: Path,
) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for city in CITIES:
            _book(memory, city, with_reviews=True)
        stored = {p.id for p in memory.list_patterns(kind="tool_sequence")}
        top = memory.recommend_patterns("Find hotels in Cairo and read the guest reviews", TRAVEL)
        assert isinstance(top[0].pattern, ToolSequence)
        assert top[0].pattern.tools == [
            "search_location",
            "search_hotels",
            "get_reviews",
            "get_reviews",
        ]
        assert top[0].pattern.id in stored  # the family's record, with its id for feedback
        assert sum(isinstance(s.pattern, ToolSequence) and s.pattern.tools == top[0].pattern.tools
                   for s in top) == 1  # fmt: skip


def test_steps_a_run_took_after_a_failure_stay_in_its_procedure(tmp_path: Path) -> None:
    """``run_query`` failed because the run had skipped two steps; the run then made them
    and ``run_query`` worked. The next similar task is told to make them first."""
    report = TaskContext(domain="data")
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        eid = memory.start_episode("Refresh the revenue report", report)
        memory.log_step(eid, tool="run_query", error="precondition failed: no dataset")
        for tool in ("fetch_dataset", "clean_data", "run_query", "export_csv"):
            memory.log_step(eid, tool=tool, observation="ok")
        memory.complete_episode(eid, TaskOutcome.success("report exported"))
        episode = memory.get_episode(eid)
        assert procedure(episode) == ("fetch_dataset", "clean_data", "run_query", "export_csv")
        top = memory.recommend_patterns("Refresh the churn report", report)[0]
        assert isinstance(top.pattern, ToolSequence)
        assert top.pattern.tools == ["fetch_dataset", "clean_data", "run_query", "export_csv"]
        assert (top.pattern.support, top.pattern.successes) == (1, 1)


def test_runs_in_the_tasks_stated_context_outvote_runs_in_another(tmp_path: Path) -> None:
    """The same request needs other tools in rust than in python; three rust runs and one
    python run: a python task is told the python procedure, a rust task the rust one."""
    python, rust = TaskContext(domain="backend", language="python"), TaskContext(
        domain="backend", language="rust"
    )
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for ctx, tools in (
            (rust, ["cargo_add", "cargo_build", "cargo_test"]),
            (rust, ["cargo_add", "cargo_build", "cargo_test"]),
            (rust, ["cargo_add", "cargo_build", "cargo_test"]),
            (python, ["pip_install", "update_lockfile", "run_pytest"]),
        ):
            run_episode(memory, "Add an http client library as a dependency", tools, context=ctx)
        task = "Add a yaml parser library as a dependency"
        for ctx, wanted in ((python, "pip_install"), (rust, "cargo_add")):
            sequences = [
                s.pattern
                for s in memory.recommend_patterns(task, ctx)
                if isinstance(s.pattern, ToolSequence)
            ]
            assert sequences and sequences[0].tools[0] == wanted


def test_runs_in_another_language_are_offered_only_marked_until_one_in_its_own_succeeds(
    tmp_path: Path,
) -> None:
    """Only python runs of this very wording exist (two: too few for a learned family
    sequence, so only the nearest runs' vote could offer one), and a rust task asks: the
    python procedure is offered marked as a transfer from another language (its
    language-specific steps need adapting), never as this language's way. Once a rust run
    is recorded, even one worded differently, it decides."""
    python, rust = TaskContext(domain="backend", language="python"), TaskContext(
        domain="backend", language="rust"
    )
    task = "Install a date library and wire it into the build"
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for _ in range(2):
            run_episode(memory, task, ["pip_install", "update_lockfile", "run_pytest"],
                        context=python)  # fmt: skip

        def sequences(ctx: TaskContext) -> list[ToolSequence]:
            found = [s.pattern for s in memory.recommend_patterns(task, ctx)]
            return [p for p in found if isinstance(p, ToolSequence)]

        def first_tools(ctx: TaskContext) -> list[str]:
            return sequences(ctx)[0].tools

        transfer = sequences(rust)[0]
        assert transfer.key.startswith("transfer:")
        assert transfer.context.language is None
        assert "no run in this task's language or framework has succeeded" in (
            transfer.describe()
        )
        assert first_tools(python) == ["pip_install", "update_lockfile", "run_pytest"]
        assert sequences(python)[0].key.startswith("similar:")
        run_episode(memory, "Pull in a date crate for the new feature",
                    ["cargo_add", "cargo_build", "cargo_test"], context=rust)  # fmt: skip
        assert first_tools(rust) == ["cargo_add", "cargo_build", "cargo_test"]
        assert not sequences(rust)[0].key.startswith("transfer:")


def test_when_the_nearest_runs_all_failed_the_first_sequence_is_how_far_they_got(
    tmp_path: Path,
) -> None:
    """Runs of another kind of work in the same context succeeded; every run of this task
    failed after the same two steps. What is offered first (by default) is those two steps,
    marked as partial (no run following them succeeded), not the other kind's procedure;
    once a run of the task succeeds, its procedure takes the place."""
    ctx = TaskContext(domain="backend", language="python")
    profile = ["run_profiler", "read_logs", "edit_file", "run_pytest"]
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for endpoint in ("orders", "users", "search", "login"):
            run_episode(memory, f"The {endpoint} endpoint is slow; profile it", profile,
                        context=ctx)  # fmt: skip
        for module in ("parser", "invoice", "session"):
            run_episode(memory, f"Fix the failing {module} unit test",
                        ["run_pytest", "read_file", "run_linter"], context=ctx, fail_at=2,
                        success=False)  # fmt: skip
        task = "Fix the failing scheduler unit test"
        # asked not to, nothing that never worked is offered as a sequence
        found = memory.recommend_patterns(task, ctx, include_partial=False)
        assert [s for s in found if "partial" in s.signals] == []
        first = memory.recommend_patterns(task, ctx)[0]
        assert isinstance(first.pattern, ToolSequence)
        assert first.pattern.tools == ["run_pytest", "read_file"]
        assert first.pattern.successes == 0 and first.pattern.support == 3
        assert first.signals["partial"] == 1.0
        assert "none of the 3 most similar runs succeeded" in first.pattern.describe()
        assert "as far as the most similar runs got" in first.heuristic.explain()
        fix = ["run_pytest", "read_file", "edit_file", "run_pytest"]
        run_episode(memory, "Fix the failing parser unit test", fix, context=ctx)
        first = memory.recommend_patterns(task, ctx, include_partial=True)[0]
        assert isinstance(first.pattern, ToolSequence)
        assert first.pattern.tools == fix
        assert "partial" not in first.signals
        with pytest.raises(InvalidInputError, match="include_partial"):
            memory.recommend_patterns(task, ctx, include_partial="yes")  # type: ignore[arg-type]


def test_a_distant_success_of_another_task_does_not_hide_how_far_the_tasks_runs_got(
    tmp_path: Path,
) -> None:
    """A release and a feature flag are both deployments of one domain and share a few
    words. Every release run failed after the same two steps; feature-flag runs succeeded.
    A new release is offered how far the release runs got, not the feature flag's
    procedure, which its words only brush."""
    ctx = TaskContext(domain="release", language="python")
    flag = ["create_flag", "configure_rollout_rule", "deploy_service"]
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for name in ("dark-mode", "beta-search", "fast-checkout"):
            run_episode(memory, f"Roll out {name} gradually so it can go out to users", flag,
                        context=TaskContext(domain="release"))  # fmt: skip
        for person, library in (("Priya", "requests"), ("Marco", "httpx"), ("Lena", "attrs")):
            run_episode(memory, f"{person} asked for a new version of the {library} library "
                        "to go out", ["bump_version", "build_wheel", "tag_release"],
                        context=ctx, fail_at=2, success=False)  # fmt: skip
        task = "Aiko asked for a new version of the pydantic library to go out"
        sequences = [
            s for s in memory.recommend_patterns(task, ctx) if isinstance(s.pattern, ToolSequence)
        ]
        assert sequences[0].pattern.tools == ["bump_version", "build_wheel"]
        assert sequences[0].signals["partial"] == 1.0
        # a run of the release task that succeeds is what it is offered then
        release = ["bump_version", "build_wheel", "tag_release", "upload_to_registry"]
        run_episode(memory, "Priya asked for a new version of the rich library to go out",
                    release, context=ctx)  # fmt: skip
        first = memory.recommend_patterns(task, ctx)[0]
        assert isinstance(first.pattern, ToolSequence)
        assert first.pattern.tools == release


def test_a_distant_run_of_another_task_does_not_outvote_the_nearest_by_its_context(
    tmp_path: Path,
) -> None:
    """The only feature-flag success ran in production; release runs, which share the
    domain and a word with the task, ran in the task's own setting. The context decides
    among runs of the task, not between tasks: the feature flag's procedure is offered."""
    staging = TaskContext(domain="release", tags=["staging", "hotfix"])
    flag = ["create_flag", "configure_rollout_rule", "deploy_service"]
    release = ["bump_version", "build_wheel", "tag_release", "upload_to_registry"]
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        run_episode(memory, "Roll out dark-mode gradually to 7% of users", flag,
                    context=TaskContext(domain="release", tags=["prod"]))  # fmt: skip
        for version in ("1.2.0", "2.0.1", "3.4.5"):
            run_episode(memory, f"Publish release {version} of lodash for our users", release,
                        context=staging)  # fmt: skip
        task = "Roll out beta-search gradually to 24% of users"
        sequences = [
            s.pattern
            for s in memory.recommend_patterns(task, staging)
            if isinstance(s.pattern, ToolSequence)
        ]
        assert sequences[0].tools == flag


def test_how_far_runs_got_comes_from_the_nearest_runs_in_the_tasks_own_stack(
    tmp_path: Path,
) -> None:
    """Nine go runs are worded exactly like the task and failed at once; the two python
    runs, worded otherwise, failed after two steps. A python task is offered those two
    steps: the nearest runs looked at are the nearest in its own stack, not the python
    ones among the nearest of any stack (there are none)."""
    python = TaskContext(domain="backend", language="python")
    go = TaskContext(domain="backend", language="go")
    task = "Move the billing service onto the latest release of its web framework"
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for _ in range(9):
            run_episode(memory, task, ["go_get"], context=go, fail_at=0, success=False)
        for name in ("django", "flask"):
            run_episode(memory, f"Upgrade {name} in the billing service",
                        ["checkout_branch", "pip_install", "pytest"], context=python,
                        fail_at=2, success=False)  # fmt: skip
        first = memory.recommend_patterns(task, python)[0]
        assert isinstance(first.pattern, ToolSequence)
        assert first.pattern.tools == ["checkout_branch", "pip_install"]
        assert first.signals["partial"] == 1.0


def test_how_far_runs_got_is_no_longer_offered_to_an_agent_that_stops_there(
    tmp_path: Path,
) -> None:
    """An agent that runs the first sequence as the whole task, and nothing after it, only
    repeats the failed runs' steps when offered how far they got. Once two of the nearest
    runs called nothing but the offered steps, the offer is withdrawn; runs that went on
    trying other tools (an agent exploring past the plan) never withdraw it."""
    ctx = TaskContext(domain="backend", language="python")
    task = "Fix the failing scheduler unit test"
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for module in ("parser", "invoice"):
            run_episode(memory, f"Fix the failing {module} unit test",
                        ["run_pytest", "read_file", "run_linter"], context=ctx, fail_at=2,
                        success=False)  # fmt: skip

        def offered() -> list[str] | None:
            first = memory.recommend_patterns(task, ctx)
            partial = [s.pattern for s in first if "partial" in s.signals]
            return partial[0].tools if partial else None  # type: ignore[union-attr]

        assert offered() == ["run_pytest", "read_file"]
        # explorers: they followed the offer, then tried tools it does not hold; one more
        # step worked for them, so the offer now goes that far
        for module in ("session", "billing"):
            run_episode(memory, f"Fix the failing {module} unit test",
                        ["run_pytest", "read_file", "git_blame", "run_mypy"], context=ctx,
                        fail_at=3, success=False)  # fmt: skip
        further = ["run_pytest", "read_file", "git_blame"]
        assert offered() == further
        # one run that did the offered steps and stopped: still offered
        run_episode(memory, "Fix the failing cache unit test", further, context=ctx,
                    success=False)  # fmt: skip
        assert offered() == further
        run_episode(memory, "Fix the failing queue unit test", further, context=ctx,
                    success=False)  # fmt: skip
        assert offered() is None


def test_the_offer_goes_as_far_as_the_furthest_run_that_agrees_with_the_others(
    tmp_path: Path,
) -> None:
    """How far the nearest runs got: the steps they agree on, extended by the run that got
    furthest through them (its later steps worked too). A run that did something else does
    not extend it, however far it got."""
    ctx = TaskContext(domain="backend", language="python")
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for module in ("parser", "invoice", "session"):
            run_episode(memory, f"Fix the failing {module} unit test",
                        ["run_pytest", "read_file", "run_linter"], context=ctx, fail_at=2,
                        success=False)  # fmt: skip
        run_episode(memory, "Fix the failing billing unit test",
                    ["run_pytest", "read_file", "edit_file", "run_mypy"], context=ctx,
                    fail_at=3, success=False)  # fmt: skip
        run_episode(memory, "Fix the failing cache unit test",
                    ["open_ticket", "page_oncall", "write_postmortem", "close_ticket"],
                    context=ctx, fail_at=3, success=False)  # fmt: skip
        first = memory.recommend_patterns("Fix the failing scheduler unit test", ctx)[0]
        assert first.signals["partial"] == 1.0
        assert first.pattern.tools == ["run_pytest", "read_file", "edit_file"]  # type: ignore[union-attr]


def test_the_offer_stops_before_a_step_that_no_longer_works(tmp_path: Path) -> None:
    """How far runs got, when a step that worked in the earlier runs failed in the latest
    one that called it ("410 Gone"): the offer ends before it, since what worked for the
    earlier runs does not now. A call made out of turn (an error many tools raise) says
    nothing about the tool and does not cut the offer."""
    ctx = TaskContext(domain="release")
    steps = ["create_flag", "set_flag_rollout", "deploy_service"]
    task = "Add a feature flag for the {} page"
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for page in ("pricing", "search", "cart"):
            run_episode(memory, task.format(page), steps, context=ctx, fail_at=2,
                        success=False)  # fmt: skip

        def offered() -> list[str]:
            first = memory.recommend_patterns(task.format("checkout"), ctx)[0]
            assert first.signals["partial"] == 1.0
            return first.pattern.tools  # type: ignore[union-attr,no-any-return]

        assert offered() == ["create_flag", "set_flag_rollout"]
        eid = memory.start_episode(task.format("login"), ctx)
        memory.log_step(eid, ExecutionStep(tool="create_flag", observation="created"))
        memory.log_step(eid, ExecutionStep(tool="set_flag_rollout", error="410 Gone: removed"))
        memory.complete_episode(eid, TaskOutcome.failure("could not roll out"))
        assert offered() == ["create_flag"]
        # the latest call is what counts: once it works again, so does the offer
        run_episode(memory, task.format("admin"), steps, context=ctx, fail_at=2, success=False)
        assert offered() == ["create_flag", "set_flag_rollout"]


def test_a_call_out_of_turn_does_not_cut_the_offer(tmp_path: Path) -> None:
    """An error class raised by many tools says the call came out of turn, not that the
    tool stopped working: a latest run that called a step too early keeps it offered."""
    ctx = TaskContext(domain="release")
    steps = ["create_flag", "set_flag_rollout", "deploy_service"]
    task = "Add a feature flag for the {} page"
    others = ["tag_release", "open_ticket", "notify_team", "bump_version", "build_image"]
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for page in ("pricing", "search", "cart"):
            run_episode(memory, task.format(page), steps, context=ctx, fail_at=2,
                        success=False)  # fmt: skip
        # five tools, each called out of turn in three runs: "not applicable now" is the
        # task's state, not a tool's fault
        for n in range(3):
            eid = memory.start_episode(task.format(f"beta {n}"), ctx)
            if n == 0:  # the rollout refused to come first: the flag is needed before it
                memory.log_step(eid, tool="set_flag_rollout", error="not applicable now")
            memory.log_step(eid, ExecutionStep(tool="create_flag", observation="created"))
            for tool in [*others, "set_flag_rollout"]:
                memory.log_step(eid, ExecutionStep(tool=tool, error="not applicable now"))
            memory.complete_episode(eid, TaskOutcome.failure("gave up"))
        first = memory.recommend_patterns(task.format("checkout"), ctx)[0]
        assert first.signals["partial"] == 1.0
        assert first.pattern.tools == ["create_flag", "set_flag_rollout"]  # type: ignore[union-attr]


INFRA = TaskContext(domain="infra", tags=["us"])
LATENCY = ["read_metrics", "read_logs", "scale_service", "ack_alert"]


def _infra_history(memory: SelfLearningMemory) -> str:
    """One successful latency run worded unlike the task that will ask, runs of another
    domain that share its words, and failing runs whose retries became error recoveries
    (patterns that rank high for any task). Returns the latency run's id."""
    latency = run_episode(memory, "Alert: response time of ledger degraded", LATENCY,
                          context=INFRA)  # fmt: skip
    for name in ("Alice", "Bob", "Carla", "Dev"):
        run_episode(memory, f"Users report that {name} is locked out",
                    ["lookup_user", "send_reset_link"], context=TaskContext(domain="accounts"))
        eid = memory.start_episode(f"Sync the {name} mailbox", TaskContext(domain="mail"))
        memory.log_step(eid, tool="fetch_mail", error="connection reset by peer")
        memory.log_step(eid, tool="fetch_mail", observation="fetched")
        memory.complete_episode(eid, TaskOutcome.success("synced"))
    return latency


def test_a_paraphrase_sharing_no_word_gets_the_runs_of_its_stated_context(
    tmp_path: Path,
) -> None:
    """"Users report checkout-api is slow" shares no word with the one latency run of its
    domain, and two words with runs of another domain (whose sequence ranks high): the
    latency run's procedure is offered first, also among at most one; a task of another
    domain is not offered it."""
    task = "Users report checkout-api is slow"
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        _infra_history(memory)
        assert memory.recommend_patterns(task, INFRA, limit=10)[0].pattern.tools == LATENCY
        found = memory.recommend_patterns(task, INFRA, limit=1)
        assert len(found) == 1 and isinstance(found[0].pattern, ToolSequence)
        assert found[0].pattern.tools == LATENCY
        other = memory.recommend_patterns(task, TaskContext(domain="storage"), limit=10)
        assert all(getattr(s.pattern, "tools", None) != LATENCY for s in other)


def test_a_run_that_failed_when_followed_still_votes_until_another_succeeds(
    tmp_path: Path,
) -> None:
    """The only successful run of a task failed for the two runs that copied it. Without
    the offer of how far runs got, it is still offered, as a start, since nothing else is
    known; with it, how far those two runs got comes first instead (following the plan
    again would repeat what failed twice). Once another run succeeds, that run's procedure
    takes its place."""
    task = "Alert: response time of ledger degraded"
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        past = _infra_history(memory)
        # two errors: one met by every run since would say scale_service stopped working
        for error in ("quota exceeded", "capacity unavailable in zone"):
            eid = memory.start_episode(task, INFRA)
            memory.record_feedback(eid, followed_episode_ids=[past])
            memory.log_step(eid, tool="read_metrics", observation="ok")
            memory.log_step(eid, tool="scale_service", error=error)
            memory.complete_episode(eid, TaskOutcome.failure("still slow"))
        first = memory.recommend_patterns(task, INFRA, include_partial=False)[0].pattern
        assert isinstance(first, ToolSequence) and first.tools == LATENCY
        offered = memory.recommend_patterns(task, INFRA)[0]
        assert offered.signals.get("partial") == 1.0
        assert offered.pattern.tools == ["read_metrics"]  # type: ignore[union-attr]
        fixed = ["read_metrics", "request_quota", "scale_service", "ack_alert"]
        run_episode(memory, task, fixed, context=INFRA)
        first = memory.recommend_patterns(task, INFRA)[0].pattern
        assert isinstance(first, ToolSequence) and first.tools == fixed


def test_runs_of_another_domain_do_not_vote_for_a_task_that_states_its_own(
    tmp_path: Path,
) -> None:
    """The only successful run sharing the task's words ("Bob Chen") is an accounts task:
    a billing task is not offered its procedure, neither as the nearest runs' sequence nor
    as how far they got; a billing run, once it succeeds, is offered."""
    accounts, billing = TaskContext(domain="accounts"), TaskContext(domain="billing")
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        run_episode(memory, "Restore account access for Bob Chen",
                    ["lookup_customer", "verify_identity", "send_reset_link"],
                    context=accounts)  # fmt: skip
        task = "Customer Bob Chen requests reimbursement of 89 EUR"
        for partial in (False, True):
            found = memory.recommend_patterns(task, billing, include_partial=partial)
            assert not [s for s in found if isinstance(s.pattern, ToolSequence)]
        refund = ["lookup_customer", "verify_order", "issue_refund"]
        run_episode(memory, "Refund order A-10422 for Carla Diaz", refund, context=billing)
        first = memory.recommend_patterns(task, billing)[0].pattern
        assert isinstance(first, ToolSequence) and first.tools == refund


def test_a_transfer_is_not_replaced_by_the_other_stacks_stored_sequence(tmp_path: Path) -> None:
    """Enough python runs for a learned family sequence (stated language python), and a
    rust run of other work: a rust task of the same kind is offered the python runs'
    procedure as a transfer, whose context states no language, not as the stored python
    sequence, whose context would rule it out for rust."""
    python, rust = TaskContext(domain="backend", language="python"), TaskContext(
        domain="backend", language="rust"
    )
    tools = ["pip_install", "update_lockfile", "run_pytest"]
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for name in ("date", "yaml", "http", "json"):
            run_episode(memory, f"Install a {name} library and wire it into the build", tools,
                        context=python)  # fmt: skip
        run_episode(memory, "Profile the slow endpoint", ["run_profiler", "edit_file"],
                    context=rust)  # fmt: skip
        stored = [p for p in memory.list_patterns(kind="tool_sequence") if p.tools == tools]
        assert stored and stored[0].context.language == "python"
        found = memory.recommend_patterns("Install a toml library and wire it into the build", rust)
        first = next(s.pattern for s in found if isinstance(s.pattern, ToolSequence))
        assert first.key.startswith("transfer:") and first.tools == tools
        assert first.context.language is None


def test_the_nearest_runs_sequence_is_kept_when_limit_cuts_what_ranks_above_it(
    tmp_path: Path,
) -> None:
    """A well-supported recovery outranks the sequence of the task's one similar successful
    run; asked for one recommendation, the agent still gets the sequence (what to do),
    and with room for both it gets both."""
    ctx = TaskContext(domain="infra")
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for port, svc in enumerate(["api", "web", "auth", "billing", "search"]):
            eid = memory.start_episode(f"Migrate the {svc} database schema", ctx)
            memory.log_step(eid, ExecutionStep(tool="migrate",
                                               error=f"connection refused on port {5400 + port}"))
            memory.log_step(eid, tool="start_db", observation="up")
            memory.log_step(eid, tool="migrate", observation="ok")
            memory.log_step(eid, ExecutionStep(tool="verify_schema", error="schema drift"))
            memory.complete_episode(eid, TaskOutcome.failure("drift"))  # fmt: skip
        rotate = ["find_key", "generate_key", "store_key"]
        run_episode(memory, "Rotate the api service credentials", rotate, context=ctx)
        task = "Rotate the search service credentials after the schema migrate"
        both = memory.recommend_patterns(task, ctx, limit=10)
        assert [s.pattern.kind for s in both] == ["error_recovery", "tool_sequence"]
        only = memory.recommend_patterns(task, ctx, limit=1)
        assert len(only) == 1 and getattr(only[0].pattern, "tools", None) == rotate


NODE = TaskContext(domain="ci", language="node")
QUARANTINE = ["rerun_job", "jest", "quarantine_test", "open_pull_request"]


def _quarantines_then_flakes(memory: SelfLearningMemory, then: list[str]) -> None:
    """Four node runs that quarantined a suite (``QUARANTINE``), then two e2e-flake runs
    that took its first two steps, then ``then``, failing at the last of those."""
    for service in ("checkout", "search", "profile", "orders"):
        run_episode(memory, f"Quarantine the unstable {service} browser suite", QUARANTINE,
                    context=NODE)  # fmt: skip
    for service in ("ledger", "payments"):
        run_episode(memory, f"The e2e job on {service} flakes, deal with it",
                    [*QUARANTINE[:2], *then], context=NODE, fail_at=1 + len(then),
                    success=False)  # fmt: skip


def test_a_learned_sequence_that_goes_on_from_where_the_runs_got_comes_first(
    tmp_path: Path,
) -> None:
    """The runs nearest a task all failed after two steps, but a learned sequence of the
    task's stack starts with those steps and is known to work: it is what they were on the
    way to, so it is offered first, not how far they got."""
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        _quarantines_then_flakes(memory, ["request_approval"])
        task = "The e2e job on billing flakes, deal with it"
        first = memory.recommend_patterns(task, NODE)[0]
        assert isinstance(first.pattern, ToolSequence)
        assert first.pattern.tools == QUARANTINE
        assert "partial" not in first.signals
        # where no learned sequence goes on from there, how far the runs got is offered
        other = TaskContext(domain="ci", language="go")
        run_episode(memory, "The e2e job on wallet flakes, deal with it",
                    ["rerun_job", "go_vet", "request_approval"], context=other, fail_at=2,
                    success=False)  # fmt: skip
        offered = memory.recommend_patterns(task, other)[0]
        assert offered.signals.get("partial") == 1.0
        assert offered.pattern.tools == ["rerun_job", "go_vet"]  # type: ignore[union-attr]


def test_runs_that_left_a_learned_sequence_at_their_last_step_are_carried_on_by_it(
    tmp_path: Path,
) -> None:
    """The runs nearest a task took the first two steps of a learned sequence that works,
    then another third step (which worked), and failed: the offer is how far they got, then
    the rest of the learned sequence. Their third step may be what runs like them need (a
    check only their setting asks for); the learned sequence shows how to finish."""
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        _quarantines_then_flakes(memory, ["raise_timeout", "request_approval"])
        first = memory.recommend_patterns("The e2e job on billing flakes, deal with it", NODE)[0]
        assert isinstance(first.pattern, ToolSequence)
        assert first.pattern.tools == [*QUARANTINE[:2], "raise_timeout", *QUARANTINE[2:]]
        assert first.signals.get("partial") == 1.0 and first.signals.get("went_on") == 1.0


def test_a_tag_does_not_pick_another_task_that_shares_only_its_first_and_last_steps(
    tmp_path: Path,
) -> None:
    """A reship and a refund both look the order up and email the customer; between, they
    differ. The reships were all tagged ``us``, the refunds ``eu``, like the task, and the
    refunds worded most like it ("Lena wants a refund") are about as close as the reships.
    The reship is offered: the tag may pick among runs of one task, not another task."""
    reship = ["lookup_order", "check_inventory", "create_shipment", "send_email"]
    refund = ["lookup_order", "verify_payment", "issue_refund", "send_email"]
    us, eu = (TaskContext(domain="support", tags=[tag]) for tag in ("us", "eu"))
    names = ["Ana", "Sven", "Tara", "Omar", "Lena", "Hana", "Ivo", "Mia"]
    wordings = ("{} order {} for {}", "{2} wants a {0} for order {1}", "Process a {} for order {}")
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for n in range(24):
            words = wordings[n % 3]
            run_episode(memory, words.format("reship", 100 + n, names[n % 8]), reship, context=us)
            run_episode(memory, words.format("refund", 200 + n, names[n % 8]), refund, context=eu)
        offered = memory.recommend_patterns("Lena wants a reship for order 999", eu)
        first = next(s.pattern for s in offered if isinstance(s.pattern, ToolSequence))
        assert first.tools == reship


def test_a_passing_error_the_nearest_runs_recovered_from_is_not_a_step_of_the_way(
    tmp_path: Path,
) -> None:
    """The three runs worded most like the task met a permission error at ``query_db`` and
    recovered with ``refresh_credentials``; the family's other runs never needed it. The
    sequence offered is the family's way, and the recovery is served for when the error
    comes."""
    ctx = TaskContext(domain="analytics", language="python")
    way = ["query_db", "aggregate", "render_chart", "send_email"]
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for region in ("EMEA", "APAC", "LATAM", "DACH", "BENELUX", "IBERIA", "ANZ", "GCC"):
            run_episode(memory, f"Build the weekly sales report for {region}", way, context=ctx)
        for n in range(3):
            eid = memory.start_episode("Build the weekly sales report for NORDICS", ctx)
            memory.log_step(eid, tool="query_db", error=f"permission denied for relation t{n}")
            for tool in ("refresh_credentials", *way):
                memory.log_step(eid, tool=tool, observation="ok")
            memory.complete_episode(eid, TaskOutcome.success("sent"))
        (fix,) = memory.list_patterns("error_recovery")
        assert (fix.best_mode, fix.best_recovery) == ("fix", "refresh_credentials")
        offered = memory.recommend_patterns("Build the weekly sales report for NORDICS", ctx)
        first = next(s.pattern for s in offered if isinstance(s.pattern, ToolSequence))
        assert first.tools == way


def test_recommended_patterns_are_copies_the_caller_may_change(tmp_path: Path) -> None:
    """What recommend_patterns returns is the learned record as it is, field for field, and
    shares nothing with it: a caller that edits it (or the learner, learning on) changes
    nothing the other sees."""
    ctx = TaskContext(domain="backend", language="python")
    fix = ["run_pytest", "read_file", "edit_file", "run_pytest"]
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for module in ("parser", "invoice", "session", "billing"):
            run_episode(memory, f"Fix the failing {module} unit test", fix, context=ctx)
        task = "Fix the failing scheduler unit test"
        stored = {p.id: p for p in memory.list_patterns(include_unserved=True, limit=100)}
        found = memory.recommend_patterns(task, ctx, limit=10)
        family = next(s.pattern for s in found if isinstance(s.pattern, ToolSequence)
                      and s.pattern.key.startswith("family:"))  # fmt: skip
        assert family == stored[family.id]
        family.tools.append("rm_rf")
        family.terms.clear()
        family.tool_stats["run_pytest"].n = 0
        family.context.tags.append("edited")
        again = next(s.pattern for s in memory.recommend_patterns(task, ctx, limit=10)
                     if s.pattern.id == family.id)  # fmt: skip
        assert again == stored[family.id] != family
        assert again.tools == fix
