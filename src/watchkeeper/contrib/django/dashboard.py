"""The full watchkeeper dashboard and API inside the Django site, behind Django's own login.

``<include>/dashboard/...`` is forwarded, in process, to the watchkeeper web
application (``watchkeeper.web.app.create_app``) after the view checked
``request.user`` (staff or ``staff_group``): no second login. The identity
travels in the ASGI scope under ``watchkeeper.web.auth.EMBEDDED_PRINCIPAL``,
a key no server sets from the wire, so it cannot be forged with a header;
Django's cookies and ``Authorization`` are not passed on. Roles: see
``dashboard_role`` (superusers and ``admin_group`` admin, ``operator_group`` or
every staff member operator, the rest viewer). State
changes need the per-session CSRF token the embedded pages carry (derived
from the Django session), so Django's CSRF middleware is not needed here.

The app reads the store read-only (``manage.py watchkeeper run`` is the
writer) and runs on one event loop thread per process (the one the health
checks use). Responses are buffered: the live event stream is switched off
in embedded pages (charts load on page view), so no worker is held by a
never-ending response. The web app writes absolute URLs (``/api/...``,
``/static/...``); pages, scripts and redirects are rewritten to the
include's prefix on the way out.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import threading
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

__all__ = ["dashboard"]

#: Seconds a forwarded request may take before the view gives up (504).
TIMEOUT = 60.0
_NOT_FORWARDED = {"cookie", "authorization", "host"}
_REWRITTEN = ("text/html", "javascript")
_ATTRS = re.compile(rb'((?:href|src|action)=")/(?!/)')
_JS_PATHS = re.compile(rb'(["\'])/(api/|login\b|static/)')


class _Embedded:
    """The web app of this process, built on first use (the configuration is large)."""

    def __init__(self) -> None:
        self.app: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def get(self) -> tuple[Any, asyncio.AbstractEventLoop]:
        with self._lock:
            if self.app is None or self.loop is None:
                self.app, self.loop = self._build()
            return self.app, self.loop

    def _build(self) -> tuple[Any, asyncio.AbstractEventLoop]:
        from watchkeeper.contrib.django.health import get_runner
        from watchkeeper.contrib.django.settings import get_site_settings
        from watchkeeper.store import open_store
        from watchkeeper.web.app import create_app
        from watchkeeper.web.authdb import AuthDB

        config = get_site_settings().config
        path = config.storage.path.expanduser()
        if not path.exists():
            raise NoStore(path)
        store = open_store(path, readonly=True)
        health, loop = get_runner()
        app = create_app(
            config=config.web,
            store=store,
            # Identities come from Django: no users, sessions or tokens of its own.
            auth_db=AuthDB(":memory:"),
            health=health,
            alerts=_alert_service(config),
        )
        asyncio.run_coroutine_threadsafe(_start(app), loop).result(TIMEOUT)
        return app, loop


class NoStore(Exception):
    def __init__(self, path: Any) -> None:
        super().__init__(
            f"no monitoring data yet at {path}: start `python manage.py watchkeeper run`"
        )


def _alert_service(config: Any) -> Any:
    """Acknowledgements, silences, history: on alerts.db if the monitor created it."""
    from watchkeeper.alerts.db import AlertsDB, default_alerts_db_path
    from watchkeeper.alerts.service import AlertService

    path = config.notify.database or default_alerts_db_path(config.storage.path)
    if not path.expanduser().exists():
        return None
    return AlertService(AlertsDB(path.expanduser()), config.notify)


async def _start(app: Any) -> None:
    """Enter the app's lifespan for the life of the process."""
    context = app.router.lifespan_context(app)
    await context.__aenter__()
    app.state.embedded_lifespan = context  # kept referenced: exiting it would stop the app


_embedded = _Embedded()


def dashboard_role(user: Any) -> Any:
    """Superusers and ``admin_group`` administer; ``operator_group`` (when set, else every
    monitoring staff member) operates; the other staff only view."""
    from watchkeeper.contrib.django.state import get_instruments
    from watchkeeper.web.authdb import Role

    options = get_instruments().site.options

    def member(group: str | None) -> bool:
        return group is not None and bool(user.groups.filter(name=group).exists())

    if user.is_superuser or member(options.admin_group):
        return Role.ADMIN
    if options.operator_group is None or member(options.operator_group):
        return Role.OPERATOR
    return Role.VIEWER


