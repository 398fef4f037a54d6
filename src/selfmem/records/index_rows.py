"""What the in-process retrieval index keeps of each completed episode."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from itertools import filterfalse, islice
from typing import NamedTuple

from ..text.tokens import STOPWORDS, tokenize
from .episodes import Episode

__all__ = ["MAX_TERMS", "IndexRow", "decode_row", "encode_row", "index_row", "index_terms"]

MAX_TERMS = 400


class IndexRow(NamedTuple):
    """The searchable facts of one completed episode (no steps, no full text).

    A named tuple, not a dataclass: a store streams a million of them into the index on a
    first retrieval, and a tuple is built four times faster."""

    episode_id: str
    task_type: str
    domain: str
    language: str | None
    framework: str | None
    tags: tuple[str, ...]
    outcome: str
    reward: float
    end_time: float
    #: The terms BM25 counts, in order and with repeats (term frequency matters), each
    #: separated from the next by one space. One string rather than a tuple: the index
    #: splits a whole batch of rows' terms at once.
    terms: str

    def term_list(self) -> list[str]:
        return self.terms.split()


_SPACE = re.compile(r"\s")
_CHARS_PER_TERM = 12  # a first guess of how much text holds one term; grown if short
_WORD_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
#: Every byte that is not a word character becomes a space.
_SPACES = bytes(b if b in _WORD_BYTES else 0x20 for b in range(256))


def _tokens(text: str) -> list[str]:
    """:func:`selfmem.text.tokens.tokenize`; for ASCII text (lower-cased runs of
    ``[A-Za-z0-9_]``) four times faster on long texts: no regular expression, only C string
    methods."""
    if not text.isascii():
        return tokenize(text)
    return text.lower().encode("ascii").translate(_SPACES).decode("ascii").split()


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
        terms=" ".join((task + task + steps)[:MAX_TERMS]),
    )


#: The stored form of a row is its fields joined by this character, after a format tag;
#: tags are joined by ``_TAG``. Splitting that is ten times cheaper than parsing JSON,
#: which was the largest cost of building the index of a million stored episodes.
_FIELD, _TAG, _PACKED = "\x1f", "\x1e", "p1"


def _packable(row: IndexRow) -> bool:
    """Whether no field holds a separator (and no tag is empty), so splitting gives the
    fields back. Terms never do: they are runs of word characters."""
    texts = (row.task_type, row.domain, row.language or "", row.framework or "", row.outcome)
    return not any(_FIELD in t or _TAG in t for t in (*texts, *row.tags)) and all(row.tags)


def encode_row(row: IndexRow) -> str:
    """The ``episodes.index_row`` column: the packed form, or compact JSON for a row whose
    values hold a separator character (both are read back by :func:`decode_row`)."""
    if _packable(row):
        return _FIELD.join((
            _PACKED, row.task_type, row.domain, row.language or "", row.framework or "",
            _TAG.join(row.tags), row.outcome, repr(row.reward), repr(row.end_time), row.terms,
        ))  # fmt: skip
    return json.dumps(
        [row.task_type, row.domain, row.language, row.framework, list(row.tags), row.outcome,
         row.reward, row.end_time, row.terms],
        separators=(",", ":"),
    )  # fmt: skip


def decode_row(episode_id: str, text: str) -> IndexRow:
    """The row :func:`encode_row` stored (either form; JSON is also what earlier versions
    wrote)."""
    if text.startswith(_PACKED + _FIELD):
        fields = text.split(_FIELD)
        _, task_type, domain, language, framework, tags, outcome, reward, end, terms = fields
        return IndexRow(
            episode_id, task_type, domain, language or None, framework or None,
            tuple(tags.split(_TAG)) if tags else (), outcome, float(reward), float(end), terms,
        )  # fmt: skip
    task_type, domain, language, framework, tags, outcome, reward, end, terms = json.loads(text)
    return IndexRow(
        episode_id, task_type, domain, language, framework, tuple(tags), outcome,
        float(reward), float(end), " ".join(terms.split()),
    )  # fmt: skip
