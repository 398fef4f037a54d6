"""The statements that write episodes to libSQL, shared by the single and the batch writes.

:class:`~selfmem.storage.libsql_store.LibSQLStore` creates an episode with one ``INSERT``
(:func:`header_row`), appends steps with :func:`step_inserts` and completes it with an
``UPDATE`` that bumps its revision (the change-log trigger fires on that).
:func:`import_statements` writes a whole batch of episodes with the same rows in multi-row
statements: the headers, as created, then the steps, and one revision bump for the
completed ones (so the trigger logs each as ``finish_episode`` does). Every statement is
idempotent or guarded, so a transaction whose commit answer was lost can run again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..records.episodes import Episode, ExecutionStep
from ..records.index_rows import encode_row, index_row
from ..records.json_once import header_json, step_json
from .libsql_connection import id_chunks, insert_rows
from .transport import Statement, guard

__all__ = [
    "DUPLICATE_IN_BATCH",
    "HEADER_COLUMNS",
    "header_row",
    "import_statements",
    "step_inserts",
]

#: The columns :func:`header_row` fills, in its order.
HEADER_COLUMNS = "task_type, domain, language, outcome, start_time, end_time, reward, data"
DUPLICATE_IN_BATCH = "an episode id of the batch is already stored"


def header_row(episode: Episode) -> tuple[Any, ...]:
    """The episode's header columns (:data:`HEADER_COLUMNS`); steps are stored apart."""
    return (
        episode.task_type.value,
        episode.context.domain,
        episode.context.language,
        episode.outcome.status.value if episode.outcome else None,
        episode.start_time.timestamp(),
        episode.end_time.timestamp() if episode.end_time else None,
        episode.reward.total if episode.reward else None,
        header_json(episode),
    )


def step_inserts(batches: Mapping[str, Sequence[ExecutionStep]]) -> list[Statement]:
    """Every step of every episode in multi-row statements (idempotent: a retried batch
    replaces the same rows)."""
    rows = [
        (episode_id, step.step_number, step.tool, int(step.success), step_json(step))
        for episode_id, steps in batches.items()
        for step in steps
    ]
    return insert_rows(
        "INSERT OR REPLACE INTO steps (episode_id, step_number, tool, success, data)", 5, rows
    )


def import_statements(episodes: Sequence[Episode]) -> list[Statement]:
    """One transaction's statements for a batch of whole episodes (see the module doc).

    A guard after each multi-row insert of headers fails the transaction when an id was
    already stored (the insert skipped it), so nothing of the batch is written then."""
    headers = [
        (ep.id, ep.namespace, *header_row(ep), encode_row(index_row(ep)) if ep.is_complete
         else None)
        for ep in episodes
    ]  # fmt: skip
    statements: list[Statement] = []
    for insert in insert_rows(
        f"INSERT INTO episodes (id, namespace, {HEADER_COLUMNS}, index_row)",
        11, headers, " ON CONFLICT (id) DO NOTHING",
    ):  # fmt: skip
        statements += [
            insert,
            guard(DUPLICATE_IN_BATCH, "changes() != ?", (len(insert.params) // 11,)),
        ]
    statements += step_inserts({ep.id: ep.steps for ep in episodes if ep.steps})
    done = [ep for ep in episodes if ep.is_complete]
    for chunk, marks in id_chunks([ep.id for ep in done]):
        # as finish_episode: revision 1 -> 2, which the change-log trigger records
        statements.append(
            Statement(f"UPDATE episodes SET revision = revision + 1 WHERE id IN ({marks})",
                      tuple(chunk))
        )  # fmt: skip
    return statements
