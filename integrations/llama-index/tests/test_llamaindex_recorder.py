"""SelfMemRecorder: real FunctionAgent / ReActAgent runs, driven by scripted mock LLMs."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import pytest
from llama_index.core.agent.workflow import AgentWorkflow, FunctionAgent, ReActAgent
from llama_index.core.tools import FunctionTool
from llama_index.memory.selfmem import RunRecord, SelfMemRecorder
from llamaindex_helpers import ScriptedLLM, add, answer, call, react_llm, tools
from workflows.errors import WorkflowRuntimeError

from selfmem import (
    Episode,
    ExecutionStep,
    OutcomeStatus,
    SelfLearningMemory,
    StorageError,
    TaskContext,
    TaskOutcome,
)


def episodes(recorder: SelfMemRecorder) -> list[Episode]:
    return [recorder.memory.get_episode(eid) for eid in recorder.episode_ids]


async def test_function_agent_tool_calls_are_recorded_exactly(recorder: SelfMemRecorder) -> None:
    llm = ScriptedLLM([call("add", a=2, b=3), call("lookup", city="Oslo"), answer("5, sunny")])
    agent = FunctionAgent(tools=tools(), llm=llm)

    result = await agent.run(user_msg="Add 2 and 3, then check Oslo")

    assert str(result) == "5, sunny"
    [episode] = episodes(recorder)
    assert episode.task_description == "Add 2 and 3, then check Oslo"
    assert [(s.tool, s.parameters, s.observation, s.success) for s in episode.steps] == [
        ("add", {"a": 2, "b": 3}, "5", True),
        ("lookup", {"city": "Oslo"}, "sunny in Oslo", True),
    ]
    assert all(s.latency_ms >= 5 for s in episode.steps)  # both tools sleep 5 ms
    assert [s.step_number for s in episode.steps] == [1, 2]
    assert episode.outcome == TaskOutcome.success("5, sunny")
    assert episode.metadata == {
        "source": "llama_index",
        "agent": "Agent",
        "agent_class": "FunctionAgent",
    }


async def test_a_raising_tool_is_a_failed_step(recorder: SelfMemRecorder) -> None:
    llm = ScriptedLLM([call("explode", reason="disk full"), call("add", a=1, b=1), answer("2")])
    agent = FunctionAgent(tools=tools(), llm=llm)

    assert str(await agent.run(user_msg="Try the risky tool")) == "2"

    [episode] = episodes(recorder)
    failed, passed = episode.steps
    assert (failed.tool, failed.parameters, failed.success) == (
        "explode",
        {"reason": "disk full"},
        False,
    )
    assert failed.error == "RuntimeError: exploded: disk full"
    assert failed.observation is None
    assert (passed.tool, passed.success) == ("add", True)
    assert episode.outcome is not None
    assert episode.outcome.status is OutcomeStatus.PARTIAL_SUCCESS
    assert episode.outcome.failed == ["explode"] and episode.outcome.completed == ["add"]
    # the agent saw the error as the tool's result, as without the recorder
    assert "exploded: disk full" in str(llm.prompts[1][-1].content)


async def test_a_run_that_raises_is_a_failed_episode_and_the_error_is_unchanged(
    recorder: SelfMemRecorder,
) -> None:
    llm = ScriptedLLM([call("add", a=1, b=2)] * 5)
    agent = FunctionAgent(tools=tools(), llm=llm)

    with pytest.raises(WorkflowRuntimeError, match="Max iterations of 2 reached"):
        await agent.run(user_msg="loop forever", max_iterations=2)

    [episode] = episodes(recorder)
    assert [s.tool for s in episode.steps] == ["add"]  # the second turn stops before its call
    assert episode.outcome is not None and episode.outcome.status is OutcomeStatus.FAILURE
    assert episode.outcome.reason is not None
    assert episode.outcome.reason.startswith("WorkflowRuntimeError: Max iterations of 2")


async def test_an_llm_error_fails_the_episode(recorder: SelfMemRecorder) -> None:
    llm = ScriptedLLM([call("add", a=1, b=1), ConnectionError("LLM unreachable")])
    agent = FunctionAgent(tools=tools(), llm=llm)

    with pytest.raises(ConnectionError, match="LLM unreachable"):
        await agent.run(user_msg="say something")

    [episode] = episodes(recorder)
    assert [s.tool for s in episode.steps] == ["add"]
    assert episode.outcome is not None
    assert episode.outcome.reason == "ConnectionError: LLM unreachable"


async def test_react_agent_tool_calls_are_recorded_exactly(recorder: SelfMemRecorder) -> None:
    llm = react_llm(
        'Thought: I need to add.\nAction: add\nAction Input: {"a": 20, "b": 22}',
        'Thought: Now the weather.\nAction: lookup\nAction Input: {"city": "Rome"}',
        "Thought: I can answer without using any more tools.\nAnswer: 42 and sunny",
    )
    agent = ReActAgent(tools=tools(), llm=llm)

    assert str(await agent.run(user_msg="What is 20 + 22, and the weather in Rome?")) == (
        "42 and sunny"
    )

    [episode] = episodes(recorder)
    assert episode.metadata["agent_class"] == "ReActAgent"
    assert [(s.tool, s.parameters, s.observation) for s in episode.steps] == [
        ("add", {"a": 20, "b": 22}, "42"),
        ("lookup", {"city": "Rome"}, "sunny in Rome"),
    ]
    assert episode.outcome == TaskOutcome.success("42 and sunny")


async def test_react_agent_raising_tool(recorder: SelfMemRecorder) -> None:
    llm = react_llm(
        'Thought: Try it.\nAction: explode\nAction Input: {"reason": "no network"}',
        "Thought: I cannot do it.\nAnswer: it failed",
    )
    await ReActAgent(tools=tools(), llm=llm).run(user_msg="use the risky tool")

    [episode] = episodes(recorder)
    [step] = episode.steps
    assert (step.tool, step.success, step.error) == (
        "explode",
        False,
        "RuntimeError: exploded: no network",
    )


async def test_concurrent_runs_are_kept_apart(recorder: SelfMemRecorder) -> None:
    def agent(n: int) -> FunctionAgent:
        script = [call("add", a=n, b=n), call("lookup", city=f"city{n}"), answer(f"done {n}")]
        return FunctionAgent(tools=tools(), llm=ScriptedLLM(script))

    results = await asyncio.gather(*(agent(n).run(user_msg=f"task {n}") for n in range(5)))

    assert [str(r) for r in results] == [f"done {n}" for n in range(5)]
    by_task = {e.task_description: e for e in episodes(recorder)}
    assert sorted(by_task) == [f"task {n}" for n in range(5)]
    for n in range(5):
        steps = by_task[f"task {n}"].steps
        assert [(s.tool, s.parameters) for s in steps] == [
            ("add", {"a": n, "b": n}),
            ("lookup", {"city": f"city{n}"}),
        ]
        assert [s.observation for s in steps] == [str(2 * n), f"sunny in city{n}"]


def test_runs_in_threads_are_kept_apart(recorder: SelfMemRecorder) -> None:
    answers: dict[int, str] = {}

    def work(n: int) -> None:
        script = [call("add", a=n, b=1), answer(f"thread {n}")]
        agent = FunctionAgent(tools=tools(), llm=ScriptedLLM(script))

        async def run() -> str:
            return str(await agent.run(user_msg=f"thread task {n}"))

        answers[n] = asyncio.run(run())

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == {n: f"thread {n}" for n in range(4)}
    by_task = {e.task_description: e for e in episodes(recorder)}
    for n in range(4):
        [step] = by_task[f"thread task {n}"].steps
        assert (step.parameters, step.observation) == ({"a": n, "b": 1}, str(n + 1))


async def test_an_agent_workflow_run_is_one_episode(recorder: SelfMemRecorder) -> None:
    llm = ScriptedLLM([call("add", a=4, b=4), answer("8")])
    workflow = AgentWorkflow(
        agents=[FunctionAgent(name="calc", description="adds", tools=tools(), llm=llm)]
    )

    assert str(await workflow.run(user_msg="4 + 4")) == "8"

    [episode] = episodes(recorder)
    assert episode.metadata["agent_class"] == "AgentWorkflow"
    assert [s.tool for s in episode.steps] == ["add"]


async def test_a_custom_judge_decides_the_outcome(memory: SelfLearningMemory) -> None:
    def judge(run: RunRecord) -> TaskOutcome:
        if run.answer and "42" in run.answer:
            return TaskOutcome.success("right answer")
        return TaskOutcome.failure("wrong answer")

    context = TaskContext(domain="math")
    with SelfMemRecorder(memory, context=context, task_type="analysis", judge=judge) as recorder:
        await FunctionAgent(tools=tools(), llm=ScriptedLLM([answer("41")])).run(user_msg="6*7")
        await FunctionAgent(tools=tools(), llm=ScriptedLLM([answer("42")])).run(user_msg="6*7")

    first, second = episodes(recorder)
    assert first.outcome == TaskOutcome.failure("wrong answer")
    assert second.outcome == TaskOutcome.success("right answer")
    assert second.context.domain == "math" and second.task_type.value == "analysis"


async def test_a_failing_judge_falls_back_to_the_default(
    memory: SelfLearningMemory, caplog: pytest.LogCaptureFixture
) -> None:
    def judge(run: RunRecord) -> TaskOutcome:
        raise ValueError("bad judge")

    with SelfMemRecorder(memory, judge=judge) as recorder:
        await FunctionAgent(tools=tools(), llm=ScriptedLLM([answer("ok")])).run(user_msg="hi")

    [episode] = episodes(recorder)
    assert episode.outcome == TaskOutcome.success("ok")
    assert "outcome judge failed" in caplog.text


async def test_detached_and_outside_agents_nothing_is_recorded(memory: SelfLearningMemory) -> None:
    recorder = SelfMemRecorder(memory).attach()
    FunctionTool.from_defaults(add).call(a=1, b=2)  # a tool called outside any agent run
    await FunctionTool.from_defaults(add).acall(a=1, b=2)
    recorder.detach()
    await FunctionAgent(tools=tools(), llm=ScriptedLLM([answer("x")])).run(user_msg="hi")

    assert recorder.episode_ids == []
    assert memory.stats().episodes == 0
    recorder.detach()  # idempotent


class FlakyMemory(SelfLearningMemory):
    """A real memory whose next ``complete_episode`` fails once, as a dropped connection would."""

    fail_next = False
    fail_log_next = False

    def log_step(self, episode_id: str, step: object = None, **fields: object) -> ExecutionStep:
        if self.fail_log_next:
            self.fail_log_next = False
            raise StorageError("connection lost")
        return super().log_step(episode_id, step, **fields)  # type: ignore[arg-type]

    def complete_episode(
        self, episode_id: str, outcome: TaskOutcome | dict[str, object]
    ) -> Episode:
        if self.fail_next:
            self.fail_next = False
            raise StorageError("connection lost")
        return super().complete_episode(episode_id, outcome)


async def test_a_failing_memory_never_breaks_the_agent_and_keeps_the_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with FlakyMemory.open(tmp_path / "flaky", learn_inline=True) as memory:
        assert isinstance(memory, FlakyMemory)  # open() builds the class it is called on
        memory.fail_next = True
        with SelfMemRecorder(memory) as recorder:
            llm = ScriptedLLM([call("add", a=1, b=2), answer("3")])
            assert str(await FunctionAgent(tools=tools(), llm=llm).run(user_msg="1+2")) == "3"

            assert recorder.episode_ids == []
            [unsaved] = recorder.unsaved
            assert [s.tool for s in unsaved.steps] == ["add"] and unsaved.answer == "3"
            assert "could not complete episode" in caplog.text

            assert recorder.retry_unsaved() == 1
            [episode] = episodes(recorder)
            assert episode.outcome == TaskOutcome.success("3") and len(episode.steps) == 1
            assert recorder.unsaved == []


async def test_a_closed_memory_never_breaks_the_agent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    memory = SelfLearningMemory.open(tmp_path / "closed")
    memory.close()
    with SelfMemRecorder(memory) as recorder:
        llm = ScriptedLLM([call("explode", reason="x"), call("add", a=1, b=2), answer("3")])
        assert str(await FunctionAgent(tools=tools(), llm=llm).run(user_msg="1+2")) == "3"

    [run] = recorder.unsaved
    assert [s.tool for s in run.steps] == ["explode", "add"]
    assert "could not start an episode" in caplog.text


def test_attach_is_idempotent(memory: SelfLearningMemory) -> None:
    from llama_index_instrumentation import get_dispatcher

    dispatcher = get_dispatcher()
    recorder = SelfMemRecorder(memory)
    recorder.attach()
    recorder.attach()
    assert sum(h is recorder for h in dispatcher.span_handlers) == 1
    recorder.detach()
    assert not any(h is recorder for h in dispatcher.span_handlers)
    assert SelfMemRecorder.class_name() == "SelfMemRecorder"


async def test_an_agent_inside_a_tool_is_its_own_episode(recorder: SelfMemRecorder) -> None:
    async def ask_expert(question: str) -> str:
        """Ask the expert agent."""
        inner = FunctionAgent(tools=tools(), llm=ScriptedLLM([call("add", a=6, b=7), answer("13")]))
        return str(await inner.run(user_msg=question))

    outer_llm = ScriptedLLM([call("ask_expert", question="6 + 7?"), answer("the expert says 13")])
    outer = FunctionAgent(tools=[FunctionTool.from_defaults(ask_expert)], llm=outer_llm)

    assert str(await outer.run(user_msg="What is 6 + 7? Ask the expert.")) == "the expert says 13"

    by_task = {e.task_description: e for e in episodes(recorder)}
    inner_steps = by_task["6 + 7?"].steps
    outer_steps = by_task["What is 6 + 7? Ask the expert."].steps
    assert [(s.tool, s.observation) for s in inner_steps] == [("add", "13")]
    assert [(s.tool, s.parameters, s.observation) for s in outer_steps] == [
        ("ask_expert", {"question": "6 + 7?"}, "13")
    ]


async def test_a_tool_calling_a_tool_is_one_step(recorder: SelfMemRecorder) -> None:
    adder = FunctionTool.from_defaults(add)

    async def add_twice(a: int) -> int:
        """Add a number to itself, twice."""
        once = await adder.acall(a=a, b=a)
        return int((await adder.acall(a=int(str(once)), b=a)).raw_output)

    llm = ScriptedLLM([call("add_twice", a=2), answer("6")])
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(add_twice)], llm=llm)
    await agent.run(user_msg="2 three times")

    [episode] = episodes(recorder)
    assert [(s.tool, s.observation) for s in episode.steps] == [("add_twice", "6")]


async def test_a_step_that_failed_to_write_is_written_with_the_next(tmp_path: Path) -> None:
    with FlakyMemory.open(tmp_path / "flaky", learn_inline=True) as memory:
        assert isinstance(memory, FlakyMemory)
        memory.fail_log_next = True
        with SelfMemRecorder(memory) as recorder:
            llm = ScriptedLLM([call("add", a=1, b=2), call("add", a=3, b=4), answer("done")])
            await FunctionAgent(tools=tools(), llm=llm).run(user_msg="two sums")

        [episode] = episodes(recorder)
        assert [s.observation for s in episode.steps] == ["3", "7"]
        assert [s.step_number for s in episode.steps] == [1, 2]


async def test_the_task_falls_back_to_the_chat_history(recorder: SelfMemRecorder) -> None:
    from llama_index.core.base.llms.types import ChatMessage

    history = [
        ChatMessage(role="user", content="earlier question"),
        ChatMessage(role="assistant", content="earlier answer"),
    ]
    agent = FunctionAgent(tools=tools(), llm=ScriptedLLM([answer("ok")]))
    await agent.run(chat_history=history)

    [episode] = episodes(recorder)
    assert episode.task_description == "earlier question"