def principal_for(request: HttpRequest) -> Any:
    from watchkeeper.web.auth import Principal
    from watchkeeper.web.authdb import User

    user: Any = request.user
    role = dashboard_role(user)
    session = request.session.session_key or ""
    csrf = hmac.new(
        settings.SECRET_KEY.encode(), b"watchkeeper-embedded:" + session.encode(), hashlib.sha256
    ).hexdigest()
    return Principal(User(0, f"django:{user.get_username()}", role, 0.0), "session", csrf)


async def _call(app: Any, scope: dict[str, Any], body: bytes) -> tuple[int, list[Any], bytes]:
    sent = False
    status = 500
    headers: list[Any] = []
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the response is complete before a disconnect matters
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = list(message.get("headers") or [])
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))

    await app(scope, receive, send)
    return status, headers, b"".join(chunks)


def _scope(request: HttpRequest, subpath: str, principal: Any) -> dict[str, Any]:
    from watchkeeper.web.auth import EMBEDDED_PRINCIPAL

    headers = [
        (k.lower().encode("latin-1"), str(v).encode("latin-1"))
        for k, v in request.headers.items()
        if k.lower() not in _NOT_FORWARDED
    ]
    headers.append((b"host", request.get_host().encode("latin-1")))
    port = int(request.get_port() or 80)
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": request.scheme,
        "path": "/" + subpath,
        "raw_path": ("/" + subpath).encode(),
        "root_path": "",
        "query_string": request.META.get("QUERY_STRING", "").encode("latin-1"),
        "headers": headers,
        "client": (request.META.get("REMOTE_ADDR") or "127.0.0.1", 0),
        "server": (request.get_host().split(":")[0], port),
        "state": {},
        EMBEDDED_PRINCIPAL: principal,
    }


def _rewrite(body: bytes, content_type: str, prefix: bytes) -> bytes:
    if "text/html" in content_type:
        body = _ATTRS.sub(rb"\1" + prefix + b"/", body)
        # Live updates would hold a worker forever: the embedded page loads on view.
        return body.replace(b'data-live="1"', b'data-live="0"')
    return _JS_PATHS.sub(rb"\1" + prefix + rb"/\2", body)


@csrf_exempt
@never_cache
def dashboard(request: HttpRequest, subpath: str = "") -> HttpResponse:
    from watchkeeper.contrib.django.views import _staff_only

    denied = _staff_only(request)
    if denied is not None:
        return denied
    try:
        app, loop = _embedded.get()
    except NoStore as exc:
        return HttpResponse(str(exc), status=503, content_type="text/plain; charset=utf-8")
    if subpath.rstrip("/").endswith("api/wk/v1/live"):
        return HttpResponse(
            b'{"detail":"live updates are not available in the embedded dashboard"}',
            status=404,
            content_type="application/json",
        )
    scope = _scope(request, subpath, principal_for(request))
    future = asyncio.run_coroutine_threadsafe(_call(app, scope, request.body), loop)
    try:
        status, headers, body = future.result(TIMEOUT)
    except TimeoutError:
        future.cancel()
        return HttpResponse(b"the dashboard did not answer in time\n", status=504)
    prefix = request.path[: len(request.path) - len(subpath)].rstrip("/").encode()
    content_type = ""
    for name, value in headers:
        if name.lower() == b"content-type":
            content_type = value.decode("latin-1")
    if any(kind in content_type for kind in _REWRITTEN):
        body = _rewrite(body, content_type, prefix)
    response = HttpResponse(body, status=status)
    for name, value in headers:
        key = name.decode("latin-1")
        text = value.decode("latin-1")
        low = key.lower()
        if low in ("content-length", "set-cookie"):
            continue  # Django computes the length; the embedded app has no sessions to keep
        if low == "location" and text.startswith("/") and not text.startswith("//"):
            text = prefix.decode() + text
        response[key] = text
    return response
