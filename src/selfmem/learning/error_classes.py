"""Normalize error messages into classes, so "timeout after 30s" and "timeout after 31s" match."""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["normalize_error"]

_QUOTED = re.compile(r"(?<!\w)(['\"`]).*?\1(?!\w)")
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\w.-]*/)+[\w.-]+")
_HEX = re.compile(
    r"\b[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b|\b0x[0-9a-fA-F]+\b|\b[0-9a-f]{8,}\b"
)
#: A pinned or constrained package (``requests==2.4.1``, ``left-pad@1.3.0``): the name and the
#: version vary between occurrences of one error, so both become one placeholder.
_PACKAGE = re.compile(
    r"(?<![\w.-])@?[A-Za-z][\w./-]*(?:\s*(?:===?|>=|<=|~=|!=|>|<)\s*|@)v?\d[\w.+-]*"
)
#: A dotted version (``1.2``, ``v2.4.1-rc1``), normalised the same whatever its length.
_VERSION = re.compile(r"(?<![\w.])v?\d+(?:\.\d+)+(?:[-+][\w.]+)?(?![\w.])")
#: A word mixing letters and digits (``gw3``, ``pod7f9c``, ``node12``): a name that varies.
_MIXED = re.compile(r"\b(?=[a-z_]*\d)(?=\d*[a-z_])[a-z_\d]+\b", re.IGNORECASE)
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?(?:ms|s|kb|mb|gb|%)?\b", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_MAX_WORDS = 8


def normalize_error(message: str | None) -> str:
    """A short, stable class for an error message.

    Quoted strings, pinned packages (``requests==2.4.1``), paths, hex ids, versions and
    numbers become placeholders; the text is lower-cased and cut to its first eight words.
    ``"Timeout after 30s reading '/tmp/x'"`` becomes ``"timeout after <n> reading <str>"``.
    Of a message of several lines, the line that says what went wrong is classed
    (:func:`_telling_line`): the first, the exception of a Python traceback, or the message
    of a JSON error body.
    """
    if not message:
        return "unknown error"
    text = _QUOTED.sub("<str>", _telling_line(message))
    text = _PACKAGE.sub("<pkg>", text)
    text = _PATH.sub("<path>", text)
    text = _HEX.sub("<id>", text)
    text = _VERSION.sub("<v>", text)
    text = _NUMBER.sub("<n>", text)
    text = _MIXED.sub("<id>", text)
    words = _SPACE.sub(" ", text).strip().lower().split(" ")
    return " ".join(words[:_MAX_WORDS]) or "unknown error"


_TRACEBACK = "traceback (most recent call last)"
#: Where JSON error bodies put what went wrong, in the order looked for.
_MESSAGE_KEYS = ("message", "msg", "detail", "error_description", "error", "title", "reason")


def _telling_line(message: str) -> str:
    """The line of an error message that says what went wrong: the message of a JSON error
    body (``{"error": {"message": ...}, "request_id": ...}``), the exception line of a
    Python traceback (its first line is the same for every error; the exception follows
    the last traceback's frames, and may be followed by detail lines), else the first
    line."""
    text = message.strip()
    if text.startswith("{"):
        found = _json_message(text)
        if found:
            text = found.strip()
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    if lines[0].strip().lower().startswith(_TRACEBACK):
        # the exception of the last traceback (a chained one ends with the one that was
        # raised): the first line after its frames, which are indented
        last = max(i for i, line in enumerate(lines) if line.lower().startswith(_TRACEBACK))
        after = [line for line in lines[last + 1 :] if not line[:1].isspace()]
        return after[0] if after else lines[-1]
    return lines[0]


def _json_message(text: str) -> str | None:
    try:
        body = json.loads(text)
    except ValueError:
        return None
    return _message_in(body, depth=0)


def _message_in(body: Any, depth: int) -> str | None:
    """The first message found under the usual keys of an error body, nested errors
    (``{"error": {"message": ...}}``, ``{"errors": [{...}]}``) looked into."""
    if depth > 3:
        return None
    if isinstance(body, list):
        return _message_in(body[0], depth + 1) if body else None
    if not isinstance(body, dict):
        return None
    for key in _MESSAGE_KEYS:
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, dict | list):
            found = _message_in(value, depth + 1)
            if found:
                return found
    return _message_in(body.get("errors"), depth + 1)
