"""ASGI middleware: the Django middleware's HTTP metrics for FastAPI, Starlette or any ASGI app.

::

    app.add_middleware(WatchkeeperASGIMiddleware, metrics_path="/metrics")   # FastAPI/Starlette
    app = WatchkeeperASGIMiddleware(app)                                      # any ASGI app

Same names, buckets and options as the Django middleware (``contrib.http``).
The send channel is watched: the status comes from ``http.response.start``,
the size is the body bytes sent, and the request is counted once, when the
last body message (``more_body`` false) goes out, so a streaming response
is timed to its end and counted once however many chunks it has. An
exception escaping the app is counted by type (with status 500 unless the
response had already started). The route is the template Starlette or
FastAPI matched (``/items/{item_id}``, see ``contrib.starlette``), or what
an adapter put in ``scope["watchkeeper.route"]``; never the raw path.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from watchkeeper.contrib.app_metrics import ROUTE_KEY, AppInstruments
from watchkeeper.contrib.context import current_request
from watchkeeper.contrib.http import UNMATCHED, HttpOptions, RequestStats, exception_type
from watchkeeper.contrib.metrics import Registry

__all__ = ["MetricsASGIApp", "WatchkeeperASGIMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
RouteResolver = Callable[[Scope, Any], "str | None"]


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers") or ():
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


async def _serve_metrics(inst: AppInstruments, scope: Scope, send: Send) -> None:
    status, body, content_type = inst.scrape(
        _header(scope, b"authorization"), _header(scope, b"accept")
    )
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="watchkeeper"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class MetricsASGIApp:
    """An ASGI app answering the scrape: ``app.add_route("/metrics", MetricsASGIApp())``.

    An instance (not a function) so Starlette's ``Route`` treats it as an ASGI app.
    """

    def __init__(
        self, registry: Registry | None = None, *, metrics_tokens: Iterable[str] = ()
    ) -> None:
        self.instruments = AppInstruments(registry=registry, metrics_tokens=metrics_tokens)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("the metrics endpoint answers HTTP only")
        await _serve_metrics(self.instruments, scope, send)


class WatchkeeperASGIMiddleware:
    """Request count, latency, size, in-flight, exceptions and slow requests of an ASGI app.

    Options as keyword arguments (``slow_threshold``, ``exact_status``,
    ``exclude_paths``, ``duration_buckets``, ``size_buckets``,
    ``max_series``) or ``options=HttpOptions(...)``; ``metrics_path`` serves
    the scrape from the middleware (``metrics_tokens`` to protect it).
    ``route(scope, app)`` overrides how the template is found.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        options: HttpOptions | None = None,
        registry: Registry | None = None,
        metrics_path: str | None = None,
        metrics_tokens: Iterable[str] = (),
        route: RouteResolver | None = None,
        **option_values: Any,
    ) -> None:
        self.app = app
        self.instruments = AppInstruments(
            options,
            registry=registry,
            metrics_path=metrics_path,
            metrics_tokens=metrics_tokens,
            **option_values,
        )
        self.http = self.instruments.http
        if route is None:
            from watchkeeper.contrib.starlette import starlette_route

            route = starlette_route
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        inst = self.instruments
        path = scope.get("path", "")
        if inst.metrics_path is not None and path == inst.metrics_path:
            await _serve_metrics(inst, scope, send)
            return
        if inst.excluded(path):
            await self.app(scope, receive, send)
            return
        # Starlette sets scope["app"] before the middleware stack: the application whose
        # routes give the template. Read now, before mounted sub-apps replace it.
        top = scope.get("app", self.app)
        stats = RequestStats()
        status = 500
        size = 0
        done = False
        http = self.http
        start = time.perf_counter()

        def finish() -> None:
            nonlocal done
            done = True
            route = scope.get(ROUTE_KEY) or self.route(scope, top) or UNMATCHED
            http.finished(
                scope.get("method", "GET"), route, status, time.perf_counter() - start, size, stats
            )

        async def measured_send(message: Message) -> None:
            nonlocal status, size
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
            elif kind == "http.response.body":
                size += len(message.get("body", b""))
                if not message.get("more_body", False) and not done:
                    await send(message)
                    finish()
                    return
            await send(message)

        token = current_request.set(stats)
        http.started()
        try:
            await self.app(scope, receive, measured_send)
        except BaseException as exc:
            stats.exception = stats.exception or exception_type(exc)
            if not done:
                finish()
            raise
        finally:
            current_request.reset(token)
            if not done:  # the client went away, or the app returned without a body
                finish()
