"""What a collector is.

A collector is a small object that, when asked, returns the samples it sees
now. It knows nothing about scheduling, storage or alerting: the run loop
calls it on its interval, off the event loop, under a timeout, and turns a
failure into ``watchkeeper_collector_up{collector="..."} 0``.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar

from watchkeeper.model import Labels, MetricMeta, MetricType, Sample

__all__ = ["AsyncCollector", "Collector", "SampleBuilder", "SyncCollector"]

_EMPTY = Labels()


class Collector(abc.ABC):  # noqa: B024 - abstract through its two subclasses
    """Common ground of sync and async collectors.

    ``name`` identifies the instance (``host``, ``postgres:main``) and becomes
    the ``collector`` label of the run loop's own metrics; ``metrics`` declares
    the families the collector may emit, for ``# HELP`` lines and metadata.
    """

    metrics: ClassVar[Sequence[MetricMeta]] = ()

    def __init__(self, name: str, *, interval: float = 10.0, timeout: float | None = None):
        self.name = name
        self.interval = interval
        # A collection must end before the next one is due.
        self.timeout = timeout if timeout is not None else max(0.5, min(interval * 0.8, 30.0))

    def close(self) -> None:  # noqa: B027 - optional hook, most collectors hold nothing
        """Release connections or files; called once at shutdown."""


class SyncCollector(Collector):
    """A collector whose work blocks (psutil, DB drivers): run in a worker thread."""

    @abc.abstractmethod
    def collect(self, now_ms: int) -> Iterable[Sample]:
        """Return the samples observed now, stamped ``now_ms`` unless they carry their own."""


class AsyncCollector(Collector):
    """A collector that awaits I/O (HTTP probes, scrapes): run on the event loop."""

    @abc.abstractmethod
    async def collect(self, now_ms: int) -> Iterable[Sample]:
        """Return the samples observed now."""


class SampleBuilder:
    """Accumulates samples sharing one timestamp, with cheap label handling.

    Collectors emit hundreds of samples per cycle; this keeps their code short
    (``b.add("host_memory_used_bytes", v)``) and interns label sets that repeat.
    """

    __slots__ = ("_cache", "now_ms", "samples")

    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms
        self.samples: list[Sample] = []
        self._cache: dict[tuple[tuple[str, str], ...], Labels] = {}

    def add(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        if labels:
            key = tuple(labels.items())
            lab = self._cache.get(key)
            if lab is None:
                lab = self._cache[key] = Labels(labels)
        else:
            lab = _EMPTY
        self.samples.append(Sample(name, lab, self.now_ms, float(value)))


def gauge(name: str, help: str, unit: str = "", labels: tuple[str, ...] = ()) -> MetricMeta:
    return MetricMeta(name, MetricType.GAUGE, help, unit, labels)


def counter(name: str, help: str, unit: str = "", labels: tuple[str, ...] = ()) -> MetricMeta:
    return MetricMeta(name, MetricType.COUNTER, help, unit, labels)
