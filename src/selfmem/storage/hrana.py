"""A libSQL server (sqld or Turso) over HTTP: the Hrana protocol's ``/v2/pipeline``.

Each call is one HTTP request on a kept-alive connection, bounded in wall-clock time: the
request's deadline is computed once, and connecting, sending and every read of the answer
get only what is left of it, so a server that trickles bytes cannot hold a caller longer
(DNS lookups are the one step not bounded). A write
transaction is one request too: a Hrana *batch* whose steps are ``BEGIN IMMEDIATE``, the
statements (each run only if the one before succeeded), ``COMMIT``, and a ``ROLLBACK`` that
runs only if the commit did not. The server therefore holds its write lock only while it
executes the batch, never across network round trips, which is what keeps many writer
processes from queueing behind a slow client (or one that died mid-transaction).

Failures are :class:`~selfmem.storage.transport.DriverError` with messages the retry
classifier understands: ``status=401`` for a refused token, ``status=503`` for overload,
``error trying to connect`` / ``connection closed`` / ``timed out`` for the network.
"""

from __future__ import annotations

import base64
import http.client
import io
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .transport import DriverError, Rows, Statement

__all__ = ["HranaTransport", "http_base"]

logger = logging.getLogger(__name__)

_HTTPS_SCHEMES = {"libsql": "https", "wss": "https", "ws": "http", "https": "https"}


def http_base(url: str) -> str:
    """The HTTP(S) base of a libSQL URL: ``libsql://`` and ``wss://`` use HTTPS unless the
    URL says ``?tls=0``."""
    parts = urlsplit(url)
    scheme = _HTTPS_SCHEMES.get(parts.scheme, parts.scheme)
    if parse_qs(parts.query).get("tls") == ["0"]:
        scheme = "http"
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"


_warned: set[str] = set()
_warned_lock = threading.Lock()


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it could resolve anywhere


def _warn_plain_http(url: str, host: str) -> None:
    """Once per process and URL: the token would cross the network readable by anyone."""
    with _warned_lock:
        if url in _warned:
            return
        _warned.add(url)
    warnings.warn(
        f"sending an auth token to {url} over plain HTTP: anyone on the network between "
        f"this process and {host} can read it; use https:// (TLS in front of sqld)",
        UserWarning,
        stacklevel=5,
    )


