"""The web application: routers, security headers, limits, error shapes.

``create_app`` assembles the parts; ``connect_writer`` subscribes the live
stream and ``/metrics`` to the run loop's writer. Errors always have a
shape the caller expects: Prometheus's envelope under ``/api/v1``, FastAPI's
``{"detail": ...}`` under ``/api/wk``, a login redirect or a short page in
the browser; never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from watchkeeper._version import __version__
from watchkeeper.config.web import WebConfig
from watchkeeper.model import MetricMeta
from watchkeeper.store.base import Store
from watchkeeper.web.alert_board import AlertBoard
from watchkeeper.web.alerts_api import alertmanager_router, alerts_router
from watchkeeper.web.api import api_router
from watchkeeper.web.auth import CsrfError, Forbidden, LoginRequired, WebAuth
from watchkeeper.web.authdb import AuthDB, Role
from watchkeeper.web.context import NotAvailable, WebContext
from watchkeeper.web.dashboard import dashboard_router, login_redirect
from watchkeeper.web.live import LiveHub
from watchkeeper.web.metrics import SelfMetrics, metrics_router
from watchkeeper.web.prom_api import prom_router
from watchkeeper.web.prom_format import ApiError, error_response

if TYPE_CHECKING:
    from watchkeeper.alerts.service import AlertService
    from watchkeeper.notify.notifier import Notifier

__all__ = ["SECURITY_HEADERS", "connect_writer", "create_app", "watch_alerts_db"]

#: How often the web looks whether another connection (the notifier, the CLI)
#: changed alerts.db, to push an ``alerts`` event to open pages.
ALERTS_DB_WATCH_S = 0.5

log = logging.getLogger("watchkeeper.web")

STATIC_DIR = Path(__file__).parent / "static"
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        b"form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class GuardMiddleware:
    """Security headers on every response, and a cap on request bodies (413).

    Pure ASGI (not BaseHTTPMiddleware) so the live event stream is not buffered.
    """

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_body
            except ValueError:
                too_big = True
            if too_big:
                await self._refuse(send, 413, f"request body over {self.max_body} bytes")
                return
        elif headers.get(b"transfer-encoding"):
            # Chunked: read (up to the cap) before the app sees it.
            body = bytearray()
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return
                body += message.get("body", b"")
                if len(body) > self.max_body:
                    await self._refuse(send, 413, f"request body over {self.max_body} bytes")
                    return
                if not message.get("more_body"):
                    break
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": bytes(body), "more_body": False}
                return await receive()

            receive = replay

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _refuse(self, send: Send, status: int, text: str) -> None:
        body = json.dumps({"detail": text}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _is_prom(request: Request) -> bool:
    return request.url.path.startswith("/api/v1/")


def _is_api(request: Request) -> bool:
    path = request.url.path
    return (path.startswith("/api/") and path != "/api/docs") or path == "/metrics"


def _error(
    request: Request, status: int, kind: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    if _is_prom(request):
        return error_response(ApiError(kind, message, status), headers)
    if _is_api(request):
        return Response(
            json.dumps({"detail": message}), status, media_type="application/json", headers=headers
        )
    page = (
        f"<!doctype html><title>{status}</title><p>{_html(message)}</p>"
        '<p><a href="/">Back to the overview</a></p>'
    )
    return HTMLResponse(page, status, headers=headers)


def _html(text: str) -> str:
    import html

    return html.escape(text)


def create_app(
    *,
    config: WebConfig,
    store: Store,
    auth_db: AuthDB,
    board: AlertBoard | None = None,
    metadata: Sequence[MetricMeta] = (),
    health: Any = None,
    stats: Any = None,
    rules_enabled: bool = False,
    alerts: AlertService | None = None,
    notifier: Notifier | None = None,
) -> FastAPI:
    """The whole web application over ``store`` (and optional parts).

    ``alerts`` (an ``AlertService`` on its own connection to alerts.db) backs
    acknowledgements, silences and notification history; ``notifier`` takes
    the alerts posted to ``/api/v2/alerts``. Without them those answer 501.
    """
    from watchkeeper.health.runner import HealthRunner

    # No checks configured: an empty runner, so /health and the API say "pass".
    health = health if health is not None else HealthRunner([])
    auth = WebAuth(auth_db, config.auth, config.trusted_proxies)
    ctx = WebContext(
        config=config,
        store=store,
        auth=auth,
        board=board or AlertBoard(),
        hub=LiveHub(),
        metadata=metadata,
        health=health,
        stats=stats,
        rules_enabled=rules_enabled,
        alerts=alerts,
        notifier=notifier,
    )
    self_metrics = SelfMetrics(ctx, metadata)
    ctx.board.subscribers.append(ctx.hub.on_alert_changes)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ctx.hub.bind(asyncio.get_running_loop())
        watcher = asyncio.create_task(watch_alerts_db(ctx)) if ctx.alerts is not None else None
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            ctx.hub.close()

    app = FastAPI(
        title="watchkeeper",
        version=__version__,
        description="watchkeeper's API: Prometheus-compatible queries under /api/v1, "
        "watchkeeper's own resources under /api/wk/v1. Authenticate with a bearer token.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.self_metrics = self_metrics

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return _error(request, exc.status, exc.error_type, str(exc))

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        if _is_api(request) or request.method != "GET":
            return _error(
                request,
                401,
                "unauthorized",
                "authentication required: log in or send Authorization: Bearer <token>",
                {"WWW-Authenticate": 'Bearer realm="watchkeeper"'},
            )
        return login_redirect(request)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return _error(request, 403, "forbidden", str(exc))

    @app.exception_handler(CsrfError)
    async def _csrf(request: Request, exc: CsrfError) -> Response:
        return _error(request, 403, "forbidden", str(exc))

    @app.exception_handler(NotAvailable)
    async def _unavailable(request: Request, exc: NotAvailable) -> Response:
        return _error(request, 501, "unavailable", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if _is_prom(request):
            return _error(request, 400, "bad_data", _describe(exc))
        return Response(
            json.dumps({"detail": _jsonable(exc.errors())}), 422, media_type="application/json"
        )

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        kind = {404: "not_found", 405: "bad_data", 503: "unavailable"}.get(
            exc.status_code, "bad_data"
        )
        return _error(request, exc.status_code, kind, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(request, 500, "internal", "internal error (logged on the server)")

    from watchkeeper.web.health import health_router

    async def note_principal(request: Request) -> None:
        await auth.identify(request)

    app.include_router(
        health_router(
            health or HealthRunner([]), lambda r: getattr(r.state, "principal", None) is not None
        ),
        dependencies=[Depends(note_principal)],
        include_in_schema=False,
    )
    app.include_router(prom_router(ctx))
    app.include_router(api_router(ctx))
    app.include_router(alerts_router(ctx))
    app.include_router(alertmanager_router(ctx))
    app.include_router(metrics_router(ctx, self_metrics), include_in_schema=False)
    app.include_router(dashboard_router(ctx))

    @app.get(
        "/api/openapi.json",
        include_in_schema=False,
        dependencies=[Depends(auth.require(Role.VIEWER))],
    )
    async def openapi() -> Response:
        return Response(json.dumps(app.openapi()), media_type="application/json")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(GuardMiddleware, max_body=config.max_request_bytes)
    return app


async def watch_alerts_db(ctx: WebContext, interval_s: float = ALERTS_DB_WATCH_S) -> None:
    """Push ``alerts`` to open pages when alerts.db changes under the web's feet.

    The notifier (alerts posted to /api/v2, resolutions) and the CLI (acks,
    silences) write from other connections. ``PRAGMA data_version`` tells
    cheaply that someone committed; a second look at the history and the
    silences tells whether it was something a page shows, not just an
    outbox row being marked sent.
    """
    from starlette.concurrency import run_in_threadpool

    assert ctx.alerts is not None
    db = ctx.alerts.db

    def signature() -> tuple[object, ...]:
        h = db.query("SELECT MAX(id) FROM alert_history")[0][0]
        s = db.query("SELECT COUNT(*), SUM(ends_at) FROM silences")[0]
        return (h, *tuple(s))

    version = await run_in_threadpool(db.data_version)
    seen = await run_in_threadpool(signature)
    while True:
        await asyncio.sleep(interval_s)
        if not ctx.hub.clients:
            continue
        try:
            now = await run_in_threadpool(db.data_version)
            if now == version:
                continue
            version = now
            sig = await run_in_threadpool(signature)
        except Exception:  # a locked or closed database must not end the watcher
            log.debug("alerts.db watch failed", exc_info=True)
            continue
        if sig != seen:
            seen = sig
            ctx.hub.notify("alerts", {"changes": [], "source": "alerts.db"})


def connect_writer(app: FastAPI, writer: Any) -> None:
    """Feed the live stream and ``/metrics`` from the run loop's ``BatchWriter``."""
    ctx: WebContext = app.state.ctx
    writer.on_written.append(ctx.hub.on_written)
    writer.on_written.append(app.state.self_metrics.on_written)


def _describe(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e.get("loc", ()) if p not in ("query", "body", "path"))
        parts.append(f'invalid parameter "{loc}": {e.get("msg", "invalid")}')
    return "; ".join(parts) or "invalid request"


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
