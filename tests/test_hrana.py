"""The server transport (Hrana over HTTP) against a real sqld: values, atomic batches,
guards, and the errors a user sees."""

from __future__ import annotations

import warnings

import pytest

from selfmem.errors import StorageError
from selfmem.storage.hrana import HranaTransport, http_base
from selfmem.storage.libsql_connection import GuardFailed
from selfmem.storage.libsql_store import LibSQLStore
from selfmem.storage.transport import DriverError, Statement, guard

from .sqld_server import SqldServer


@pytest.fixture
def transport(sqld: SqldServer, namespace: str) -> HranaTransport:
    client = HranaTransport(sqld.url, None, timeout_s=10)
    table = namespace.replace("-", "_")
    client.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, value)")
    client.table = table  # type: ignore[attr-defined]
    return client


def test_every_value_type_round_trips(transport: HranaTransport) -> None:
    values = (2**62, -7, 1.5, "naïve ✓ text", b"", b"\x00", b"\x00\xff" * 100, None, True)
    (row,) = transport.execute("SELECT " + ", ".join("?" * len(values)), values)
    assert row == (2**62, -7, 1.5, "naïve ✓ text", b"", b"\x00", b"\x00\xff" * 100, None, 1)


def test_a_transaction_is_all_or_nothing(transport: HranaTransport) -> None:
    table = transport.table  # type: ignore[attr-defined]
    insert = f"INSERT INTO {table} (id, value) VALUES (?, ?) RETURNING id"
    results = transport.transaction([Statement(insert, (1, "a")), Statement(insert, (2, "b"))])
    assert results == [[(1,)], [(2,)]]
    with pytest.raises(DriverError, match="UNIQUE"):
        transport.transaction([Statement(insert, (3, "c")), Statement(insert, (1, "again"))])
    assert transport.execute(f"SELECT id FROM {table} ORDER BY id") == [(1,), (2,)]
    # the server's stream is clean afterwards: the next transaction commits
    transport.transaction([Statement(insert, (3, "c"))])
    assert transport.execute(f"SELECT count(*) FROM {table}") == [(3,)]


def test_a_broken_guard_rolls_the_transaction_back(sqld: SqldServer, namespace: str) -> None:
    store = LibSQLStore(sqld.url)
    try:
        store.set_meta(f"{namespace}-a", b"1")
        write = Statement(
            "INSERT INTO selfmem_meta (name, value) VALUES (?, ?)", (f"{namespace}-b", b"2")
        )
        a_exists = guard(
            "a exists", "EXISTS (SELECT 1 FROM selfmem_meta WHERE name = ?)", (f"{namespace}-a",)
        )
        with pytest.raises(GuardFailed, match="precondition failed"):
            store._write([write, a_exists])
        assert store.get_meta(f"{namespace}-b") is None
        store._write([write, guard("no c", "changes() = 0")])  # the insert changed a row
        assert store.get_meta(f"{namespace}-b") == b"2"
    finally:
        store.close()


def test_values_the_database_cannot_hold_are_refused(transport: HranaTransport) -> None:
    with pytest.raises(DriverError, match="cannot send a dict"):
        transport.execute("SELECT ?", ({"a": 1},))


def test_a_url_that_is_not_a_libsql_server_gives_a_storage_error(sqld: SqldServer) -> None:
    with pytest.raises(StorageError, match="status=404"):
        LibSQLStore(f"{sqld.url}/not-here")
    with pytest.raises(StorageError, match="not a libSQL server URL"):
        LibSQLStore("http://")


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("libsql://db-org.turso.io", "https://db-org.turso.io"),
        ("libsql://127.0.0.1:8080?tls=0", "http://127.0.0.1:8080"),
        ("wss://db.example.com/", "https://db.example.com"),
        ("ws://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("https://memory.internal:443", "https://memory.internal:443"),
    ],
)
def test_libsql_urls_map_to_http(url: str, base: str) -> None:
    assert http_base(url) == base


def test_a_token_over_plain_http_to_another_host_is_warned_about_once() -> None:
    url = "http://10.0.0.7:8080"  # constructing the transport sends nothing
    with pytest.warns(UserWarning, match="over plain HTTP") as caught:
        HranaTransport(url, "secret-token", timeout_s=1)
        HranaTransport(url, "secret-token", timeout_s=1)  # the same URL: not again
        HranaTransport("libsql://10.0.0.8:8080?tls=0", "secret-token", timeout_s=1)
    assert len(caught) == 2 and "secret-token" not in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        HranaTransport("http://127.0.0.1:8080", "secret-token", timeout_s=1)  # loopback
        HranaTransport("http://localhost:8080", "secret-token", timeout_s=1)
        HranaTransport("http://[::1]:8080", "secret-token", timeout_s=1)
        HranaTransport("https://memory.internal", "secret-token", timeout_s=1)  # TLS
        HranaTransport("http://10.0.0.9:8080", None, timeout_s=1)  # no token to leak
