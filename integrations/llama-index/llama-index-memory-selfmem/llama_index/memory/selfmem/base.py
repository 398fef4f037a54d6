"""``SelfMemMemoryBlock``: selfmem as a long-term block of ``llama_index.core.memory.Memory``.

Reading (``aget``): the experience relevant to the current conversation (past episodes that
worked or failed, learned tool sequences and rules), rendered for the prompt.

Writing (``aput``, only with ``record=True``): ``Memory`` hands a block the messages it
flushes out of short-term memory. Each user message starts an episode; the assistant's tool
calls and the tool results become its steps; the final answer completes it, with an outcome
decided by the judge. Messages arrive only once the chat history outgrows ``token_limit``,
so by default the block only reads and
:class:`~llama_index.memory.selfmem.SelfMemRecorder` records agent runs as they happen. If
both record into the same memory, the recorder's episodes are kept and the block's skipped
(logged once), so no run is recorded twice.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any

import pydantic
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.memory.memory import BaseMemoryBlock
from llama_index.memory.selfmem.conversation import (
    Answer,
    Event,
    ToolCalled,
    ToolReturned,
    UserTurn,
    message_events,
)
from llama_index.memory.selfmem.recorder import recording
from llama_index.memory.selfmem.runs import EpisodeWriter, OutcomeJudge, RunRecord, make_step

from selfmem import InvalidInputError, RetrievalResult, SelfLearningMemory, TaskContext, TaskType
from selfmem.memory.options import check_context, check_memory, check_task_type

__all__ = ["SelfMemMemoryBlock"]

logger = logging.getLogger(__name__)

_DEFAULT_SESSION = "default"


@dataclass
class _Turn:
    run: RunRecord
    pending: dict[str, ToolCalled] = field(default_factory=dict)


class SelfMemMemoryBlock(BaseMemoryBlock[str]):
    """Relevant past experience in; with ``record=True``, flushed turns out as episodes.

    ``memory`` (first argument, positional or keyword): an open
    :class:`selfmem.SelfLearningMemory` (the caller owns and closes it).
    ``context`` / ``task_type``: the task's context, used to rank experience and stored with
    recorded episodes. ``similarity_top_k``: episodes and patterns retrieved (``limit`` is
    its deprecated name). ``max_tokens``: budget of the rendered text. ``query_messages``:
    how many of the latest user messages form the query. ``record``: turn flushed messages
    into episodes (default False: the recorder records runs exactly and at once).
    ``judge``: decides each recorded turn's outcome (default
    :func:`~llama_index.memory.selfmem.runs.default_judge`). A wrong option raises
    :class:`selfmem.InvalidInputError` here, naming it.
    """

    name: str = Field(default="past_experience", description="The name of the memory block.")
    description: str | None = Field(
        default="What worked and what failed in similar past tasks (selfmem).",
        description="A description of the memory block.",
    )
    memory: SelfLearningMemory = Field(exclude=True, description="The selfmem memory.")
    context: TaskContext | None = Field(default=None, description="The task's context.")
    task_type: TaskType | str | None = Field(default=None, description="The task's type.")
    similarity_top_k: int = Field(
        default=5, ge=1, le=100, description="Episodes and patterns retrieved."
    )
    max_tokens: int = Field(default=400, ge=20, description="Token budget of the rendering.")
    query_messages: int = Field(default=1, ge=1, description="User messages in the query.")
    record: bool = Field(default=False, strict=True, description="Record flushed turns.")
    judge: OutcomeJudge | None = Field(default=None, exclude=True, description="Outcome judge.")

    _writer: EpisodeWriter = PrivateAttr()
    _turns: dict[str, _Turn] = PrivateAttr(default_factory=dict)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _told: bool = PrivateAttr(default=False)

    def __init__(self, memory: SelfLearningMemory | None = None, /, **data: Any) -> None:
        if memory is not None:
            if "memory" in data:
                raise InvalidInputError("memory given twice", field="memory")
            data["memory"] = memory
        if "limit" in data:
            warnings.warn(
                "SelfMemMemoryBlock(limit=...) is deprecated; use similarity_top_k=...",
                DeprecationWarning,
                stacklevel=2,
            )
            data.setdefault("similarity_top_k", data.pop("limit"))
        data["memory"] = check_memory(data.get("memory"))
        data["context"] = check_context(data.get("context"))
        if data.get("task_type") is not None:
            data["task_type"] = check_task_type(data["task_type"])
        try:
            super().__init__(**data)
        except pydantic.ValidationError as exc:
            error = exc.errors()[0]
            option = ".".join(str(part) for part in error["loc"]) or "options"
            raise InvalidInputError(f"{option}: {error['msg']}", field=option) from None

    def model_post_init(self, context: Any, /) -> None:
        """Set up the episode writer; ``memory.flush()`` / ``close()`` write what it holds."""
        self._writer = EpisodeWriter(
            self.memory,
            context=self.context,
            task_type=self.task_type or TaskType.OTHER,
            judge=self.judge,
        )
        self.memory.register_flusher(self._write_held)

    def _write_held(self) -> None:
        """Write steps and turns that could not be written yet (open turns stay open)."""
        with self._lock:
            self._writer.flush()

    @property
    def limit(self) -> int:
        """Deprecated name of :attr:`similarity_top_k`."""
        warnings.warn("SelfMemMemoryBlock.limit is deprecated; use similarity_top_k",
                      DeprecationWarning, stacklevel=2)  # fmt: skip
        return self.similarity_top_k

    # -- reading ------------------------------------------------------------------------------

    def query_for(self, messages: list[ChatMessage] | None) -> str:
        """The retrieval query for a conversation: its latest user messages."""
        texts = [m.content for m in messages or [] if m.role == MessageRole.USER and m.content][
            -self.query_messages :
        ]
        return "\n".join(texts)

    async def _aget(self, messages: list[ChatMessage] | None = None, **block_kwargs: Any) -> str:
        query = self.query_for(messages)
        if not query.strip():
            return ""
        try:
            result: RetrievalResult = await self.memory.aretrieve_relevant_context(
                query, self.context, self.similarity_top_k, task_type=self.task_type
            )
        except Exception:
            logger.warning("selfmem: retrieval failed for %r", query[:80], exc_info=True)
            return ""
        return result.render(max_tokens=self.max_tokens)

    async def atruncate(self, content: str, tokens_to_truncate: int) -> str | None:
        """Drop the least relevant lines (the last ones) until about enough tokens are freed."""
        lines = content.splitlines()
        freed = 0
        while lines and freed < tokens_to_truncate:
            freed += (len(lines.pop()) + 4) // 4
        while lines and lines[-1].endswith(":"):
            lines.pop()
        return "\n".join(lines) if len(lines) > 1 else None

    # -- writing ------------------------------------------------------------------------------

    async def _aput(self, messages: list[ChatMessage]) -> None:
        if not self.record or not messages:
            return
        if recording(self.memory):  # the recorder has these runs already, exactly
            if not self._told:
                self._told = True
                logger.warning(
                    "selfmem: a SelfMemRecorder records the agent runs into this memory, so "
                    "this block (record=True) does not record them again; pass record=False"
                )
            return
        await asyncio.to_thread(self.record_messages, messages)

    def record_messages(self, messages: list[ChatMessage]) -> None:
        """Turn messages (oldest first) into episode steps, per ``session_id``."""
        with self._lock:
            for message in messages:
                session = str(message.additional_kwargs.get("session_id") or _DEFAULT_SESSION)
                for event in message_events(message):
                    self._apply(session, event)

    def _apply(self, session: str, event: Event) -> None:
        if isinstance(event, UserTurn):
            self._finish(session)
            run = self._writer.start(event.text, {"source": "llama_index", "session": session})
            self._turns[session] = _Turn(run)
            return
        turn = self._turns.get(session)
        if turn is None:
            run = self._writer.start(
                "conversation turn", {"source": "llama_index", "session": session}
            )
            turn = self._turns[session] = _Turn(run)
        if isinstance(event, ToolCalled):
            if event.complete:
                self._step(turn, event.tool, event.parameters, event.observation, None)
            else:
                turn.pending[event.call_id] = event
        elif isinstance(event, ToolReturned):
            call = turn.pending.pop(event.call_id, None)
            tool = call.tool if call else event.tool or "unknown_tool"
            error = (event.content or "tool error") if event.is_error else None
            self._step(turn, tool, call.parameters if call else {}, event.content, error)
        elif isinstance(event, Answer):
            turn.run.answer = event.text
            self._finish(session)

    def _step(
        self,
        turn: _Turn,
        tool: str,
        parameters: dict[str, Any],
        observation: str | None,
        error: str | None,
    ) -> None:
        step = make_step(self.memory, tool, parameters, observation=observation, error=error)
        self._writer.add_step(turn.run, step)

    def _finish(self, session: str) -> None:
        turn = self._turns.pop(session, None)
        if turn is None:
            return
        for call in turn.pending.values():  # calls whose result never came
            self._step(turn, call.tool, call.parameters, None, "no result was recorded")
        self._writer.finish(turn.run)

    async def aflush(self) -> None:
        """Complete every turn still open (e.g. at the end of a session)."""
        await asyncio.to_thread(self.flush)

    def flush(self) -> None:
        """Complete every turn still open."""
        with self._lock:
            for session in list(self._turns):
                self._finish(session)
