"""A bounded first contact with a libSQL server, before the driver takes over.

The ``libsql`` driver has no request timeout for servers and holds the GIL while it
waits, so a server that accepts connections but never answers would hang the whole
process. Opening a remote store therefore first sends ``SELECT 1`` through the server's
HTTP API (``POST /v2/pipeline``) with a socket timeout, which also tells an auth failure
(401/403) apart from an unreachable server before any real work starts.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from enum import Enum

__all__ = ["ProbeResult", "http_base", "probe"]

logger = logging.getLogger(__name__)

_BODY = json.dumps(
    {"requests": [{"type": "execute", "stmt": {"sql": "SELECT 1"}}, {"type": "close"}]}
).encode()


class ProbeResult(Enum):
    OK = "ok"
    AUTH = "auth"
    UNREACHABLE = "unreachable"
    OVERLOADED = "overloaded"


def http_base(url: str) -> str:
    """The HTTP(S) base of a libSQL URL (``libsql://`` and ``wss://`` use HTTPS)."""
    scheme, _, rest = url.partition("://")
    mapped = {"libsql": "https", "wss": "https", "ws": "http"}.get(scheme, scheme)
    return f"{mapped}://{rest.split('?', 1)[0].rstrip('/')}"


def probe(url: str, auth_token: str | None, timeout_s: float) -> tuple[ProbeResult, str]:
    """Send ``SELECT 1`` to the server; the result and a reason for the log or an error."""
    request = urllib.request.Request(
        f"{http_base(url)}/v2/pipeline",
        data=_BODY,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    if auth_token:
        request.add_header("Authorization", f"Bearer {auth_token}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout_s) as response:
            response.read()
            return ProbeResult.OK, f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        reason = f"HTTP {exc.code} {exc.reason}"
        if exc.code in (401, 403):
            return ProbeResult.AUTH, reason
        if exc.code in (429, 502, 503, 504):
            return ProbeResult.OVERLOADED, reason
        # Some other answer (e.g. a server without this endpoint): it is up; the driver
        # reports anything that is really wrong.
        logger.debug("probe of %s answered %s", url, reason)
        return ProbeResult.OK, reason
    except OSError as exc:  # URLError, timeouts, refused and reset connections, TLS
        cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return ProbeResult.UNREACHABLE, str(cause)
