"""What the in-process retrieval index keeps of each completed episode."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import filterfalse, islice

from ..text.tokens import STOPWORDS
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


_SPACE = re.compile(r"\s")
_CHARS_PER_TERM = 12  # a first guess of how much text holds one term; grown if short
_WORD_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
#: Every byte that is not a word character becomes a space.
_SPACES = bytes(b if b in _WORD_BYTES else 0x20 for b in range(256))


def _tokens(text: str) -> list[str]:
    """:func:`selfmem.text.tokens.tokenize` (lower-cased runs of ``[A-Za-z0-9_]``), four
    times faster on long texts: no regular expression, only C string methods. A character
    outside ASCII is never part of a word, so it becomes one ``?`` and then a space."""
    return text.lower().encode("ascii", "replace").translate(_SPACES).decode("ascii").split()


def index_terms(text: str, limit: int = MAX_TERMS) -> tuple[str, ...]:
    """The terms BM25 counts: tokens minus stopwords, the first ``limit`` (at most
    ``MAX_TERMS``).

    Only as much of the text as those terms need is tokenized (a step text is often ten
    times longer than the terms kept of it): a prefix cut at whitespace, which no token
    spans, holds exactly the text's first tokens."""
    limit = min(limit, MAX_TERMS)
    if limit <= 0:
        return ()
    size = _CHARS_PER_TERM * limit
    while size < len(text):
        found = _SPACE.search(text, size)
        if found is None:
            break
        terms = tuple(islice(_terms(text[: found.start()]), limit))
        if len(terms) >= limit:
            return terms
        size *= 4
    return tuple(islice(_terms(text), limit))


def _terms(text: str) -> Iterator[str]:
    return filterfalse(STOPWORDS.__contains__, _tokens(text))


def index_row(episode: Episode, step_text: str | None = None) -> IndexRow:
    """The index row of a completed episode; the task text counts twice (it says most).
    ``step_text``: ``episode.step_text()`` if the caller has it already."""
    if episode.outcome is None or episode.end_time is None:
        raise ValueError("only completed episodes are indexed")
    task = index_terms(episode.task_description)
    text = episode.step_text() if step_text is None else step_text
    steps = index_terms(text, MAX_TERMS - 2 * len(task))
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
