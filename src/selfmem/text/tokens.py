"""Tokenizing text into the terms the retrieval index and the learner count."""

from __future__ import annotations

import re

__all__ = ["STOPWORDS", "query_terms", "tokenize"]

_WORD = re.compile(r"[A-Za-z0-9_]+")

STOPWORDS = frozenset(
    """a an and are as at be but by for from has have how i if in into is it its of on or
    our should so that the their then there these this to was we were what when which
    while who will with you your can do does did not no""".split()
)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens: runs of ASCII letters, digits and underscores."""
    return _WORD.findall(text.lower())


def query_terms(text: str, max_terms: int = 32) -> list[str]:
    """Distinct, meaningful terms of a query, in order of first appearance."""
    seen: dict[str, None] = {}
    for token in tokenize(text):
        if token not in STOPWORDS and (len(token) > 1 or token.isdigit()):
            seen.setdefault(token, None)
    return list(seen)[:max_terms]
