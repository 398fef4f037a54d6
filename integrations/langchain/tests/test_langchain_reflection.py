"""ChatModelReflector: reflections from a chat model, the deterministic one as fallback."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_selfmem import ChatModelReflector
from langchain_selfmem.reflection import episode_prompt, parse_reflection

from selfmem import ExecutionStep, Reflection, SelfLearningMemory, TaskOutcome

ANSWER = {
    "what_worked": ["run_tests then edit_file found the bug"],
    "what_failed": ["the first test run failed with 401"],
    "improvements": [],
    "insights": "a single insight as a string",
    "recommendations": ["compare digests with hmac"],
}


def record(memory: SelfLearningMemory) -> str:
    eid = memory.start_episode("Fix the login test", {"domain": "web"})
    memory.log_step(eid, ExecutionStep(tool="run_tests", error="1 failed: 401"))
    memory.log_step(eid, ExecutionStep(tool="edit_file", parameters={"path": "auth.py"}))
    memory.log_step(eid, ExecutionStep(tool="run_tests", observation="1 passed"))
    memory.complete_episode(eid, TaskOutcome.success("passes"))
    return eid


def test_the_models_reflection_is_stored(tmp_path: Path) -> None:
    model = FakeListChatModel(responses=["```json\n" + json.dumps(ANSWER) + "\n```"])
    with SelfLearningMemory.open(tmp_path, reflector=ChatModelReflector(model)) as memory:
        reflection = memory.get_episode(record(memory)).reflection

    assert reflection is not None
    assert reflection.generated_by == "langchain:fake-list-chat-model"
    assert reflection.what_worked == ANSWER["what_worked"]
    assert reflection.insights == ["a single insight as a string"]
    assert reflection.recommendations == ["compare digests with hmac"]
    assert reflection.improvements == []  # the model gave none; so did the fallback


@pytest.mark.parametrize("answer", ["I think it went well.", "[1, 2]", "{not json"])
def test_an_unreadable_answer_falls_back(
    tmp_path: Path, answer: str, caplog: pytest.LogCaptureFixture
) -> None:
    model = FakeListChatModel(responses=[answer])
    with (
        caplog.at_level(logging.WARNING, logger="langchain_selfmem"),
        SelfLearningMemory.open(tmp_path, reflector=ChatModelReflector(model)) as memory,
    ):
        reflection = memory.get_episode(record(memory)).reflection
    assert reflection is not None and reflection.generated_by == "deterministic"
    assert reflection.what_failed  # the deterministic reflection saw the failed step
    assert any("reflection failed" in r.getMessage() for r in caplog.records)


def test_a_failing_model_falls_back(tmp_path: Path) -> None:
    class Broken(FakeListChatModel):
        def invoke(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            raise TimeoutError("provider timed out")

    with SelfLearningMemory.open(tmp_path, reflector=ChatModelReflector(Broken(responses=[]))) as m:
        reflection = m.get_episode(record(m)).reflection
    assert reflection is not None and reflection.generated_by == "deterministic"


def test_the_prompt_shows_steps_outcome_and_patterns(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path) as memory:
        episode = memory.get_episode(record(memory))
    prompt = episode_prompt(episode, [], max_steps=2)
    assert prompt.splitlines()[0] == "Task: Fix the login test"
    assert "Outcome: success: passes" in prompt
    assert "- run_tests({}) -> error: 1 failed: 401" in prompt
    assert '- edit_file({"path": "auth.py"})' in prompt
    assert "- ... 1 more steps" in prompt


def test_parse_fills_missing_lists_from_the_fallback() -> None:
    fallback = Reflection(what_failed=["x failed"], recommendations=["try y"])
    parsed = parse_reflection('{"what_worked": ["a"]}', fallback, "langchain:test")
    assert parsed.what_worked == ["a"]
    assert parsed.what_failed == ["x failed"] and parsed.recommendations == ["try y"]
    assert parsed.generated_by == "langchain:test"
