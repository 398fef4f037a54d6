"""``SelfMemRetriever``: past episodes, learned patterns, heuristics and lessons as
``Document``s, and as a tool an agent can call (:meth:`SelfMemRetriever.as_tool`)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import pydantic
from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.prompts import PromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import BaseTool, create_retriever_tool
from pydantic import ConfigDict, Field, field_validator

from selfmem import (
    InvalidInputError,
    Item,
    RetrievalResult,
    SelfLearningMemory,
    TaskContext,
    TaskType,
)
from selfmem.memory.options import (
    KINDS,
    Kind,
    check_context,
    check_include,
    check_memory,
    check_optional_str,
    check_task_type,
)

from ._documents import (
    episode_document,
    heuristic_document,
    lesson_document,
    lesson_text,
    pattern_document,
)

__all__ = [
    "EXPERIENCE_TOOL_DESCRIPTION",
    "LESSONS",
    "Kind",
    "SelfMemRetriever",
    "episode_document",
    "heuristic_document",
    "lesson_document",
    "lesson_text",
    "pattern_document",
]

#: Where lessons are kept by default (items; :func:`~langchain_selfmem.create_lesson_tool`
#: writes them there).
LESSONS: tuple[str, ...] = ("lessons",)

EXPERIENCE_TOOL_DESCRIPTION = (
    "Search past experience with similar tasks before you act: what worked, what failed, "
    "learned tool sequences and rules, and recorded lessons. Input: a short description of "
    "the current task or problem."
)
_DOCUMENT_PROMPT = PromptTemplate.from_template("[{kind}] {page_content}")


class SelfMemRetriever(BaseRetriever):
    """Relevant past experience for a query, from a selfmem memory.

    ``SelfMemRetriever(memory, k=4)`` (the memory positional or ``memory=``). Returns up to
    ``k`` documents: the best episode, pattern, heuristic and lesson first, then the second
    of each, and so on (only the kinds in ``include``, of ``episode``, ``pattern``,
    ``heuristic``, ``lesson``; plurals accepted). ``metadata["kind"]`` says which;
    ``metadata["id"]`` and ``metadata["score"]`` are always set, episodes add their
    ``outcome`` and ``reward``, patterns and heuristics their ``confidence`` and evidence.

    ``context``, ``task_type``, ``success_only``, ``domain`` and ``required_tags`` (as
    ``tags``) filter and rank as in
    :meth:`selfmem.SelfLearningMemory.retrieve_relevant_context` (``domain`` also leaves out
    patterns, heuristics and lessons of other domains). Lessons are items of
    ``lessons_namespace`` that match the query. ``invoke(query, k=...)`` overrides ``k`` for
    one call. A wrong option raises :class:`selfmem.InvalidInputError` when the retriever is
    built.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: SelfLearningMemory
    k: int = Field(default=4, ge=1, le=100)
    include: tuple[Kind, ...] = KINDS
    context: TaskContext | None = None
    task_type: TaskType | str | None = None
    success_only: bool = Field(default=False, strict=True)
    domain: str | None = None
    required_tags: tuple[str, ...] = ()
    lessons_namespace: tuple[str, ...] = LESSONS

    def __init__(self, memory: SelfLearningMemory | None = None, /, **data: Any) -> None:
        if memory is not None:
            if "memory" in data:
                raise InvalidInputError("memory given twice", field="memory")
            data["memory"] = memory
        try:
            super().__init__(**data)
        except pydantic.ValidationError as exc:
            error = exc.errors()[0]
            option = str(error["loc"][0]) if error["loc"] else "options"
            message = str(error.get("ctx", {}).get("error") or error["msg"])
            raise InvalidInputError(f"{option}: {message}", field=option) from None

    @field_validator("memory", mode="plain")
    @classmethod
    def _memory(cls, value: Any) -> SelfLearningMemory:
        return check_memory(value)

    @field_validator("include", mode="plain")
    @classmethod
    def _include(cls, value: Any) -> tuple[Kind, ...]:
        return check_include(value)

    @field_validator("context", mode="plain")
    @classmethod
    def _context(cls, value: Any) -> TaskContext | None:
        return check_context(value)

    @field_validator("task_type", mode="plain")
    @classmethod
    def _task_type(cls, value: Any) -> TaskType | str | None:
        return None if value is None else check_task_type(value)

    @field_validator("domain", mode="plain")
    @classmethod
    def _domain(cls, value: Any) -> str | None:
        return check_optional_str(value, "domain")

    @field_validator("required_tags", "lessons_namespace", mode="plain")
    @classmethod
    def _labels(cls, value: Any, info: pydantic.ValidationInfo) -> tuple[str, ...]:
        option = str(info.field_name)
        if isinstance(value, str) or not isinstance(value, Sequence) or not all(
            isinstance(label, str) and label for label in value
        ):
            raise InvalidInputError(f"{option} must be a list of non-empty strings, got "
                                    f"{value!r}", field=option)  # fmt: skip
        if option == "lessons_namespace" and not value:
            raise InvalidInputError("lessons_namespace needs at least one label", field=option)
        return tuple(value)

    def _query_args(self, query: str, k: int) -> dict[str, Any]:
        return {
            "description": query, "context": self.context, "limit": k,
            "task_type": self.task_type, "success_only": self.success_only,
            "domain": self.domain, "tags": self.required_tags,
        }  # fmt: skip

    def _lesson_args(self, query: str, k: int) -> dict[str, Any]:
        return {
            "query": query, "limit": k,
            "filter": {"domain": self.domain} if self.domain else None,
        }  # fmt: skip

    def _in_domain(self, domain: str | None) -> bool:
        """Whether learning from ``domain`` (``None``: any) fits the ``domain`` filter."""
        return self.domain is None or domain is None or domain == self.domain

    def _documents(self, result: RetrievalResult, lessons: list[Item], k: int) -> list[Document]:
        patterns = [s for s in result.patterns if self._in_domain(s.pattern.context.domain)]
        rules = [s for s in result.heuristics if self._in_domain(s.heuristic.context.domain)]
        sources: dict[Kind, Iterator[Document]] = {
            "episode": map(episode_document, result.episodes),
            "pattern": map(pattern_document, patterns),
            "heuristic": map(heuristic_document, rules),
            "lesson": map(lesson_document, lessons),
        }
        columns = [sources[kind] for kind in self.include]
        interleaved = (
            doc
            for row in itertools.zip_longest(*columns)
            for doc in row
            if doc is not None
        )
        return list(itertools.islice(interleaved, k))

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        wanted = k or self.k
        result = self.memory.retrieve_relevant_context(**self._query_args(query, wanted))
        lessons: list[Item] = []
        if "lesson" in self.include:
            lessons = self.memory.search_items(
                self.lessons_namespace, **self._lesson_args(query, wanted)
            )
        return self._documents(result, lessons, wanted)

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        wanted = k or self.k
        result = await self.memory.aretrieve_relevant_context(**self._query_args(query, wanted))
        lessons: list[Item] = []
        if "lesson" in self.include:
            lessons = await self.memory.asearch_items(
                self.lessons_namespace, **self._lesson_args(query, wanted)
            )
        return self._documents(result, lessons, wanted)

    def as_tool(
        self,
        args_schema: Any = None,
        *,
        name: str | None = None,
        description: str | None = None,
        arg_types: Any = None,
    ) -> BaseTool:
        """This retriever as a tool for an agent: ``create_agent(model, [retriever.as_tool()])``.

        The tool (``search_experience`` unless ``name`` says otherwise) takes a ``query`` and
        answers with the documents, each marked with its kind (``[pattern] ...``). With
        ``args_schema`` or ``arg_types`` it is ``Runnable.as_tool`` instead.
        """
        if args_schema is not None or arg_types is not None:
            return super().as_tool(
                args_schema, name=name, description=description, arg_types=arg_types
            )
        return create_retriever_tool(
            self,
            name or "search_experience",
            description or EXPERIENCE_TOOL_DESCRIPTION,
            document_prompt=_DOCUMENT_PROMPT,
        )
