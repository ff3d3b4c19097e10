"""The route template of a Starlette or FastAPI request (``/items/{item_id}``), never its path.

FastAPI leaves the matched route in ``scope["route"]``: its ``path_format``
is the template (with ``include_router`` prefixes; the prefixes of Starlette
``Mount``s above it are taken from ``root_path``). Plain Starlette leaves
only the endpoint in ``scope["endpoint"]``: a table from endpoint to
template, built once per application by walking its routes (through
``Mount``s, whose prefixes are prepended), turns that into the template
with one dict lookup. An endpoint served by several routes is ambiguous:
only then the routes are matched again, as the router did. A request no
route matched (404) has no endpoint and counts as ``<unmatched>``.

Also: ``instrument(app)`` adds the middleware and, optionally, the
``/metrics`` route to a Starlette or FastAPI application.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

from watchkeeper.contrib.http import HttpOptions
from watchkeeper.contrib.metrics import Registry

__all__ = ["instrument", "route_table", "starlette_route"]

_AMBIGUOUS = object()
_tables: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def route_table(routes: Sequence[Any], prefix: str = "") -> dict[Any, Any]:
    """endpoint -> template (or the ambiguity marker) for ``routes`` and their mounts."""
    from starlette.routing import Mount

    table: dict[Any, Any] = {}

    def add(endpoint: Any, template: str) -> None:
        try:
            seen = table.get(endpoint)
        except TypeError:  # an unhashable endpoint: found by matching again
            return
        table[endpoint] = template if seen in (None, template) else _AMBIGUOUS

    for route in routes:
        if isinstance(route, Mount):
            inner = route.routes
            if inner:
                for endpoint, template in route_table(inner, prefix + route.path).items():
                    if template is _AMBIGUOUS:
                        table[endpoint] = _AMBIGUOUS
                    else:
                        add(endpoint, template)
            else:  # an app without routes (StaticFiles, a WSGI app): the mount is the route
                add(route.app, prefix + route.path_format)
            continue
        endpoint = getattr(route, "endpoint", None)
        template = getattr(route, "path_format", None)
        if endpoint is not None and template is not None:
            add(endpoint, prefix + template)
    return table


def _rematch(routes: Sequence[Any], scope: dict[str, Any], prefix: str = "") -> str | None:
    from starlette.routing import Match, Mount

    partial: str | None = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        if isinstance(route, Mount) and route.routes:
            found = _rematch(route.routes, {**scope, **child}, prefix + route.path)
            if found is not None:
                return found
            continue
        template = prefix + getattr(route, "path_format", "")
        if match is Match.FULL:
            return template
        partial = partial or template  # wrong method (405): still this route
    return partial


def starlette_route(scope: Any, app: Any) -> str | None:
    """The template of the route that served ``scope`` in ``app`` (a Starlette/FastAPI app)."""
    endpoint = scope.get("endpoint")
    if endpoint is None:
        return None
    # FastAPI names its route (with the include_router prefixes applied); only the
    # prefixes of Starlette Mounts above it are missing, and they are in root_path.
    template = getattr(scope.get("route"), "path_format", None)
    if template is not None:
        root = str(scope.get("root_path", ""))
        return root[len(scope.get("app_root_path", root)) :] + str(template)
    routes = getattr(app, "routes", None)
    if routes is None:
        return None
    table = _tables.get(app)
    if table is None:
        with _lock:
            table = _tables[app] = route_table(routes)
    try:
        found = table.get(endpoint)
    except TypeError:
        found = _AMBIGUOUS
    if found is None:
        # Routes added after the first request: rebuild once, then match if still unknown.
        with _lock:
            table = _tables[app] = route_table(routes)
            found = table.setdefault(endpoint, _AMBIGUOUS)
    if found is _AMBIGUOUS:
        root = scope.get("app_root_path", scope.get("root_path", ""))
        return _rematch(routes, {**scope, "root_path": root, "path_params": {}})
    return str(found)


def instrument(
    app: Any,
    *,
    options: HttpOptions | None = None,
    registry: Registry | None = None,
    metrics_path: str | None = None,
    metrics_tokens: Iterable[str] = (),
    **option_values: Any,
) -> None:
    """``app.add_middleware(WatchkeeperASGIMiddleware, ...)`` for a Starlette or FastAPI app.

    With ``metrics_path`` the middleware answers the scrape there itself.
    """
    from watchkeeper.contrib.asgi import WatchkeeperASGIMiddleware

    app.add_middleware(
        WatchkeeperASGIMiddleware,
        options=options,
        registry=registry,
        metrics_path=metrics_path,
        metrics_tokens=tuple(metrics_tokens),
        **option_values,
    )
