"""Counters, histograms and gauges that are exact across worker processes.

Each process writes its own files (``counter_<pid>.wkdb``,
``histogram_<pid>.wkdb``, ``gauge_<pid>.wkdb``) in the metrics directory;
``/metrics`` sums every file (``watchkeeper.contrib.exposition``). That is
prometheus_client's multiprocess design, with the same file layout, and a
cheaper write path (see ``table.py``). Without a directory the tables live
in memory: right for ``runserver``, a single uvicorn or a test.

The directory is ``WATCHKEEPER["metrics_dir"]`` (Django),
``$WATCHKEEPER_METRICS_DIR``, else ``$PROMETHEUS_MULTIPROC_DIR``. Files from
prometheus_client's own multiprocess metrics (``*.db``) in the same
directory are left alone and exposed too.

Cardinality is bounded per family: past ``max_series`` label sets, new ones
are counted under a single series whose label values are all ``other``.
"""

from __future__ import annotations

import json
import os
import threading
import weakref
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from prometheus_client import utils as _prom_utils

from watchkeeper.contrib.table import Table

__all__ = [
    "OVERFLOW",
    "Counter",
    "Gauge",
    "Histogram",
    "HistogramSeries",
    "Registry",
    "default_registry",
    "metrics_dir_from_env",
]

Kind = Literal["counter", "histogram", "gauge"]
INF = float("inf")
#: The label value that stands for every label set past a family's cap.
OVERFLOW = "other"
#: File suffix of watchkeeper's tables (prometheus_client's are ``.db``).
SUFFIX = ".wkdb"

_registries: weakref.WeakSet[Registry] = weakref.WeakSet()


def _after_fork() -> None:
    for registry in list(_registries):
        registry.reset_after_fork()


os.register_at_fork(after_in_child=_after_fork)


def go_float(value: float) -> str:
    """A bucket bound as prometheus_client writes ``le`` (``1.0``, ``+Inf``)."""
    return str(_prom_utils.floatToGoString(value))  # type: ignore[no-untyped-call]


def metrics_dir_from_env() -> Path | None:
    value = os.environ.get("WATCHKEEPER_METRICS_DIR") or os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(value) if value else None


def mmap_key(
    metric: str, sample: str, names: Sequence[str], values: Sequence[str], help_: str
) -> str:
    """The entry key, as prometheus_client's ``mmap_key`` writes it."""
    return json.dumps(
        [metric, sample, dict(zip(names, values, strict=True)), help_], sort_keys=True
    )


class Registry:
    """The families of one application and the tables they write to.

    ``lock`` serialises writes within the process: an update is a read and
    a write of a double, and threaded servers (gthread, ASGI thread pools)
    would otherwise lose increments. One acquisition covers a whole request.
    """

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory) if directory is not None else None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.families: dict[str, Family] = {}
        self._tables: dict[str, Table] = {}
        self._caches: list[dict[object, object]] = []
        self.pid = os.getpid()
        _registries.add(self)

    # -- tables ------------------------------------------------------------

    def table(self, kind: Kind) -> Table:
        table = self._tables.get(kind)
        if table is None:
            path = None
            if self.directory is not None:
                path = self.directory / f"{kind}_{self.pid}{SUFFIX}"
            table = self._tables[kind] = Table(path, reset=kind == "gauge")
        return table

    def tables(self) -> dict[str, Table]:
        return dict(self._tables)

    def cache(self) -> dict[object, object]:
        """A dict for callers' own series caches, emptied after a fork (slots are per file)."""
        cache: dict[object, object] = {}
        self._caches.append(cache)
        return cache

    def reset_after_fork(self) -> None:
        """In a forked child: new files, so every cached slot is void."""
        self.lock = threading.Lock()
        self._tables = {}
        self.pid = os.getpid()
        for family in self.families.values():
            family.series.clear()
        for cache in self._caches:
            cache.clear()

    def close(self) -> None:
        for table in self._tables.values():
            table.close()

    # -- families ----------------------------------------------------------

    def _add(self, family: Family) -> Family:
        existing = self.families.get(family.name)
        if existing is not None:
            if (existing.kind, existing.labelnames) != (family.kind, family.labelnames):
                raise ValueError(f"metric {family.name} already defined differently")
            return existing
        self.families[family.name] = family
        return family

    def counter(
        self, name: str, help_: str, labelnames: Sequence[str] = (), *, max_series: int = 1000
    ) -> Counter:
        family = self._add(Counter(self, name, help_, labelnames, max_series))
        assert isinstance(family, Counter)
        return family

    def gauge(
        self, name: str, help_: str, labelnames: Sequence[str] = (), *, max_series: int = 1000
    ) -> Gauge:
        family = self._add(Gauge(self, name, help_, labelnames, max_series))
        assert isinstance(family, Gauge)
        return family

    def histogram(
        self,
        name: str,
        help_: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = (),
        *,
        max_series: int = 1000,
    ) -> Histogram:
        family = self._add(Histogram(self, name, help_, labelnames, max_series, buckets))
        assert isinstance(family, Histogram)
        return family


