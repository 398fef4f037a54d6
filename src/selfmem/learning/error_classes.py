"""Normalize error messages into classes, so "timeout after 30s" and "timeout after 31s" match."""

from __future__ import annotations

import re

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
    """
    if not message:
        return "unknown error"
    first_line = message.strip().splitlines()[0] if message.strip() else ""
    text = _QUOTED.sub("<str>", first_line)
    text = _PACKAGE.sub("<pkg>", text)
    text = _PATH.sub("<path>", text)
    text = _HEX.sub("<id>", text)
    text = _VERSION.sub("<v>", text)
    text = _NUMBER.sub("<n>", text)
    text = _MIXED.sub("<id>", text)
    words = _SPACE.sub(" ", text).strip().lower().split(" ")
    return " ".join(words[:_MAX_WORDS]) or "unknown error"
