"""The pieces under the handlers: reading LangChain inputs and outputs, the writer, and the
callback boundary that keeps every failure away from the agent."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, Generation, LLMResult
from langchain_core.prompts import PromptTemplate
from langchain_selfmem import AsyncSelfMemCallbackHandler, SelfMemCallbackHandler
from langchain_selfmem._recorder import usage_of
from langchain_selfmem._text import final_text, task_text, tool_output, tool_parameters
from langchain_selfmem._writer import Writer

from selfmem import SelfLearningMemory


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ("plain text", "plain text"),
        (HumanMessage(content="a message"), "a message"),
        ({"messages": [("system", "s"), ("user", "from a tuple")]}, "from a tuple"),
        ({"messages": [{"role": "user", "content": "from a dict"}]}, "from a dict"),
        ({"messages": [HumanMessage(content=[{"type": "text", "text": "blocks"}, "!"])]},
         "blocks!"),
        ({"messages": ["bare string"]}, "bare string"),
        ({"question": "the question", "k": 3}, "the question"),
        ({"payload": {"input": "nested"}}, "nested"),
        ([AIMessage(content="no"), HumanMessage(content="last human")], "last human"),
        ({"a": 1, "b": [2]}, '{"a": 1, "b": [2]}'),
        (42, "42"),
    ],
)
def test_task_text_reads_every_input_form(inputs: Any, expected: str) -> None:
    assert task_text(inputs) == expected


def test_final_text_and_tool_output_forms() -> None:
    assert final_text({"messages": [HumanMessage(content="q"), AIMessage(content="a")]}) == "a"
    assert final_text({"output": "the output"}) == "the output"
    assert final_text(AIMessage(content="msg")) == "msg"
    assert final_text("x" * 500) == "x" * 300
    assert final_text(None) == ""
    assert tool_output(ToolMessage(content="ok", tool_call_id="c")) == ("ok", None)
    failed = ToolMessage(content="bad input", tool_call_id="c", status="error")
    assert tool_output(failed) == ("bad input", "bad input")
    assert tool_output(AIMessage(content="m")) == ("m", None)
    assert tool_output({"rows": 3}) == ('{"rows": 3}', None)
    assert tool_parameters('{"a": 1}', None) == {"a": 1}
    assert tool_parameters("[1, 2]", None) == {"input": [1, 2]}
    assert tool_parameters("not json", None) == {"input": "not json"}
    assert tool_parameters("", {"when": object}) == {"when": str(object)}


def test_usage_reads_message_metadata_or_llm_output() -> None:
    message = AIMessage(content="", tool_calls=[{"name": "t", "args": {}, "id": "c1"}],
                        usage_metadata={"input_tokens": 5, "output_tokens": 2,
                                        "total_tokens": 7})  # fmt: skip
    assert usage_of(LLMResult(generations=[[ChatGeneration(message=message)]])) == (7, ["c1"])
    legacy = LLMResult(generations=[[Generation(text="x")]],
                       llm_output={"token_usage": {"total_tokens": 11}})  # fmt: skip
    assert usage_of(legacy) == (11, [])


def test_a_completion_model_chain_is_recorded(memory: SelfLearningMemory) -> None:
    handler = SelfMemCallbackHandler(memory)
    chain = PromptTemplate.from_template("Say {word}") | FakeListLLM(responses=["hello"])
    assert chain.invoke({"word": "hi"}, config={"callbacks": [handler]}) == "hello"
    handler.flush()
    (episode,) = memory.list_episodes()
    assert episode.task_description == "hi"  # a single input is the task
    assert episode.outcome is not None and episode.outcome.verdict == "hello"


def test_the_writer_runs_jobs_in_order_and_survives_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = Writer("test-writer")
    assert writer.flush()  # nothing started yet
    done: list[int] = []

    def boom() -> None:
        raise RuntimeError("job failed")

    with caplog.at_level(logging.WARNING, logger="langchain_selfmem"):
        writer.submit(lambda: done.append(1))
        writer.submit(boom)
        writer.submit(lambda: done.append(2))
        assert writer.flush(timeout=5)
    assert done == [1, 2]
    assert any("could not record" in r.getMessage() for r in caplog.records)
    writer.stop()
    writer.stop()  # idempotent
    writer.submit(lambda: done.append(3))  # starts again
    assert writer.flush(timeout=5) and done == [1, 2, 3]
    writer.stop()


class _Broken:
    """A tracker whose every method fails."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"{name} broke")

        return fail


EVENTS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("on_chain_start", ({}, {"input": "x"}), {}),
    ("on_chain_end", ({},), {}),
    ("on_chain_error", (ValueError("e"),), {}),
    ("on_tool_start", ({"name": "t"}, "{}"), {"inputs": {}}),
    ("on_tool_end", ("out",), {}),
    ("on_tool_error", (ValueError("e"),), {}),
    ("on_chat_model_start", ({}, [[HumanMessage(content="hi")]]), {}),
    ("on_llm_start", ({}, ["hi"]), {}),
    ("on_llm_end", (LLMResult(generations=[]),), {}),
    ("on_llm_error", (ValueError("e"),), {}),
]


def test_no_callback_ever_raises(
    memory: SelfLearningMemory, caplog: pytest.LogCaptureFixture
) -> None:
    handler = SelfMemCallbackHandler(memory)
    handler._tracker = _Broken()  # type: ignore[assignment]
    with caplog.at_level(logging.WARNING, logger="langchain_selfmem"):
        for name, args, kwargs in EVENTS:
            getattr(handler, name)(*args, run_id=uuid.uuid4(), parent_run_id=uuid.uuid4(),
                                   **kwargs)  # fmt: skip
    assert len([r for r in caplog.records if "could not record" in r.getMessage()]) == len(EVENTS)


async def test_no_async_callback_ever_raises(
    memory: SelfLearningMemory, caplog: pytest.LogCaptureFixture
) -> None:
    handler = AsyncSelfMemCallbackHandler(memory, background=False)
    handler._tracker = _Broken()  # type: ignore[assignment]
    with caplog.at_level(logging.WARNING, logger="langchain_selfmem"):
        for name, args, kwargs in EVENTS:
            await getattr(handler, name)(*args, run_id=uuid.uuid4(), parent_run_id=None,
                                         **kwargs)  # fmt: skip
        await handler._adispatch(lambda: 1 / 0)  # type: ignore[func-returns-value]
    failures = [r for r in caplog.records if "could not record" in r.getMessage()]
    assert len(failures) == len(EVENTS) + 1
