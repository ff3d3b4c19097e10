"""Counters the run loop keeps about itself, read by the self collector.

Plain attributes updated from the event loop thread; readers in other
threads only ever see slightly stale numbers, which is fine for monitoring.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["CollectorStats", "RuntimeStats"]


@dataclass
class CollectorStats:
    up: bool = False
    last_duration_s: float = 0.0
    last_success_ms: int | None = None
    last_error: str | None = None
    collections: int = 0
    failures: int = 0
    samples: int = 0
    rejected: int = 0


@dataclass
class RuntimeStats:
    started_at: float = field(default_factory=time.time)
    collectors: dict[str, CollectorStats] = field(default_factory=dict)
    samples_written: int = 0
    samples_dropped: int = 0
    write_errors: int = 0
    batches_written: int = 0
    last_write_s: float = 0.0
    buffered: int = 0
    #: Worst event-loop lag seen since the self collector last read it.
    loop_lag_s: float = 0.0
    retention_deleted: int = 0

    def collector(self, name: str) -> CollectorStats:
        stats = self.collectors.get(name)
        if stats is None:
            stats = self.collectors[name] = CollectorStats()
        return stats

    def take_loop_lag(self) -> float:
        lag, self.loop_lag_s = self.loop_lag_s, 0.0
        return lag
