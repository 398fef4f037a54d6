"""The dashboard's ASGI app: routes, guards (bearer token, host and origin checks, read-only
by default), error pages, and :func:`serve` to run it with uvicorn."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import InvalidInputError, NotFoundError, SelfMemError
from ..memory import SelfLearningMemory
from .pages import Dashboard
from .views import ChartCache

__all__ = ["LOOPBACK", "TOKEN_COOKIE", "build_app", "serve"]

logger = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: The cookie a browser keeps the token in after opening ``/?token=...`` once.
TOKEN_COOKIE = "selfmem_ui_token"


class _Guard:
    """Bearer token (header, or the cookie set by ``?token=``), allowed ``Host`` headers
    (DNS rebinding) and same-origin POSTs (cross-site form posts)."""

    def __init__(self, app: ASGIApp, token: str | None, hosts: tuple[str, ...] | None) -> None:
        self.app = app
        self._token = token.encode() if token else None
        self._hosts = hosts

    def _header(self, scope: Scope, name: bytes) -> bytes:
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        return next((v for k, v in headers if k.lower() == name), b"")

    def _authorized(self, request: Request) -> bool:
        if self._token is None:
            return True
        scheme, _, given = self._header(request.scope, b"authorization").partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self._token):
            return True
        cookie = request.cookies.get(TOKEN_COOKIE, "").encode()
        return bool(cookie) and hmac.compare_digest(cookie, self._token)

    def _refusal(self, request: Request) -> Response | None:
        host = urlsplit("//" + self._header(request.scope, b"host").decode("latin-1")).hostname
        if self._hosts is not None and host not in self._hosts:
            return PlainTextResponse("unknown Host header", status_code=421)
        origin = self._header(request.scope, b"origin").decode("latin-1")
        if request.method == "POST" and origin and urlsplit(origin).hostname != host:
            return PlainTextResponse("cross-origin request refused", status_code=403)
        query_token = request.query_params.get("token")
        if self._token is not None and query_token is not None:
            if not hmac.compare_digest(query_token.encode(), self._token):
                return _unauthorized()
            # the token leaves the address bar; the browser keeps it in a strict cookie
            target = request.url.remove_query_params("token")
            response = RedirectResponse(str(target.path) + (f"?{target.query}" if target.query
                                                            else ""), status_code=303)  # fmt: skip
            response.set_cookie(TOKEN_COOKIE, query_token, httponly=True, samesite="strict")
            return response
        return None if self._authorized(request) else _unauthorized()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(Request(scope))
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _unauthorized() -> Response:
    return PlainTextResponse(
        "missing or wrong bearer token (send 'Authorization: Bearer <token>' or open "
        "/?token=<token> once)",
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="selfmem"'},
    )


def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("selfmem.ui", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _error_page(
    dashboard: Dashboard, status: int, title: str
) -> Callable[[Request, Exception], Response]:
    def handle(request: Request, exc: Exception) -> Response:
        return dashboard.render(request, "error.html", status=status, title=title,
                                message=str(exc))  # fmt: skip

    return handle


def build_app(
    memory: SelfLearningMemory,
    *,
    allow_writes: bool = False,
    token: str | None = None,
    hosts: tuple[str, ...] | None = LOOPBACK,
    location: str | None = None,
    charts_max_age_s: float = 30.0,
) -> ASGIApp:
    """The dashboard over ``memory`` as an ASGI app.

    ``allow_writes`` enables deleting episodes and recording feedback (POST forms).
    ``token``: every request must carry it (``Authorization: Bearer``, or the cookie set by
    opening ``/?token=...``). ``hosts``: the accepted ``Host`` names (None accepts any; the
    default accepts loopback names only). ``location``: the store directory, for its size.
    ``charts_max_age_s``: how long the learning page's charts are reused before they are
    computed again.
    """
    dashboard = Dashboard(memory, _templates(), allow_writes=allow_writes, location=location,
                          charts=ChartCache(charts_max_age_s))  # fmt: skip
    routes = [
        Route("/", dashboard.episodes, name="episodes"),
        Route("/episodes/{episode_id}", dashboard.episode, name="episode"),
        Route("/episodes/{episode_id}/delete", dashboard.delete, methods=["POST"]),
        Route("/episodes/{episode_id}/feedback", dashboard.feedback, methods=["POST"]),
        Route("/patterns", dashboard.patterns, name="patterns"),
        Route("/patterns/{pattern_id}", dashboard.pattern, name="pattern"),
        Route("/learning", dashboard.learning, name="learning"),
        Route("/ask", dashboard.ask, name="ask"),
        Route("/health", dashboard.health, name="health"),
        Mount("/static", StaticFiles(packages=[("selfmem.ui", "static")]), name="static"),
    ]
    handlers = {
        NotFoundError: _error_page(dashboard, 404, "Not found"),
        InvalidInputError: _error_page(dashboard, 400, "Bad request"),
        PermissionError: _error_page(dashboard, 403, "Read-only"),
        SelfMemError: _error_page(dashboard, 500, "Error"),
    }
    app = Starlette(routes=routes, exception_handlers=handlers)
    return _Guard(app, token, hosts)


def serve(
    memory: SelfLearningMemory,
    *,
    host: str = "127.0.0.1",
    port: int = 8766,
    allow_writes: bool = False,
    token: str | None = None,
    location: str | None = None,
    log_level: str = "warning",
    charts_max_age_s: float = 30.0,
) -> None:
    """Serve the dashboard until interrupted. A non-loopback ``host`` needs a ``token``."""
    import uvicorn

    if host not in LOOPBACK and not token:
        raise InvalidInputError(
            f"binding to {host} needs a bearer token (--token or $SELFMEM_UI_TOKEN)", field="token"
        )
    hosts = LOOPBACK if host in LOOPBACK else None
    app = build_app(memory, allow_writes=allow_writes, token=token, hosts=hosts,
                    location=location, charts_max_age_s=charts_max_age_s)  # fmt: skip
    uvicorn.run(app, host=host, port=port, log_level=log_level)
