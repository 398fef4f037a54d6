"""Secret redaction: every documented secret kind is scrubbed, ordinary text is left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfmem.security.redaction import (
    REDACTED,
    RULES,
    Rule,
    is_secret_key,
    redact_text,
    redact_value,
)

# Each secret is assembled from parts so this file never contains a token-shaped literal.
OPENAI_KEY = "sk-" + "proj-" + "Ab3dEf6hIj9kLm2nOp5q"
ANTHROPIC_KEY = "sk-" + "ant-api03-" + "Zx8Cv7Bn6Mq5Wr4Te3Yu"
AWS_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"
GITHUB_TOKEN = "ghp_" + "x7Yk2Lm9Qp4Rs8Tv1Wz3Ab6Cd0Ef5Gh2Ij7K"
GITHUB_PAT = "github_pat_" + "11ABCDEFG0" + "abcdefghij_klmnopqrstuvwxyz0123"
SLACK_TOKEN = "xoxb-" + "1234567890-0987654321-" + "AbCdEfGhIj"
GOOGLE_KEY = "AIza" + "SyD3x-Gk9mQ2wLp7Zr4tVb1Nc8Hj5Ky0Uo6"
STRIPE_KEY = "sk_live_" + "51HbQ2cA7dE9fG3hJ5kL"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    + ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
    + ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2Tz2mr7SZiAMfQyuvBjM\n"
    "q1w2e3r4t5y6u7i8o9p0\n"
    "-----END RSA PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    "secret",
    [OPENAI_KEY, ANTHROPIC_KEY, AWS_KEY_ID, GITHUB_TOKEN, GITHUB_PAT, SLACK_TOKEN, GOOGLE_KEY,
     STRIPE_KEY, JWT],
    ids=["openai", "anthropic", "aws", "github", "github-pat", "slack", "google", "stripe", "jwt"],
)  # fmt: skip
def test_known_token_formats_are_redacted_inside_text(secret: str) -> None:
    text = f"calling the API with {secret} now"
    assert redact_text(text) == f"calling the API with {REDACTED} now"


def test_private_key_block_is_redacted_whole() -> None:
    text = f"key file:\n{PEM_KEY}\nend of file"
    assert redact_text(text) == f"key file:\n{REDACTED}\nend of file"


def test_truncated_private_key_block_is_redacted_to_the_end() -> None:
    truncated = "cat id_ed25519\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA"
    assert redact_text(truncated) == f"cat id_ed25519\n{REDACTED}"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Authorization: Bearer abc.DEF-123_xyz", f"Authorization: Bearer {REDACTED}"),
        (f"Authorization: Bearer {JWT}", f"Authorization: Bearer {REDACTED}"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", f"Authorization: Basic {REDACTED}"),
        (
            "curl -H 'Authorization: Token 9f8e7d6c5b4a'",
            f"curl -H 'Authorization: Token {REDACTED}'",
        ),
    ],
)
def test_authorization_schemes_are_redacted(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("postgres://app:hunter22@db.internal:5432/prod",
         f"postgres://app:{REDACTED}@db.internal:5432/prod"),
        ("https://alice:s3cr3t@git.example.com/repo.git",
         f"https://alice:{REDACTED}@git.example.com/repo.git"),
        ("mongodb+srv://admin:pa55word@cluster0.example.net/db",
         f"mongodb+srv://admin:{REDACTED}@cluster0.example.net/db"),
        # Redis URLs usually have a password and no user name.
        ("redis://:hunter22@cache:6379/0", f"redis://:{REDACTED}@cache:6379/0"),
    ],
    ids=["postgres", "https", "mongodb+srv", "redis-no-user"],
)  # fmt: skip
def test_url_credentials_are_redacted_keeping_user_and_host(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("api_key=abcd1234", f"api_key={REDACTED}"),
        ("export DB_PASSWORD=hunter22", f"export DB_PASSWORD={REDACTED}"),
        ("PASSWORD: hunter22", f"PASSWORD: {REDACTED}"),
        ("client_secret: zzz999", f"client_secret: {REDACTED}"),
        ("X-Api-Key: abc123def", f"X-Api-Key: {REDACTED}"),
        ("https://api.example.com/v1?access_token=q1w2e3r4&page=2",
         f"https://api.example.com/v1?access_token={REDACTED}&page=2"),
        ('{"api_key": "abcd1234xyz", "model": "gpt"}',
         f'{{"api_key": "{REDACTED}", "model": "gpt"}}'),
        ("{'password': 'hunter22'}", f"{{'password': '{REDACTED}'}}"),
    ],
)  # fmt: skip
def test_secret_named_assignments_are_redacted(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_quoted_passphrase_with_spaces_is_redacted_whole() -> None:
    text = 'login(password="correct horse battery staple")'
    redacted = redact_text(text)
    assert "horse" not in redacted
    assert "staple" not in redacted
    assert redacted == f'login(password="{REDACTED}")'


@pytest.mark.parametrize(
    "text",
    [
        "max_tokens=100",
        "tokens: 5",
        "input_tokens: 1234, output_tokens: 56",
        "token_count=5",
        "the password field is required",
        "passwords must match",
        "author: Jane Doe",
        "see https://example.com/docs/api?page=2&sort=asc",
        "git@github.com:org/repo.git",
        "commit 3f786850e387550fdab836ed7e6dc881de23001b",
        "the risk-assessment-framework-v2 module",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "uuid 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        # English prose with the words of authorization schemes in it.
        "This is a basic implementation of quicksort",
        "Use Basic authentication over TLS",
        "Implement token counting for the API",
        "The token expiration handling is broken",
        "bearer authentication is described in RFC 6750",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_text(text) == text


def test_redaction_is_idempotent() -> None:
    text = f"api_key={OPENAI_KEY} postgres://u:p4ss@h/db Bearer {JWT}"
    once = redact_text(text)
    assert redact_text(once) == once


def test_empty_text_is_returned_as_is() -> None:
    assert redact_text("") == ""


# --- structured values -----------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["password", "api_key", "apikey", "Authorization", "access_token", "refresh_token",
     "client_secret", "AWS_SECRET_ACCESS_KEY", "private_key", "cookie", "Set-Cookie", "dsn",
     "connection_string", "X-Auth-Token",
     # HTTP header spelling of API keys.
     "X-API-Key", "api-key"],
)  # fmt: skip
def test_secret_names_are_recognised(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    ["max_tokens", "tokens", "token_count", "author", "keyboard", "monkey", "secretary_name",
     "password_policy_url", "path"],
)  # fmt: skip
def test_ordinary_names_are_not_secret(key: str) -> None:
    assert not is_secret_key(key)


def test_secret_named_keys_lose_their_value_at_any_depth() -> None:
    value = {
        "url": "https://example.com",
        "auth": {"password": "hunter22", "user": "alice"},
        "headers": [{"Authorization": "whatever"}, {"Accept": "text/plain"}],
        "retries": 3,
        "api_key": 12345,
    }
    assert redact_value(value) == {
        "url": "https://example.com",
        "auth": {"password": REDACTED, "user": "alice"},
        "headers": [{"Authorization": REDACTED}, {"Accept": "text/plain"}],
        "retries": 3,
        "api_key": REDACTED,
    }


def test_http_headers_with_api_key_are_redacted() -> None:
    headers = {"X-API-Key": "abc123", "Content-Type": "application/json"}
    assert redact_value(headers) == {"X-API-Key": REDACTED, "Content-Type": "application/json"}


def test_empty_secret_values_are_kept_to_show_they_were_missing() -> None:
    assert redact_value({"password": "", "token": None}) == {"password": "", "token": None}


def test_strings_inside_structures_are_scrubbed() -> None:
    value = {"command": f"deploy --key {OPENAI_KEY}", "args": ["-u", "postgres://u:pw12@h/db"]}
    assert redact_value(value) == {
        "command": f"deploy --key {REDACTED}",
        "args": ["-u", f"postgres://u:{REDACTED}@h/db"],
    }


def test_non_string_scalars_pass_through() -> None:
    value = {"n": 1, "x": 2.5, "ok": True, "none": None}
    assert redact_value(value) == value


def test_redact_value_does_not_mutate_its_input() -> None:
    value = {"password": "hunter22", "nested": [{"token": "abc123"}]}
    redact_value(value)
    assert value == {"password": "hunter22", "nested": [{"token": "abc123"}]}


# --- the rules table -------------------------------------------------------------------

PGP_KEY = (
    "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n"
    "lQOYBGXj3bIBCADc1Zk9mQ2wLp7Zr4tVb1Nc8Hj5Ky0Uo6\n=Ab3d\n"
    "-----END PGP PRIVATE KEY BLOCK-----"
)

#: One example per rule of ``RULES``: text, and what the rule alone makes of it.
RULE_EXAMPLES: dict[str, tuple[str, str]] = {
    "private_key": (f"key:\n{PGP_KEY}\nnext", f"key:\n{REDACTED}\nnext"),
    "url_credentials": ("postgres://app:pa/ss@w0rd@db:5432/prod",
                        f"postgres://app:{REDACTED}@db:5432/prod"),
    "authorization_scheme": ("Authorization: Bearer abc.DEF-123_xyz",
                             f"Authorization: Bearer {REDACTED}"),
    "sk_key": (f"key {OPENAI_KEY} and {ANTHROPIC_KEY}", f"key {REDACTED} and {REDACTED}"),
    "aws_access_key": (f"id={AWS_KEY_ID}", f"id={REDACTED}"),
    "github_token": (f"{GITHUB_TOKEN} {GITHUB_PAT}", f"{REDACTED} {REDACTED}"),
    "slack_token": (f"token {SLACK_TOKEN}", f"token {REDACTED}"),
    "google_api_key": (f"?key={GOOGLE_KEY}", f"?key={REDACTED}"),
    "stripe_key": (STRIPE_KEY, REDACTED),
    "jwt": (f"jwt {JWT}", f"jwt {REDACTED}"),
    "secret_assignment": ("DB_PASSWORD=hunter22", f"DB_PASSWORD={REDACTED}"),
    "secret_key": ("client_secret", REDACTED),  # a mapping key: its value is replaced
}  # fmt: skip


def test_every_rule_has_an_example() -> None:
    assert [rule.name for rule in RULES] == list(RULE_EXAMPLES)
    assert len({rule.name for rule in RULES}) == len(RULES)


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_each_rule_redacts_its_example_on_its_own(rule: Rule) -> None:
    text, expected = RULE_EXAMPLES[rule.name]
    if rule.applies_to == "key":
        assert redact_value({text: "s3cr3t-value"}) == {text: expected}
        return
    lower = text.lower()
    assert rule.could_match(text, lower), "the cheap pre-test must let the example through"
    assert rule.pattern.sub(rule.replacement, text) == expected
    assert redact_text(text) == expected


def test_every_rule_is_in_the_security_docs() -> None:
    docs = (Path(__file__).parent.parent / "docs" / "security.md").read_text()
    for rule in RULES:
        assert f"`{rule.name}`" in docs, f"docs/security.md does not list {rule.name}"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("mysql://root:p@ss:w0rd@db:3306/x", f"mysql://root:{REDACTED}@db:3306/x"),
        ("https://u:tok3n@registry.example.com/@scope/pkg",
         f"https://u:{REDACTED}@registry.example.com/@scope/pkg"),
        ('cfg = "https://u:a/b@c@h/p"', f'cfg = "https://u:{REDACTED}@h/p"'),
        ("ftp://anonymous:@host/x", "ftp://anonymous:@host/x"),
    ],
    ids=["at-and-colon", "at-in-path", "slash-and-at-quoted", "empty-password"],
)  # fmt: skip
def test_url_passwords_holding_slash_or_at_are_redacted_whole(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    ["http://localhost:3000/@scope/pkg", "see https://mastodon.social/@alice", "a://b:8080/x@y"],
)
def test_a_port_or_an_at_in_the_path_is_not_a_password(text: str) -> None:
    assert redact_text(text) == text


def test_openssh_and_pgp_blocks_cut_short_are_redacted_to_the_end() -> None:
    text = "gpg --export-secret-keys\n-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBGXj3bIB"
    assert redact_text(text) == f"gpg --export-secret-keys\n{REDACTED}"


def test_mapping_keys_holding_a_secret_are_redacted_without_losing_values() -> None:
    value = {OPENAI_KEY: 1, f"x-{JWT}": 2, "plain": 3}
    assert redact_value(value) == {REDACTED: 1, f"x-{REDACTED}": 2, "plain": 3}
    assert redact_value({OPENAI_KEY: 1, ANTHROPIC_KEY: 2}) == {
        REDACTED: 1, f"{REDACTED} (2)": 2,
    }  # fmt: skip


def test_pathological_text_is_scanned_in_linear_time() -> None:
    import time

    texts = ["a." * 25_000 + "://", "x://u:" + "@" * 50_000, "-----BEGIN " * 4_000]
    started = time.perf_counter()
    for text in texts:
        redact_text(text)
    assert time.perf_counter() - started < 1.0


# --- redaction through the API ---------------------------------------------------------


def test_context_tool_names_and_item_keys_are_covered(tmp_path: Path) -> None:
    from selfmem import InvalidInputError, SelfLearningMemory, TaskContext

    store = tmp_path / "mem"
    with SelfLearningMemory.open(store, flush_interval_s=None) as memory:
        eid = memory.start_episode(
            "Deploy",
            TaskContext(domain=f"ops {OPENAI_KEY}", language=f"py {GITHUB_TOKEN}",
                        framework=f"x {SLACK_TOKEN}", tags=[AWS_KEY_ID, "deploy"]),
        )  # fmt: skip
        context = memory.get_episode(eid).context
        assert (context.domain, context.language, context.framework) == (
            f"ops {REDACTED}", f"py {REDACTED}", f"x {REDACTED}",
        )  # fmt: skip
        assert context.tags == [REDACTED.lower(), "deploy"]  # AWS ids are caught lower-cased
        step = memory.log_step(eid, tool=f"curl-{OPENAI_KEY}", observation="ok")
        assert step.tool == f"curl-{REDACTED}"
        with pytest.raises(InvalidInputError) as info:
            memory.put_item(("cfg",), OPENAI_KEY, {"x": 1})
        assert info.value.field == "key" and OPENAI_KEY not in str(info.value)
        with pytest.raises(InvalidInputError):
            memory.put_item(("cfg", f"team-{GITHUB_TOKEN}"), "k", {"x": 1})
        memory.put_item(("cfg",), "headers", {JWT: "value"})
        memory.flush()
    stored = b"".join(f.read_bytes() for f in store.rglob("*") if f.is_file())
    for secret in (OPENAI_KEY, GITHUB_TOKEN, SLACK_TOKEN, AWS_KEY_ID, JWT):
        assert secret.encode() not in stored
        assert secret.lower().encode() not in stored
