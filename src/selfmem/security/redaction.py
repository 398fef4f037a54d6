"""Scrub secrets from text and structured values before storage.

Every rule is one row of :data:`RULES`, the single table of what is redacted (the docs'
table in ``docs/security.md`` and the tests' examples follow it). Text rules replace what
they match by ``[REDACTED]``; the ``secret_key`` rule applies to mapping keys, whose scalar
values are replaced whole. Each text rule runs only when a cheap substring test says it
could match, which keeps the common case (tool output with no secret-like words) to a few
microseconds. Patterns are bounded so that no input makes them scan quadratically.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["REDACTED", "RULES", "Rule", "is_secret_key", "redact_text", "redact_value"]

REDACTED = "[REDACTED]"


@dataclass(frozen=True, slots=True)
class Rule:
    """One kind of secret: what it covers, how it is found, what replaces it.

    ``applies_to`` is ``"text"`` (searched in every string) or ``"key"`` (matched against
    the whole of a mapping key). ``markers``: the rule runs only if one of them occurs in
    the text (lower-cased when ``lower_markers``); empty means always.
    """

    name: str
    covers: str
    pattern: re.Pattern[str]
    replacement: str | Callable[[re.Match[str]], str] = REDACTED
    markers: tuple[str, ...] = ()
    lower_markers: bool = False
    applies_to: Literal["text", "key"] = "text"

    def could_match(self, text: str, lower: str) -> bool:
        haystack = lower if self.lower_markers else text
        return not self.markers or any(marker in haystack for marker in self.markers)


# The last segment of a key is matched ("OPENAI_API_KEY" ends in "API_KEY"): the prefix is
# kept as it is, and not matching it keeps the scan linear.
_SECRET_NAME = (
    r"(?<![A-Za-z0-9])(?:password|passwd|pwd|secret|api[_-]?key|apikey|token|"
    r"access[_-]?key|private[_-]?key|auth|credentials?)"
)
# Where a URL ends: whitespace, a quote or an angle bracket.
_URL_END = r"""\s"'<>"""

RULES: tuple[Rule, ...] = (
    Rule(
        "private_key",
        "PEM and OpenSSH private key blocks and PGP private key blocks, whole (to the end of "
        "the text when the END line is missing)",
        re.compile(
            r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----.*?"
            r"(?:-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|\Z)",
            re.DOTALL,
        ),
        markers=("private key",),
        lower_markers=True,
    ),
    Rule(
        "url_credentials",
        "the password in a URL's user information (`scheme://user:password@host`), also "
        "when it holds `/` or `@`; the user and the host are kept",
        re.compile(
            rf"(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]{{0,31}}://)"
            rf"([^/:@{_URL_END}]{{0,256}}):"
            rf"(?!\d{{1,5}}(?:[/?#{_URL_END}]|$))"  # host:port/path is not a password
            rf"[^{_URL_END}]{{1,256}}?@"
            rf"(?=[^/?#@{_URL_END}]{{0,255}}(?:[/?#{_URL_END}]|$))"  # then a host, ends
        ),
        lambda m: f"{m[1]}{m[2]}:{REDACTED}@",
        markers=("://",),
    ),
    Rule(
        "authorization_scheme",
        "the credential after `Bearer`, `Basic` or `Token` (it must contain a digit, so "
        "prose such as 'a basic implementation' is left alone)",
        re.compile(
            r"\b(Bearer|Basic|Token)\s+(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{8,}",
            re.IGNORECASE,
        ),
        lambda m: f"{m[1]} {REDACTED}",
        markers=("bearer", "basic", "token"),
        lower_markers=True,
    ),
    Rule(
        "sk_key",
        "OpenAI and Anthropic secret keys (`sk-...`, `sk-proj-...`, `sk-ant-...`)",
        re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),
        markers=("sk-",),
    ),
    Rule(
        "aws_access_key",
        "AWS access key ids (`AKIA...`, `ASIA...`)",
        re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
        markers=("AKIA", "ASIA"),
    ),
    Rule(
        "github_token",
        "GitHub tokens (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`)",
        re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{30,}"),
        markers=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    Rule(
        "slack_token",
        "Slack tokens (`xoxb-`, `xoxp-`, ...)",
        re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
        markers=("xox",),
    ),
    Rule(
        "google_api_key",
        "Google API keys (`AIza...`)",
        re.compile(r"\bAIza[0-9A-Za-z_-]{35}"),
        markers=("AIza",),
    ),
    Rule(
        "stripe_key",
        "Stripe secret and restricted keys (`sk_live_`, `rk_test_`, ...)",
        re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"),
        markers=("sk_", "rk_"),
    ),
    Rule(
        "jwt",
        "JSON Web Tokens (three base64url parts, the first starting `eyJ`)",
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        markers=("eyJ",),
    ),
    Rule(
        "secret_assignment",
        "the value in `key=value` or `key: value` (quoted or bare, also in JSON text) when "
        "the key names a secret: password, secret, token, api key, access key, private "
        "key, auth, credentials",
        re.compile(
            rf"""(?ix)
            ({_SECRET_NAME})             # the key
            (\s*["']?\s*[:=]\s*)         # separator, tolerating a closing quote (JSON)
            (?:(["'])(?!\[REDACTED\]\3)([^"'\n]{{3,}})(?=\3)   # a quoted value
              |(?!\[REDACTED\])([^\s"'&,;}}]{{3,}}))            # or a bare word
            """
        ),
        lambda m: f"{m[1]}{m[2]}{m[3] or ''}{REDACTED}",
        markers=("passw", "pwd", "secret", "key", "token", "auth", "credential"),
        lower_markers=True,
    ),
    Rule(
        "secret_key",
        "a mapping key naming a secret (`password`, `api_key`, `Authorization`, `cookie`, "
        "`dsn`, `connection_string`, ...): its scalar value is replaced whole, containers "
        "under it are searched",
        re.compile(
            r"(?:.*[_-])?(?:password|passwd|pwd|secret|api[_-]?key|apikey|token|auth|"
            r"authorization|credentials?|private[_-]?key|cookie|set[_-]cookie|access[_-]?key|"
            r"secret[_-]?key|dsn|connection[_-]?string)",
            re.IGNORECASE,
        ),
        applies_to="key",
    ),
)