class _Clock:
    """The deadline of the request in flight (a ``time.monotonic()`` value)."""

    deadline = 0.0

    def left(self) -> float:
        """The time left for the next socket operation; ``TimeoutError`` if none is."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request deadline passed")
        return remaining


class _TimedReader(io.RawIOBase):
    """A socket's reads, each allowed only what is left of the request's deadline."""

    def __init__(self, sock: socket.socket, clock: _Clock) -> None:
        super().__init__()
        self._sock = sock
        self._clock = clock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(self._clock.left())
        return self._sock.recv_into(buffer)


class _TimedSocket:
    """What an HTTP response is read from: the socket, through a :class:`_TimedReader`."""

    def __init__(self, sock: socket.socket, clock: _Clock) -> None:
        self._sock = sock
        self._clock = clock

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_TimedReader(self._sock, self._clock))


class _TimedHTTP(http.client.HTTPConnection):
    """An HTTP connection whose connect, sends and reads share one deadline."""

    def __init__(self, host: str, port: int | None, ssl_context: ssl.SSLContext | None) -> None:
        super().__init__(host, port)
        self.clock = _Clock()
        self._ssl = ssl_context

    def connect(self) -> None:
        self.timeout = self.clock.left()
        super().connect()
        if self._ssl is not None:  # the handshake is bounded by what is left, as a whole
            self.sock.settimeout(self.clock.left())
            self.sock = self._ssl.wrap_socket(self.sock, server_hostname=self.host)

    def send(self, data: Any) -> None:
        if self.sock is None:
            self.connect()
        self.sock.settimeout(self.clock.left())  # sendall is bounded as a whole by it
        super().send(data)

    def response_class(  # type: ignore[override]
        self, sock: socket.socket, *args: Any, **kwargs: Any
    ) -> http.client.HTTPResponse:
        return http.client.HTTPResponse(_TimedSocket(sock, self.clock), *args, **kwargs)  # type: ignore[arg-type]


def _encode(value: Any) -> dict[str, Any]:
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool | int):
        return {"type": "integer", "value": str(int(value))}
    if isinstance(value, float):
        return {"type": "float", "value": value}
    if isinstance(value, str):
        return {"type": "text", "value": value}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"type": "blob", "base64": base64.b64encode(bytes(value)).decode("ascii")}
    raise DriverError(f"cannot send a {type(value).__name__} to libSQL")


def _decode(value: dict[str, Any]) -> Any:
    kind = value["type"]
    if kind == "integer":
        return int(value["value"])
    if kind == "blob":
        data = value.get("base64", "")
        return base64.b64decode(data + "=" * (-len(data) % 4))
    if kind in ("text", "float"):
        return value["value"]
    return None


def _stmt(sql: str, params: Sequence[Any]) -> dict[str, Any]:
    return {"sql": sql, "args": [_encode(p) for p in params], "want_rows": True}


def _rows(result: dict[str, Any]) -> Rows:
    return [tuple(_decode(v) for v in row) for row in result.get("rows", ())]


class HranaTransport:
    """Statements and transactions for one server, each in one request.

    ``timeout_s`` bounds every request in wall-clock time (connecting, sending, waiting
    for and reading the answer); a request never runs past ``deadline`` either (a
    ``time.monotonic()`` value the caller may set, e.g. the end of its retries). An auth
    token sent over plain ``http://`` to a host that is not loopback is warned about, once
    per process and URL."""

    def __init__(self, url: str, auth_token: str | None, timeout_s: float) -> None:
        base = urlsplit(http_base(url))
        if base.scheme not in ("http", "https") or not base.hostname:
            raise DriverError(f"not a libSQL server URL: {url!r}")
        self.url = url
        self._https = base.scheme == "https"
        self._host = base.hostname
        self._port = base.port
        self._path = f"{base.path}/v2/pipeline"
        self._headers = {"Content-Type": "application/json"}
        if auth_token:
            self._headers["Authorization"] = f"Bearer {auth_token}"
            if not self._https and not _is_loopback(base.hostname):
                _warn_plain_http(url, base.hostname)
        self.timeout_s = timeout_s
        self.deadline: float | None = None
        self._http: _TimedHTTP | None = None

    # -- the two operations -----------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        result = self._pipeline({"type": "execute", "stmt": _stmt(sql, params)})
        return _rows(result["result"])

    def transaction(self, statements: Sequence[Statement]) -> list[Rows]:
        steps: list[dict[str, Any]] = [{"stmt": {"sql": "BEGIN IMMEDIATE"}}]
        for statement in statements:
            steps.append(
                {
                    "condition": {"type": "ok", "step": len(steps) - 1},
                    "stmt": _stmt(statement.sql, statement.params),
                }
            )
        commit = len(steps)
        steps.append({"condition": {"type": "ok", "step": commit - 1}, "stmt": {"sql": "COMMIT"}})
        steps.append(
            {
                "condition": {"type": "not", "cond": {"type": "ok", "step": commit}},
                "stmt": {"sql": "ROLLBACK"},
            }
        )
        result = self._pipeline({"type": "batch", "batch": {"steps": steps}})["result"]
        errors = result["step_errors"][: commit + 1]
        failed = next((e for e in errors if e is not None), None)
        if failed is not None:
            raise DriverError(failed.get("message", "the transaction failed"))
        return [_rows(r) for r in result["step_results"][1:commit]]

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    # -- HTTP -------------------------------------------------------------------------------

    def _connection(self) -> _TimedHTTP:
        if self._http is None:
            context = ssl.create_default_context() if self._https else None
            self._http = _TimedHTTP(self._host, self._port, context)
        return self._http

    def _pipeline(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one request and a ``close`` in one pipeline; the request's response."""
        body = json.dumps({"baton": None, "requests": [request, {"type": "close"}]})
        status, payload = self._post(body.encode())
        if status != 200:
            raise DriverError(f"HTTP status={status}: {payload[:500].decode(errors='replace')}")
        try:
            answer = json.loads(payload)["results"][0]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise DriverError(f"unexpected answer from {self.url}: {payload[:200]!r}") from exc
        if answer.get("type") != "ok":
            error = answer.get("error") or {}
            raise DriverError(str(error.get("message", answer)))
        response: dict[str, Any] = answer["response"]
        return response

    def _post(self, body: bytes) -> tuple[int, bytes]:
        budget = self.timeout_s
        if self.deadline is not None:
            budget = min(budget, self.deadline - time.monotonic())
        connection = self._connection()
        connection.clock.deadline = time.monotonic() + budget
        try:
            connection.request("POST", self._path, body, self._headers)
            response = connection.getresponse()
            return response.status, response.read()
        except TimeoutError as exc:
            self.close()
            raise DriverError(
                f"request to {self.url} timed out after {max(budget, 0):.3g} s"
            ) from exc
        except ConnectionRefusedError as exc:
            self.close()
            raise DriverError(f"error trying to connect to {self.url}: {exc}") from exc
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise DriverError(f"connection closed by {self.url}: {exc!r}") from exc