class Family:
    kind: Kind

    def __init__(
        self, registry: Registry, name: str, help_: str, labelnames: Sequence[str], max_series: int
    ) -> None:
        self.registry = registry
        self.name = name
        self.help = help_
        self.labelnames = tuple(labelnames)
        self.max_series = max_series
        self.series: dict[tuple[str, ...], object] = {}

    def _label_set(self, values: tuple[str, ...]) -> tuple[str, ...]:
        """``values`` itself, or the overflow label set past the cap."""
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {values}")
        if len(self.series) >= self.max_series:
            return (OVERFLOW,) * len(self.labelnames)
        return values


class _ScalarFamily(Family):
    """A family with one slot per label set: counters and gauges."""

    #: prometheus_client's metric and sample names in the entry key.
    metric: str
    sample: str

    def slot(self, *values: str) -> int:
        found = self.series.get(values)
        if found is not None:
            return found  # type: ignore[return-value]
        key_values = self._label_set(values)
        with self.registry.lock:
            slot = self.registry.table(self.kind).slot(
                mmap_key(self.metric, self.sample, self.labelnames, key_values, self.help)
            )
        self.series[key_values] = slot
        return slot

    def inc(self, *values: str, amount: float = 1.0) -> None:
        slot = self.slot(*values)
        registry = self.registry
        with registry.lock:
            registry._tables[self.kind].values[slot] += amount


class Counter(_ScalarFamily):
    kind: Kind = "counter"

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.metric = self.name.removesuffix("_total")
        self.sample = self.metric + "_total"


class Gauge(_ScalarFamily):
    """A gauge summed over live processes (prometheus_client's ``livesum``)."""

    kind: Kind = "gauge"

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.metric = self.sample = self.name

    def set(self, *values: str, value: float) -> None:
        slot = self.slot(*values)
        registry = self.registry
        with registry.lock:
            registry._tables["gauge"].values[slot] = value


@dataclass(frozen=True, slots=True)
class HistogramSeries:
    """Slots of one label set: a non-cumulative count per bucket, and the sum."""

    bounds: tuple[float, ...]
    buckets: tuple[int, ...]
    sum: int

    def bucket(self, value: float) -> int:
        """The slot counting ``value`` (``le`` is inclusive, the last bucket is +Inf)."""
        return self.buckets[bisect_left(self.bounds, value)]


class Histogram(Family):
    kind: Kind = "histogram"

    def __init__(
        self,
        registry: Registry,
        name: str,
        help_: str,
        labelnames: Sequence[str],
        max_series: int,
        buckets: Sequence[float],
    ) -> None:
        super().__init__(registry, name, help_, labelnames, max_series)
        bounds = sorted(float(b) for b in buckets if b != INF)
        if not bounds:
            raise ValueError(f"histogram {name} needs at least one finite bucket")
        if "le" in self.labelnames:
            raise ValueError(f"histogram {name}: 'le' is reserved")
        self.bounds = tuple(bounds)

    def labels(self, *values: str) -> HistogramSeries:
        found = self.series.get(values)
        if found is not None:
            return found  # type: ignore[return-value]
        key_values = self._label_set(values)
        names = (*self.labelnames, "le")
        with self.registry.lock:
            table = self.registry.table("histogram")
            buckets = tuple(
                table.slot(
                    mmap_key(
                        self.name,
                        self.name + "_bucket",
                        names,
                        (*key_values, go_float(b)),
                        self.help,
                    )
                )
                for b in (*self.bounds, INF)
            )
            total = table.slot(
                mmap_key(self.name, self.name + "_sum", self.labelnames, key_values, self.help)
            )
        series = HistogramSeries(self.bounds, buckets, total)
        self.series[key_values] = series
        return series

    def observe(self, *values: str, value: float) -> None:
        series = self.labels(*values)
        registry = self.registry
        with registry.lock:
            v = registry._tables["histogram"].values
            v[series.bucket(value)] += 1.0
            v[series.sum] += value


_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry(directory: Path | str | None = None) -> Registry:
    """The process-wide registry, created on first use (``directory`` or the environment)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Registry(directory if directory is not None else metrics_dir_from_env())
        return _default


def set_default_registry(registry: Registry | None) -> None:
    """Replace the process-wide registry (settings changed, tests)."""
    global _default
    with _default_lock:
        _default = registry
