"""Database queries per request and their time, for every database alias.

A ``connection.execute_wrapper`` is attached once to each connection object
when it first connects (``connection_created``), not entered and left on
every request: the wrapper list survives reconnects, and a request pays
nothing for databases it does not use.

Metrics: ``django_db_queries_total{alias}``,
``django_db_query_duration_seconds{alias}`` (histogram, ``QUERY_BUCKETS``),
``django_db_errors_total{alias,type}`` and, per request,
``django_db_queries_per_request{route}`` (histogram, ``PER_REQUEST_BUCKETS``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from watchkeeper.contrib.context import current_request
from watchkeeper.contrib.http import exception_type
from watchkeeper.contrib.metrics import Registry

__all__ = ["PER_REQUEST_BUCKETS", "QUERY_BUCKETS", "DatabaseMetrics", "QueryObserver"]

#: Seconds per query: 100 µs to 10 s.
QUERY_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 10.0)
#: Queries per request: 0 means "none", 20+ is the rule pack's N+1 threshold.
PER_REQUEST_BUCKETS = (0, 1, 2, 3, 5, 10, 20, 50, 100)


class DatabaseMetrics:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.queries = registry.counter(
            "django_db_queries_total", "Database queries executed, by database alias.", ("alias",)
        )
        self.duration = registry.histogram(
            "django_db_query_duration_seconds",
            "Time of one database query as seen by Django.",
            ("alias",),
            QUERY_BUCKETS,
        )
        self.errors = registry.counter(
            "django_db_errors_total",
            "Queries that raised, by alias and exception class.",
            ("alias", "type"),
            max_series=200,
        )
        self.per_request = registry.histogram(
            "django_db_queries_per_request",
            "Database queries made while handling one request, by route pattern.",
            ("route",),
            PER_REQUEST_BUCKETS,
        )
        self._slots: dict[Any, Any] = registry.cache()

    def observe(self, alias: str, seconds: float) -> None:
        slots = self._slots.get(alias)
        if slots is None:
            slots = self._slots[alias] = (self.queries.slot(alias), self.duration.labels(alias))
        count, hist = slots
        registry = self.registry
        tables = registry._tables
        with registry.lock:
            tables["counter"].values[count] += 1.0
            h = tables["histogram"].values
            h[hist.bucket(seconds)] += 1.0
            h[hist.sum] += seconds


class QueryObserver:
    """The execute wrapper: times the query and credits it to the current request."""

    def __init__(self, alias: str, metrics: DatabaseMetrics) -> None:
        self.alias = alias
        self.metrics = metrics

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        except Exception as exc:
            self.metrics.errors.inc(self.alias, exception_type(exc))
            raise
        finally:
            seconds = time.perf_counter() - start
            stats = current_request.get()
            if stats is not None:
                stats.db_queries += 1
                stats.db_seconds += seconds
            self.metrics.observe(self.alias, seconds)


def attach(connection: Any, metrics: DatabaseMetrics) -> None:
    """Add the observer to ``connection`` unless it already has one."""
    wrappers = connection.execute_wrappers
    if not any(isinstance(w, QueryObserver) for w in wrappers):
        wrappers.append(QueryObserver(connection.alias, metrics))


def install(metrics: DatabaseMetrics) -> None:
    from django.db import connections
    from django.db.backends.signals import connection_created

    def on_connect(sender: Any, connection: Any, **kwargs: Any) -> None:
        attach(connection, metrics)

    connection_created.connect(on_connect, weak=False, dispatch_uid="watchkeeper.db")
    for conn in connections.all(initialized_only=True):
        attach(conn, metrics)
