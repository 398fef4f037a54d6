"""Tokenizing text into the terms the retrieval index and the learner count."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["STOPWORDS", "query_terms", "tokenize"]

#: Letters, digits and underscores of any script.
_WORD = re.compile(r"\w+")
#: Chinese characters, kana and CJK compatibility ideographs: scripts written without
#: spaces between words.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")

STOPWORDS = frozenset(
    """a an and are as at be but by for from has have how i if in into is it its of on or
    our should so that the their then there these this to was we were what when which
    while who will with you your can do does did not no""".split()
)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens: runs of letters, digits and underscores, in any script
    ("zählbestand", "über"). Text in a script written without spaces (Chinese, Japanese)
    gives its overlapping pairs of characters, as full-text search engines index it, so
    that two tasks which share a word share a token. ASCII text takes the plain path."""
    if text.isascii():
        return _WORD.findall(text.lower())
    tokens: list[str] = []
    for word in _WORD.findall(unicodedata.normalize("NFC", text).lower()):
        if _UNSPACED.search(word) is None:
            tokens.append(word)
        else:
            tokens.extend(_split_unspaced(word))
    return tokens


def _split_unspaced(word: str) -> list[str]:
    """A word holding characters of an unspaced script: its other runs whole, and each run
    of those characters as overlapping pairs (a lone character as itself)."""
    tokens: list[str] = []
    at = 0
    for run in _UNSPACED.finditer(word):
        if run.start() > at:
            tokens.append(word[at : run.start()])
        chars = run.group()
        tokens.extend(chars[i : i + 2] for i in range(max(1, len(chars) - 1)))
        at = run.end()
    if at < len(word):
        tokens.append(word[at:])
    return tokens


def query_terms(text: str, max_terms: int = 32) -> list[str]:
    """Distinct, meaningful terms of a query, in order of first appearance."""
    seen: dict[str, None] = {}
    for token in tokenize(text):
        if token not in STOPWORDS and (len(token) > 1 or token.isdigit() or not token.isascii()):
            seen.setdefault(token, None)
    return list(seen)[:max_terms]
