"""Scrub secrets from text and structured values before storage.

Covered: private key blocks, credentials in URLs and connection strings, bearer tokens,
well-known API key formats (OpenAI/Anthropic ``sk-``, AWS ``AKIA``, GitHub, Slack, Google,
Stripe, JWTs), ``key=value`` / ``key: value`` pairs whose key names a secret, and values of
mapping keys that name a secret (``password``, ``api_key``, ``authorization``, ...).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["REDACTED", "redact_text", "redact_value"]

REDACTED = "[REDACTED]"

_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
    re.DOTALL,
)
_URL_CREDENTIALS = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)([^/\s:@]*):([^/\s@]+)@")
# A credential after "Bearer"/"Basic"/"Token" must contain a digit, so prose such as
# "a basic implementation" is left alone.
_BEARER = re.compile(
    r"\b(Bearer|Basic|Token)\s+(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE
)
_KNOWN_TOKENS = re.compile(
    r"""
    \bsk-[A-Za-z0-9_-]{16,}                     # OpenAI / Anthropic style secret keys
    | \b(?:AKIA|ASIA)[0-9A-Z]{16}\b             # AWS access key ids
    | \bgh[pousr]_[A-Za-z0-9]{30,}              # GitHub tokens
    | \bgithub_pat_[A-Za-z0-9_]{30,}
    | \bxox[abprs]-[A-Za-z0-9-]{10,}            # Slack
    | \bAIza[0-9A-Za-z_-]{35}                   # Google API keys
    | \b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,} # Stripe
    | \beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}  # JWTs
    """,
    re.VERBOSE,
)
# Only the last segment of a key is matched ("OPENAI_API_KEY" ends in "API_KEY"): the
# prefix is kept as it is, and not matching it keeps the scan linear.
_SECRET_NAME = (
    r"(?<![A-Za-z0-9])(?:password|passwd|pwd|secret|api[_-]?key|apikey|token|"
    r"access[_-]?key|private[_-]?key|auth|credentials?)"
)
_ASSIGNMENT = re.compile(
    rf"""(?ix)
    ({_SECRET_NAME})             # the key
    (\s*["']?\s*[:=]\s*)         # separator, tolerating a closing quote (JSON)
    (?:(["'])(?!\[REDACTED\]\3)([^"'\n]{{3,}})(?=\3)   # a quoted value, to its closing quote
      |(?!\[REDACTED\])([^\s"'&,;}}]{{3,}}))            # or a bare word
    """
)
_SECRET_KEY = re.compile(
    r"(?:.*[_-])?(?:password|passwd|pwd|secret|api[_-]?key|apikey|token|auth|authorization|"
    r"credentials?|private[_-]?key|cookie|set[_-]cookie|access[_-]?key|secret[_-]?key|dsn|"
    r"connection[_-]?string)",
    re.IGNORECASE,
)


_TOKEN_MARKERS = (
    "sk-", "AKIA", "ASIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox", "AIza",
    "sk_", "rk_", "eyJ",
)  # fmt: skip
_NAME_MARKERS = ("passw", "passwd", "pwd", "secret", "key", "token", "auth", "credential")


def redact_text(text: str) -> str:
    """Return ``text`` with every recognised secret replaced by ``[REDACTED]``.

    Each pattern runs only when a cheap substring test says it could match, which keeps the
    common case (tool output with no secret-like words) to a few microseconds.
    """
    if not text:
        return text
    lower = text.lower()
    if "private key-----" in lower:
        text = _PRIVATE_KEY.sub(REDACTED, text)
    if "://" in text and "@" in text:
        text = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{m.group(2)}:{REDACTED}@", text)
    if "bearer" in lower or "basic" in lower or "token" in lower:
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    if any(marker in text for marker in _TOKEN_MARKERS):
        text = _KNOWN_TOKENS.sub(REDACTED, text)
    if ("=" in text or ":" in text) and any(marker in lower for marker in _NAME_MARKERS):
        text = _ASSIGNMENT.sub(lambda m: f"{m[1]}{m[2]}{m[3] or ''}{REDACTED}", text)
    return text


def is_secret_key(key: str) -> bool:
    """True when a mapping key names a secret (``api_key``, ``Authorization``, ...)."""
    return _SECRET_KEY.fullmatch(key.strip()) is not None


def _redact_item(key: str, item: Any) -> Any:
    """A secret-named key loses a scalar value; containers under it are searched instead."""
    if is_secret_key(key) and isinstance(item, str | int | float) and item != "":
        return REDACTED
    return redact_value(item)


def redact_value(value: Any) -> Any:
    """Redact a JSON-like value: strings are scrubbed, secret-named keys lose their value."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: _redact_item(str(key), item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    return value
