"""watchkeeper watching itself: the ``watchkeeper_*`` metrics.

The seeds' monitors had no way to tell that the monitor itself was slow or
growing; these series (loop lag, samples written, RSS) make that visible and
alertable like everything else.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable

import psutil

from watchkeeper._version import __version__
from watchkeeper.collect.base import SampleBuilder, SyncCollector, counter, gauge
from watchkeeper.model import Sample
from watchkeeper.runtime.stats import RuntimeStats

__all__ = ["SelfCollector"]


class SelfCollector(SyncCollector):
    metrics = (
        gauge(
            "watchkeeper_collector_up",
            "1 if the collector's last collection succeeded.",
            labels=("collector",),
        ),
        gauge(
            "watchkeeper_collection_duration_seconds",
            "Duration of the collector's last collection.",
            "seconds",
            ("collector",),
        ),
        counter("watchkeeper_collections_total", "Collections attempted.", labels=("collector",)),
        counter(
            "watchkeeper_collection_failures_total",
            "Collections that failed.",
            labels=("collector",),
        ),
        counter(
            "watchkeeper_samples_collected_total",
            "Samples kept from collections.",
            labels=("collector",),
        ),
        counter(
            "watchkeeper_samples_rejected_total", "Invalid samples dropped.", labels=("collector",)
        ),
        counter("watchkeeper_samples_written_total", "Samples written to the store."),
        counter(
            "watchkeeper_samples_dropped_total",
            "Samples dropped because the store backlog was full.",
        ),
        counter(
            "watchkeeper_store_write_errors_total",
            "Failed store writes (samples kept and retried).",
        ),
        gauge(
            "watchkeeper_store_write_duration_seconds",
            "Duration of the last batch write.",
            "seconds",
        ),
        gauge("watchkeeper_buffered_samples", "Samples waiting to be written."),
        gauge(
            "watchkeeper_loop_lag_seconds",
            "Worst event-loop lag since the last collection.",
            "seconds",
        ),
        gauge(
            "watchkeeper_resident_memory_bytes",
            "Resident memory of the watchkeeper process.",
            "bytes",
        ),
        counter(
            "watchkeeper_cpu_seconds_total", "CPU time used by the watchkeeper process.", "seconds"
        ),
        gauge("watchkeeper_start_time_seconds", "When the process started (Unix time).", "seconds"),
        gauge("watchkeeper_build_info", "Version information.", labels=("version", "python")),
    )

    def __init__(
        self, stats: RuntimeStats, *, interval: float = 10.0, timeout: float | None = None
    ):
        super().__init__("self", interval=interval, timeout=timeout)
        self.stats = stats
        self._proc = psutil.Process()
        self._build = {"version": __version__, "python": platform.python_version()}

    def collect(self, now_ms: int) -> Iterable[Sample]:
        st = self.stats
        b = SampleBuilder(now_ms)
        for name, cs in list(st.collectors.items()):
            lab = {"collector": name}
            b.add("watchkeeper_collections_total", cs.collections, lab)
            b.add("watchkeeper_collection_failures_total", cs.failures, lab)
            b.add("watchkeeper_samples_collected_total", cs.samples, lab)
            b.add("watchkeeper_samples_rejected_total", cs.rejected, lab)
        b.add("watchkeeper_samples_written_total", st.samples_written)
        b.add("watchkeeper_samples_dropped_total", st.samples_dropped)
        b.add("watchkeeper_store_write_errors_total", st.write_errors)
        b.add("watchkeeper_store_write_duration_seconds", st.last_write_s)
        b.add("watchkeeper_buffered_samples", st.buffered)
        b.add("watchkeeper_loop_lag_seconds", st.take_loop_lag())
        with self._proc.oneshot():
            b.add("watchkeeper_resident_memory_bytes", self._proc.memory_info().rss)
            times = self._proc.cpu_times()
            b.add("watchkeeper_cpu_seconds_total", times.user + times.system)
        b.add("watchkeeper_start_time_seconds", st.started_at)
        b.add("watchkeeper_build_info", 1, self._build)
        return b.samples
