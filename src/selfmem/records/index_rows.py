"""What the in-process retrieval index keeps of each completed episode."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..text.tokens import STOPWORDS, tokenize
from .episodes import Episode

__all__ = ["MAX_TERMS", "IndexRow", "decode_row", "encode_row", "index_row", "index_terms"]

MAX_TERMS = 400


@dataclass(frozen=True, slots=True)
class IndexRow:
    """The searchable facts of one completed episode (no steps, no full text)."""

    episode_id: str
    task_type: str
    domain: str
    language: str | None
    framework: str | None
    tags: tuple[str, ...]
    outcome: str
    reward: float
    end_time: float
    terms: tuple[str, ...]  # with repeats: term frequency matters for BM25


def index_terms(text: str) -> tuple[str, ...]:
    """The terms BM25 counts: tokens minus stopwords, at most ``MAX_TERMS``."""
    return tuple(t for t in tokenize(text) if t not in STOPWORDS)[:MAX_TERMS]


def index_row(episode: Episode) -> IndexRow:
    """The index row of a completed episode; the task text counts twice (it says most)."""
    if episode.outcome is None or episode.end_time is None:
        raise ValueError("only completed episodes are indexed")
    task = index_terms(episode.task_description)
    steps = index_terms(episode.step_text())
    ctx = episode.context
    return IndexRow(
        episode_id=episode.id,
        task_type=episode.task_type.value,
        domain=ctx.domain,
        language=ctx.language.lower() if ctx.language else None,
        framework=ctx.framework.lower() if ctx.framework else None,
        tags=tuple(ctx.tags),
        outcome=episode.outcome.status.value,
        reward=episode.reward.total if episode.reward else 0.0,
        end_time=episode.end_time.timestamp(),
        terms=(task + task + steps)[:MAX_TERMS],
    )


def encode_row(row: IndexRow) -> str:
    """Compact JSON for the ``episodes.index_row`` column."""
    return json.dumps(
        [row.task_type, row.domain, row.language, row.framework, list(row.tags), row.outcome,
         row.reward, row.end_time, " ".join(row.terms)],
        separators=(",", ":"),
    )  # fmt: skip


def decode_row(episode_id: str, text: str) -> IndexRow:
    task_type, domain, language, framework, tags, outcome, reward, end, terms = json.loads(text)
    return IndexRow(
        episode_id, task_type, domain, language, framework, tuple(tags), outcome,
        float(reward), float(end), tuple(terms.split()),
    )  # fmt: skip
