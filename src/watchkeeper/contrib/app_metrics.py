"""What the WSGI and ASGI middlewares share: their options, registry and ``/metrics`` answer.

Django has its settings; Flask, FastAPI and Starlette apps pass the same
options as keyword arguments (``slow_threshold``, ``exact_status``,
``exclude_paths``, ``duration_buckets``, ``size_buckets``, ``max_series``),
or an ``HttpOptions``. The registry defaults to the process-wide one
(``$WATCHKEEPER_METRICS_DIR``, else ``$PROMETHEUS_MULTIPROC_DIR``, else in
memory), so several workers of one app add up on ``/metrics``.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Any

from watchkeeper.contrib.exposition import render
from watchkeeper.contrib.http import HttpMetrics, HttpOptions
from watchkeeper.contrib.metrics import Registry, default_registry

__all__ = ["ROUTE_KEY", "STATS_KEY", "AppInstruments", "shared_registry"]

#: The WSGI environ / ASGI scope key where a framework adapter leaves the route template.
ROUTE_KEY = "watchkeeper.route"
#: The WSGI environ key holding the request's ``RequestStats`` (exception type, ...).
STATS_KEY = "watchkeeper.stats"


def shared_registry() -> Registry:
    """The Django site's registry when ``watchkeeper.contrib.django`` runs here, else the default.

    One process must write its files through one registry: two registries
    over the same directory would both own ``counter_<pid>.wkdb``.
    """
    try:
        from django.apps import apps

        if apps.ready and apps.is_installed("watchkeeper.contrib.django"):
            from watchkeeper.contrib.django.state import get_instruments

            return get_instruments().registry
    except ImportError:
        pass
    return default_registry()


class AppInstruments:
    """The registry and HTTP families of one instrumented application.

    ``metrics_path`` (e.g. ``"/metrics"``) makes the middleware answer the
    scrape itself; ``metrics_tokens`` then requires ``Authorization: Bearer``
    with one of them (else the endpoint is public, like prometheus_client's).
    """

    def __init__(
        self,
        options: HttpOptions | None = None,
        *,
        registry: Registry | None = None,
        metrics_path: str | None = None,
        metrics_tokens: Iterable[str] = (),
        **option_values: Any,
    ) -> None:
        if options is not None and option_values:
            raise TypeError("pass either options= or individual options, not both")
        if options is None:
            try:
                options = HttpOptions.from_mapping(option_values)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"watchkeeper middleware: {exc}") from None
        if metrics_path is not None and not metrics_path.startswith("/"):
            raise ValueError(f"metrics_path must start with '/', got {metrics_path!r}")
        self.registry = registry if registry is not None else shared_registry()
        self.http = HttpMetrics(self.registry, options)
        self.metrics_path = metrics_path
        self.tokens = tuple(t.encode() for t in metrics_tokens)
        # The scrape URL is never measured: it would count itself.
        exclude = tuple(options.exclude_paths)
        if metrics_path is not None:
            exclude += (metrics_path,)
        self.exclude = exclude

    def excluded(self, path: str) -> bool:
        return bool(self.exclude) and path.startswith(self.exclude)

    def allowed(self, authorization: str) -> bool:
        if not self.tokens:
            return True
        return allowed(authorization, self.tokens)

    def scrape(self, authorization: str, accept: str) -> tuple[int, bytes, str]:
        """(status, body, content type) of a ``/metrics`` request."""
        return scrape(self.registry, self.tokens, authorization, accept)


def allowed(authorization: str, tokens: tuple[bytes, ...]) -> bool:
    if not tokens:
        return True
    if authorization[:7].lower() != "bearer ":
        return False
    sent = authorization[7:].strip().encode()
    return any(hmac.compare_digest(sent, t) for t in tokens)


def scrape(
    registry: Registry, tokens: tuple[bytes, ...], authorization: str, accept: str
) -> tuple[int, bytes, str]:
    if not allowed(authorization, tokens):
        return 401, b"authentication required\n", "text/plain; charset=utf-8"
    body, content_type = render(registry, accept)
    return 200, body, content_type
