"""The context a task family states: the domain, task type and language nearly all of its
runs share, though a stray run that joined by its words and tools had another."""

from __future__ import annotations

from ..records.episodes import TaskType
from ..records.learned import ToolSequence

__all__ = ["stated_context", "value_counts"]

#: The share of a family's runs a context value needs to be the family's stated context.
_CONTEXT_MAJORITY = 0.9


def _task_type(value: str) -> TaskType | str:
    try:
        return TaskType(value)
    except ValueError:
        return value


def stated_context(family: ToolSequence, counts: list[dict[str, int]] | None = None) -> None:
    """Fill in the family's domain, task type and language where its runs differ but nearly
    all of them (``_CONTEXT_MAJORITY``) share one value: one stray run that joined by its
    words and tools does not erase what the family is about. Tags stay those every run had.
    ``counts``: the family's runs per value
    (:meth:`.families.FamilyIndex.context_counts`), if known."""
    members = sum(family.context_keys.values())
    if members <= 0:
        return
    fields = (counts if counts is not None else value_counts(family.context_keys))[:3]
    stated: list[str | None] = []
    for table in fields:
        value, count = max(table.items(), key=lambda item: (item[1], item[0]))
        stated.append(value if count >= _CONTEXT_MAJORITY * members and value != "-" else None)
    domain, kind, language = stated
    context = family.context  # a value every run shared is kept as it was written
    if context.domain is None and domain != "None":
        context.domain = domain
    if context.task_type is None and kind is not None:
        context.task_type = _task_type(kind)  # type: ignore[assignment]
    if context.language is None:
        context.language = language


def value_counts(context_keys: dict[str, int]) -> list[dict[str, int]]:
    """For each part of the context keys (domain, task type, language), the runs per value."""
    tables: list[dict[str, int]] = []
    for key, count in context_keys.items():
        for position, value in enumerate(key.split("|")):
            if position == len(tables):
                tables.append({})
            tables[position][value] = tables[position].get(value, 0) + count
    return tables
