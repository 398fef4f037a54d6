"""Ready-made tools for an agent: search its experience, and write a lesson down.

>>> tools = [create_experience_tool(memory), create_lesson_tool(memory)]   # doctest: +SKIP
>>> agent = create_agent(model, [*my_tools, *tools])                        # doctest: +SKIP

``search_experience`` returns what selfmem learned that is relevant to a query: past
episodes, tool sequences, rules and the lessons recorded so far. ``record_lesson`` lets the
agent keep a lesson in its own words (like LangMem's manage-memory tool): it is stored as an
item of the lessons namespace, and ``search_experience`` finds it again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from selfmem import InvalidInputError, SelfLearningMemory, TaskContext, TaskType
from selfmem.memory.options import check_context, check_memory, check_optional_str

from .retrievers import EXPERIENCE_TOOL_DESCRIPTION, LESSONS, SelfMemRetriever

__all__ = ["LESSON_TOOL_DESCRIPTION", "create_experience_tool", "create_lesson_tool"]

LESSON_TOOL_DESCRIPTION = (
    "Record a lesson worth remembering for future tasks: what worked, what to avoid, a "
    "fact about the environment or the user. Write it so it makes sense on its own. "
    "action='create' adds one; 'update' replaces the lesson with this id; 'delete' removes it."
)


def create_experience_tool(
    memory: SelfLearningMemory,
    *,
    name: str = "search_experience",
    description: str = EXPERIENCE_TOOL_DESCRIPTION,
    k: int = 4,
    context: TaskContext | dict[str, Any] | None = None,
    task_type: TaskType | str | None = None,
    include: Sequence[str] = ("episode", "pattern", "heuristic", "lesson"),
    lessons_namespace: Sequence[str] = LESSONS,
    **filters: Any,
) -> BaseTool:
    """A tool that searches the experience in ``memory``: the same as
    ``SelfMemRetriever(memory, ...).as_tool(name=..., description=...)``. ``filters`` are the
    retriever's other options (``success_only``, ``domain``, ``required_tags``)."""
    retriever = SelfMemRetriever(
        memory, k=k, context=context, task_type=task_type, include=tuple(include),
        lessons_namespace=tuple(lessons_namespace), **filters,
    )  # fmt: skip
    return retriever.as_tool(name=name, description=description)


class LessonInput(BaseModel):
    """The arguments of the lesson tool."""

    lesson: str | None = Field(default=None, description="The lesson, self-contained.")
    action: Literal["create", "update", "delete"] = Field(
        default="create", description="create a lesson, update or delete the one with id"
    )
    id: str | None = Field(default=None, description="The lesson to update or delete.")


def create_lesson_tool(
    memory: SelfLearningMemory,
    *,
    namespace: Sequence[str] = LESSONS,
    name: str = "record_lesson",
    description: str = LESSON_TOOL_DESCRIPTION,
    context: TaskContext | dict[str, Any] | None = None,
) -> BaseTool:
    """A tool with which an agent records a lesson as an item of ``namespace`` (default
    ``("lessons",)``, where :func:`create_experience_tool` looks). ``context``: its
    ``domain`` and ``tags`` are stored with each lesson (the experience tool filters lessons
    by ``domain``). The tool answers with the lesson's id, or with what was wrong."""
    memory = check_memory(memory)
    checked = check_context(context)
    labels = tuple(namespace) if not isinstance(namespace, str) else ()
    if not labels or not all(isinstance(label, str) and label for label in labels):
        raise InvalidInputError(
            f"namespace must be a tuple of labels, e.g. ('lessons',), got {namespace!r}",
            field="namespace",
        )
    tool_name = check_optional_str(name, "name") or "record_lesson"
    extra: dict[str, Any] = {}
    if checked is not None:
        extra = {"domain": checked.domain, "tags": list(checked.tags)}

    def record(lesson: str | None = None, action: str = "create", id: str | None = None) -> str:
        if action == "delete":
            if not id:
                return "Error: give the id of the lesson to delete."
            found = memory.delete_item(labels, id)
            return f"Deleted lesson {id}." if found else f"Error: no lesson {id}."
        if not lesson or not lesson.strip():
            return "Error: the lesson is empty."
        if action == "update" and (not id or memory.get_item(labels, id) is None):
            return f"Error: no lesson {id} to update."
        key = id if action == "update" and id else uuid.uuid4().hex
        value = {"text": lesson.strip(), "kind": "lesson", **extra}
        memory.put_item(labels, key, value, index=["text"])
        return f"{'Updated' if action == 'update' else 'Recorded'} lesson {key}."

    async def arecord(
        lesson: str | None = None, action: str = "create", id: str | None = None
    ) -> str:
        return await asyncio.to_thread(record, lesson, action, id)

    return StructuredTool.from_function(
        func=record, coroutine=arecord, name=tool_name, description=description,
        args_schema=LessonInput,
    )  # fmt: skip
