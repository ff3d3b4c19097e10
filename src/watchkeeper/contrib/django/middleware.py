"""The request middleware: counts, latency, sizes, exceptions, queries, slow requests.

Put it first in ``MIDDLEWARE`` so the time of every other middleware is
included. It works in both of Django's modes: under WSGI it is a plain sync
middleware; under ASGI with an async chain it is a coroutine and never
forces a thread switch. The route label is the matched URL pattern
(``/items/<int:pk>/``), read from ``request.resolver_match`` after the view
ran; monitoring URLs (this app's own) and ``exclude_paths`` are not counted.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from watchkeeper.contrib.context import current_request
from watchkeeper.contrib.django.state import get_instruments
from watchkeeper.contrib.http import UNMATCHED, RequestStats, exception_type

__all__ = ["WatchkeeperMiddleware"]

_APP = "watchkeeper"


class WatchkeeperMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        inst = get_instruments()
        self.http = inst.http
        self.per_request = inst.db.per_request if inst.site.options.instrument_databases else None
        self._routes: dict[str, str] = {}
        self._exclude: tuple[str, ...] | None = None

    def _excluded_prefixes(self) -> tuple[str, ...]:
        """``exclude_paths`` plus where this app's URLs are mounted (found on first use)."""
        from django.urls import NoReverseMatch, reverse

        prefixes = list(self.http.exclude)
        try:
            mounted = reverse(f"{_APP}:livez").removesuffix("livez")
        except NoReverseMatch:
            mounted = "/"
        if mounted != "/":  # mounted at the root: recognised by namespace after resolving
            prefixes.append(mounted)
        self._exclude = tuple(prefixes)
        return self._exclude

    def __call__(self, request: Any) -> Any:
        if self.is_async:
            return self.__acall__(request)
        exclude = self._exclude if self._exclude is not None else self._excluded_prefixes()
        if exclude and request.path.startswith(exclude):
            return self.get_response(request)
        stats = RequestStats()
        token = current_request.set(stats)
        self.http.started()
        start = time.perf_counter()
        try:
            response = self.get_response(request)
        except BaseException as exc:
            stats.exception = stats.exception or exception_type(exc)
            self._finish(request, None, time.perf_counter() - start, stats)
            raise
        finally:
            current_request.reset(token)
        self._finish(request, response, time.perf_counter() - start, stats)
        return response

    async def __acall__(self, request: Any) -> Any:
        get_response: Callable[[Any], Awaitable[Any]] = self.get_response
        exclude = self._exclude if self._exclude is not None else self._excluded_prefixes()
        if exclude and request.path.startswith(exclude):
            return await get_response(request)
        stats = RequestStats()
        token = current_request.set(stats)
        self.http.started()
        start = time.perf_counter()
        try:
            response = await get_response(request)
        except BaseException as exc:
            stats.exception = stats.exception or exception_type(exc)
            self._finish(request, None, time.perf_counter() - start, stats)
            raise
        finally:
            current_request.reset(token)
        self._finish(request, response, time.perf_counter() - start, stats)
        return response

    def process_exception(self, request: Any, exception: Exception) -> None:
        stats = current_request.get()
        if stats is not None:
            stats.exception = exception_type(exception)

    def _route(self, request: Any) -> str | None:
        """The URL pattern, ``UNMATCHED``, or None for the monitoring URLs themselves."""
        match = getattr(request, "resolver_match", None)
        if match is None:
            return UNMATCHED
        if _APP in match.app_names:
            return None
        raw = match.route
        route = self._routes.get(raw)
        if route is None:
            route = self._routes[raw] = "/" + (raw or "").lstrip("^").removesuffix("$")
        return route

    def _finish(self, request: Any, response: Any, seconds: float, stats: RequestStats) -> None:
        http = self.http
        route = self._route(request)
        if route is None:
            http.abandoned()
            return
        if response is None:
            status, size = 500, None
        else:
            status = response.status_code
            if response.streaming:
                length = response.get("Content-Length")
                size = int(length) if length and length.isdigit() else None
            else:
                size = len(response.content)
        http.finished(request.method, route, status, seconds, size, stats)
        if self.per_request is not None:
            self.per_request.observe(route, value=stats.db_queries)
