"""The HTTP metrics every integration records (Django, WSGI, ASGI): one definition, one cost.

Names follow Prometheus conventions and what the default rule pack queries:

- ``http_requests_total{method,route,code}``: counter. ``code`` is the status
  class (``2xx``..``5xx``) by default, or the exact code with
  ``exact_status``; either way ``code=~"5.."`` selects server errors.
- ``http_request_duration_seconds{method,route}``: histogram, ``DURATION_BUCKETS``.
- ``http_response_size_bytes{method,route}``: histogram, ``SIZE_BUCKETS``.
- ``http_requests_in_progress``: gauge summed over live workers.
- ``http_exceptions_total{type}``: unhandled exceptions by class.
- ``http_slow_requests_total{method,route}``: requests over ``slow_threshold``
  (their breakdown goes to the slow log).

``route`` is the URL pattern (``/items/<int:pk>/``), never the raw path;
requests no pattern matched share ``route="<unmatched>"``. Methods outside
the standard set count as ``other``. Each family is capped (``max_series``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from watchkeeper.contrib.metrics import HistogramSeries, Registry
from watchkeeper.contrib.slowlog import SlowLog, SlowRequest

__all__ = [
    "DURATION_BUCKETS",
    "SIZE_BUCKETS",
    "UNMATCHED",
    "HttpMetrics",
    "HttpOptions",
    "exception_type",
]

#: Seconds. Dense below 1 s where most requests are; 5 s and 10 s are the
#: default rule pack's p95/p99 thresholds, so both are bucket bounds.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Bytes, powers of 4 from 256 B to 16 MiB.
SIZE_BUCKETS = (256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216)
UNMATCHED = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})
_CLASSES = ("0xx", "1xx", "2xx", "3xx", "4xx", "5xx")


@dataclass(frozen=True)
class HttpOptions:
    """What every middleware accepts (Django reads them from ``WATCHKEEPER["http"]``)."""

    #: Requests at least this long (seconds) go to the slow log.
    slow_threshold: float = 1.0
    #: Label ``code`` with the exact status (``404``) instead of its class (``4xx``).
    exact_status: bool = False
    #: Path prefixes not measured at all (the monitoring URLs are excluded anyway).
    exclude_paths: tuple[str, ...] = ()
    duration_buckets: tuple[float, ...] = DURATION_BUCKETS
    size_buckets: tuple[float, ...] = SIZE_BUCKETS
    #: Label sets per family; routes past it are counted as ``other``.
    max_series: int = 2000

    @classmethod
    def from_mapping(cls, data: dict[str, Any] | None) -> HttpOptions:
        """From a settings dict; unknown keys are an error naming them."""
        data = dict(data or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown http option(s) {', '.join(unknown)}; expected: {', '.join(sorted(known))}"
            )
        for key in ("exclude_paths", "duration_buckets", "size_buckets"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)


def exception_type(exc: BaseException) -> str:
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


@dataclass(slots=True)
class RequestSeries:
    """The slots one (method, route, code) writes: resolved once, then reused."""

    requests: int
    duration: HistogramSeries
    size: HistogramSeries


@dataclass(slots=True)
class RequestStats:
    """What happened inside one request: filled by the database and cache hooks."""

    db_queries: int = 0
    db_seconds: float = 0.0
    cache_hits: int = 0
    cache_misses: int = 0
    exception: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class HttpMetrics:
    def __init__(
        self,
        registry: Registry,
        options: HttpOptions | None = None,
        slow_log: SlowLog | None = None,
    ) -> None:
        self.registry = registry
        self.options = options = options or HttpOptions()
        self.slow_log = slow_log if slow_log is not None else SlowLog(registry.directory)
        cap = options.max_series
        self.requests = registry.counter(
            "http_requests_total",
            "HTTP requests answered, by method, route pattern and status.",
            ("method", "route", "code"),
            max_series=cap,
        )
        self.duration = registry.histogram(
            "http_request_duration_seconds",
            "Time from the request reaching the middleware to the response leaving it.",
            ("method", "route"),
            options.duration_buckets,
            max_series=cap,
        )
        self.size = registry.histogram(
            "http_response_size_bytes",
            "Response body size (when known without consuming a stream).",
            ("method", "route"),
            options.size_buckets,
            max_series=cap,
        )
        self.in_progress = registry.gauge(
            "http_requests_in_progress", "Requests being handled now, over live workers."
        )
        self.exceptions = registry.counter(
            "http_exceptions_total",
            "Exceptions that escaped the view, by exception class.",
            ("type",),
            max_series=200,
        )
        self.slow = registry.counter(
            "http_slow_requests_total",
            "Requests slower than the slow threshold.",
            ("method", "route"),
            max_series=cap,
        )
        self._series: dict[Any, Any] = registry.cache()
        self._in_progress_slot: dict[Any, Any] = registry.cache()
        self.exclude = tuple(options.exclude_paths)

    def _resolve(self, method: str, route: str, status: int) -> RequestSeries:
        code = str(status) if self.options.exact_status else _CLASSES[min(status // 100, 5)]
        return RequestSeries(
            self.requests.slot(method, route, code),
            self.duration.labels(method, route),
            self.size.labels(method, route),
        )

    def started(self) -> None:
        slot = self._in_progress_slot.get(0)
        if slot is None:
            slot = self._in_progress_slot[0] = self.in_progress.slot()
        registry = self.registry
        with registry.lock:
            registry._tables["gauge"].values[slot] += 1.0

    def abandoned(self) -> None:
        """A started request that is not to be counted (a monitoring URL)."""
        slot = self._in_progress_slot.get(0)
        if slot is not None:
            registry = self.registry
            with registry.lock:
                registry._tables["gauge"].values[slot] -= 1.0

    def finished(
        self,
        method: str,
        route: str,
        status: int,
        duration: float,
        size: int | None,
        stats: RequestStats | None = None,
    ) -> None:
        """Record one answered request (and end its in-progress count)."""
        if method not in _METHODS:
            # Before the cache key: clients choose the method, and every new
            # raw one would otherwise add a cache entry for good.
            method = "other"
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = self._resolve(method, route, status)
        gauge_slot = self._in_progress_slot.get(0)
        registry = self.registry
        tables = registry._tables
        with registry.lock:
            counters = tables["counter"].values
            hist = tables["histogram"].values
            counters[series.requests] += 1.0
            d = series.duration
            hist[d.bucket(duration)] += 1.0
            hist[d.sum] += duration
            if size is not None:
                s = series.size
                hist[s.bucket(size)] += 1.0
                hist[s.sum] += size
            if gauge_slot is not None:
                tables["gauge"].values[gauge_slot] -= 1.0
        if stats is not None and stats.exception is not None:
            self.exceptions.inc(stats.exception)
        if duration >= self.options.slow_threshold:
            self._slow(method, route, status, duration, stats)

    def _slow(
        self, method: str, route: str, status: int, duration: float, stats: RequestStats | None
    ) -> None:
        self.slow.inc(method, route)
        s = stats or RequestStats()
        self.slow_log.record(
            SlowRequest(
                time.time(),
                method,
                route,
                status,
                round(duration, 6),
                round(s.db_seconds, 6),
                s.db_queries,
                s.cache_hits,
                s.cache_misses,
            )
        )

    def excluded(self, path: str) -> bool:
        return bool(self.exclude) and path.startswith(self.exclude)
