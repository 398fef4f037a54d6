"""Streamable HTTP: loopback by default, an optional static bearer token."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from mcp.server.mcpserver import MCPServer
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["LOOPBACK", "BearerTokenMiddleware", "build_http_app", "run_http"]

logger = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class BearerTokenMiddleware:
    """Answer 401 to every HTTP request without ``Authorization: Bearer <token>``.

    The comparison is constant-time. Lifespan events pass through untouched.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        if not token:
            raise ValueError("the bearer token must not be empty")
        self.app = app
        self._token = token.encode()

    def _authorized(self, scope: Scope) -> bool:
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        value = next((v for k, v in headers if k.lower() == b"authorization"), b"")
        scheme, _, credentials = value.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self._token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not self._authorized(scope):
            response = JSONResponse(
                {"error": "unauthorized", "detail": "missing or wrong bearer token"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="selfmem"'},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def build_http_app(
    server: MCPServer[Any], *, host: str = "127.0.0.1", path: str = "/mcp", token: str | None
) -> ASGIApp:
    """The ASGI app serving ``server`` at ``path``, behind the token when one is given.

    On a loopback host the SDK also checks ``Host`` and ``Origin`` headers (DNS rebinding).
    """
    app: ASGIApp = server.streamable_http_app(streamable_http_path=path, host=host)
    return BearerTokenMiddleware(app, token) if token else app


def run_http(
    server: MCPServer[Any],
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    path: str = "/mcp",
    token: str | None = None,
    log_level: str = "warning",
) -> None:
    """Serve over streamable HTTP until interrupted (Ctrl-C or SIGTERM)."""
    import uvicorn

    if host not in LOOPBACK and not token:
        logger.warning("serving on %s without a bearer token: anyone who can reach it can "
                       "read and write this memory", host)  # fmt: skip
    app = build_http_app(server, host=host, path=path, token=token)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
