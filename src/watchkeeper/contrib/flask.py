"""Flask: the WSGI middleware plus the two things only Flask knows, the rule and the exception.

::

    from watchkeeper.contrib.flask import instrument
    instrument(app, metrics_path="/metrics", slow_threshold=0.5)

The route label is the matched rule (``request.url_rule.rule``:
``/items/<int:pk>``), written into the WSGI environ before the
``before_request`` hooks and the view run (so a hook that answers still has
its route); unmatched URLs (404s) count as ``<unmatched>``. Flask turns an
exception of a view into a 500 itself, so the middleware never sees it: the
app's ``handle_exception`` is wrapped to record its type for
``http_exceptions_total`` (``abort(403)`` and other HTTP errors are not exceptions here).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from watchkeeper.contrib.app_metrics import ROUTE_KEY, STATS_KEY
from watchkeeper.contrib.http import HttpOptions, RequestStats, exception_type
from watchkeeper.contrib.metrics import Registry
from watchkeeper.contrib.wsgi import WatchkeeperWSGIMiddleware

__all__ = ["instrument"]


def instrument(
    app: Any,
    *,
    options: HttpOptions | None = None,
    registry: Registry | None = None,
    metrics_path: str | None = None,
    metrics_tokens: Iterable[str] = (),
    **option_values: Any,
) -> WatchkeeperWSGIMiddleware:
    """Wrap ``app.wsgi_app`` and register the route and exception hooks; returns the middleware."""
    from flask import request

    middleware = WatchkeeperWSGIMiddleware(
        app.wsgi_app,
        options=options,
        registry=registry,
        metrics_path=metrics_path,
        metrics_tokens=metrics_tokens,
        **option_values,
    )

    dispatch = app.full_dispatch_request
    handle_exception = app.handle_exception

    # Instance attributes over Flask's methods, not before_request/teardown hooks: Flask
    # runs every hook through ensure_sync (an inspect call each), which cost 3x more.
    def full_dispatch_request() -> Any:
        # The URL was matched when the request context was pushed, just before this.
        rule = request.url_rule
        if rule is not None:
            request.environ[ROUTE_KEY] = rule.rule
        return dispatch()

    def note_exception(e: Exception) -> Any:
        stats = request.environ.get(STATS_KEY)
        if isinstance(stats, RequestStats):
            stats.exception = exception_type(e)
        return handle_exception(e)

    app.full_dispatch_request = full_dispatch_request
    app.handle_exception = note_exception
    app.wsgi_app = middleware
    return middleware
