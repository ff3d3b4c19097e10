"""WSGI middleware: the Django middleware's HTTP metrics for any WSGI app (Flask, Bottle, ...).

::

    app.wsgi_app = WatchkeeperWSGIMiddleware(app.wsgi_app, metrics_path="/metrics")

Same names, buckets and options as the Django middleware (``contrib.http``).
A request is counted once, when the server closes the response iterable
(WSGI servers must call ``close()``), so streamed bodies are timed to their
last chunk and their size is the bytes actually produced. The route label
is what a framework adapter left in ``environ["watchkeeper.route"]`` (Flask:
``watchkeeper.contrib.flask.instrument``); a request without one counts as
``<unmatched>``: the raw path never becomes a label.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from watchkeeper.contrib.app_metrics import ROUTE_KEY, STATS_KEY, AppInstruments
from watchkeeper.contrib.context import current_request
from watchkeeper.contrib.http import UNMATCHED, HttpOptions, RequestStats, exception_type
from watchkeeper.contrib.metrics import Registry

__all__ = ["WatchkeeperWSGIMiddleware", "make_metrics_wsgi_app"]

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

_REASONS = {200: "200 OK", 401: "401 Unauthorized"}


def _serve_metrics(
    inst: AppInstruments, environ: Environ, start_response: StartResponse
) -> list[bytes]:
    status, body, content_type = inst.scrape(
        environ.get("HTTP_AUTHORIZATION", ""), environ.get("HTTP_ACCEPT", "")
    )
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    if status == 401:
        headers.append(("WWW-Authenticate", 'Bearer realm="watchkeeper"'))
    start_response(_REASONS[status], headers)
    return [body]


def make_metrics_wsgi_app(
    registry: Registry | None = None, *, metrics_tokens: Iterable[str] = ()
) -> WSGIApp:
    """A WSGI app answering the scrape (mount it anywhere, e.g. with DispatcherMiddleware)."""
    inst = AppInstruments(registry=registry, metrics_tokens=metrics_tokens)

    def metrics_app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        return _serve_metrics(inst, environ, start_response)

    return metrics_app


class _Measured:
    """The response iterable, counting bytes; records the request once, on ``close()``."""

    __slots__ = ("_done", "_iterable", "_middleware", "_start", "environ", "size", "status")

    def __init__(
        self,
        middleware: WatchkeeperWSGIMiddleware,
        iterable: Iterable[bytes],
        environ: Environ,
        start: float,
        status: list[int],
    ) -> None:
        self._middleware = middleware
        self._iterable = iterable
        self.environ = environ
        self._start = start
        self.status = status
        self.size = 0
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._iterable:
                self.size += len(chunk)
                yield chunk
        except BaseException as exc:
            stats: RequestStats = self.environ[STATS_KEY]
            stats.exception = stats.exception or exception_type(exc)
            raise

    def close(self) -> None:
        try:
            close = getattr(self._iterable, "close", None)
            if close is not None:
                close()
        finally:
            if not self._done:
                self._done = True
                self._middleware._record(
                    self.environ, self.status[0], time.perf_counter() - self._start, self.size
                )


class WatchkeeperWSGIMiddleware:
    """Request count, latency, size, in-flight, exceptions and slow requests of a WSGI app.

    Options as keyword arguments (``slow_threshold=1.0``, ``exact_status``,
    ``exclude_paths=("/healthz",)``, ``duration_buckets``, ``size_buckets``,
    ``max_series``) or ``options=HttpOptions(...)``; ``metrics_path`` serves
    the scrape from the middleware (``metrics_tokens`` to protect it).
    ``route`` overrides how the route template is found (``environ -> str | None``).
    """

    def __init__(
        self,
        app: WSGIApp,
        *,
        options: HttpOptions | None = None,
        registry: Registry | None = None,
        metrics_path: str | None = None,
        metrics_tokens: Iterable[str] = (),
        route: Callable[[Environ], str | None] | None = None,
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
        self.route = route

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        inst = self.instruments
        path = environ.get("PATH_INFO", "")
        if inst.metrics_path is not None and path == inst.metrics_path:
            return _serve_metrics(inst, environ, start_response)
        if inst.excluded(path):
            return self.app(environ, start_response)
        stats = RequestStats()
        environ[STATS_KEY] = stats
        status = [500]

        def counting_start_response(status_line: str, headers: Any, exc_info: Any = None) -> Any:
            status[0] = int(status_line[:3])
            return start_response(status_line, headers, exc_info)

        token = current_request.set(stats)
        self.http.started()
        start = time.perf_counter()
        try:
            iterable = self.app(environ, counting_start_response)
        except BaseException as exc:
            stats.exception = stats.exception or exception_type(exc)
            self._record(environ, 500, time.perf_counter() - start, None)
            raise
        finally:
            current_request.reset(token)
        return _Measured(self, iterable, environ, start, status)

    def _record(self, environ: Environ, status: int, seconds: float, size: int | None) -> None:
        route = self.route(environ) if self.route is not None else environ.get(ROUTE_KEY)
        stats: RequestStats = environ[STATS_KEY]
        self.http.finished(
            environ.get("REQUEST_METHOD", "GET"), route or UNMATCHED, status, seconds, size, stats
        )
