"""Cache hits and misses per cache alias (``cache_hits_total``, ``cache_misses_total``).

The names are the ones the default rule pack's CacheLowHitRate alert reads.
Each backend instance Django creates (one per alias and thread) gets its
``get``/``get_many`` wrapped as it is created, so the alias is known and no
backend class is patched for everyone. ``get_or_set`` goes through ``get``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from watchkeeper.contrib.context import current_request
from watchkeeper.contrib.metrics import Registry

__all__ = ["CacheMetrics", "install"]

_MISSING = object()


class CacheMetrics:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.hits = registry.counter(
            "cache_hits_total", "Cache lookups that found the key, by cache alias.", ("alias",)
        )
        self.misses = registry.counter(
            "cache_misses_total",
            "Cache lookups that did not find the key, by cache alias.",
            ("alias",),
        )

    def record(self, alias: str, hits: int, misses: int) -> None:
        if hits:
            self.hits.inc(alias, amount=hits)
        if misses:
            self.misses.inc(alias, amount=misses)
        stats = current_request.get()
        if stats is not None:
            stats.cache_hits += hits
            stats.cache_misses += misses


def instrument(backend: Any, alias: str, metrics: CacheMetrics) -> Any:
    if getattr(backend, "_watchkeeper_alias", None) is not None:
        return backend
    get: Callable[..., Any] = backend.get
    get_many: Callable[..., Any] = backend.get_many

    def counted_get(key: Any, default: Any = None, version: Any = None) -> Any:
        value = get(key, _MISSING, version=version)
        if value is _MISSING:
            metrics.record(alias, 0, 1)
            return default
        metrics.record(alias, 1, 0)
        return value

    def counted_get_many(keys: Any, version: Any = None) -> Any:
        keys = list(keys)
        found = get_many(keys, version=version)
        metrics.record(alias, len(found), len(keys) - len(found))
        return found

    backend.get = counted_get
    backend.get_many = counted_get_many
    # For watchkeeper's own health check, which must not count as site traffic.
    backend._watchkeeper_uncounted_get = get
    backend._watchkeeper_alias = alias
    return backend


def install(metrics: CacheMetrics) -> None:
    from django.core.cache import caches

    if getattr(caches, "_watchkeeper_installed", False):
        return
    create = caches.create_connection

    def create_connection(alias: str) -> Any:
        return instrument(create(alias), alias, metrics)

    caches.create_connection = create_connection
    caches._watchkeeper_installed = True
    for alias in caches.settings:
        backend = getattr(caches._connections, alias, None)
        if backend is not None:
            instrument(backend, alias, metrics)