_TEXT_RULES = tuple(rule for rule in RULES if rule.applies_to == "text")
_KEY_RULE = next(rule for rule in RULES if rule.applies_to == "key")
# Every text rule's markers, lower-cased, for one pre-test: most strings (keys, paths, plain
# output) hold none of them and leave at once.
_ANY_MARKER = tuple(sorted({m.lower() for rule in _TEXT_RULES for m in rule.markers}))
assert all(rule.markers for rule in _TEXT_RULES), "the shared pre-test needs every marker"


def redact_text(text: str) -> str:
    """Return ``text`` with every secret a text rule recognises replaced by ``[REDACTED]``."""
    if not text:
        return text
    lower = text.lower()
    if not any(marker in lower for marker in _ANY_MARKER):
        return text
    for rule in _TEXT_RULES:
        if rule.could_match(text, lower):
            redacted = rule.pattern.sub(rule.replacement, text)
            if redacted != text:
                text, lower = redacted, redacted.lower()
    return text


def is_secret_key(key: str) -> bool:
    """True when a mapping key names a secret (``api_key``, ``Authorization``, ...)."""
    return _KEY_RULE.pattern.fullmatch(key.strip()) is not None


def _redact_item(key: str, item: Any) -> Any:
    """A secret-named key loses a scalar value; containers under it are searched instead."""
    if is_secret_key(key) and isinstance(item, str | int | float) and item != "":
        return REDACTED
    return redact_value(item)


def _redact_key(key: str, taken: dict[str, Any]) -> str:
    """A key holding a secret itself is redacted; a clash is numbered so no value is lost."""
    redacted = redact_text(key)
    if redacted == key:
        return key
    name, number = redacted, 2
    while name in taken:
        name, number = f"{redacted} ({number})", number + 1
    return name


def redact_value(value: Any) -> Any:
    """Redact a JSON-like value: strings and keys are scrubbed, secret-named keys lose
    their value. Returns a new value; the input is not changed."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            out[_redact_key(name, out)] = _redact_item(name, item)
        return out
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    return value
