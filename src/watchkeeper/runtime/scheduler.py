"""Running one collector on its interval, whatever it does.

Each collector gets its own task. A blocking collector runs in a daemon
thread of its own, so a collector that hangs forever costs one idle thread
and never blocks the event loop, the other collectors, or shutdown. A
collection that raises, times out or returns garbage is recorded as
``watchkeeper_collector_up{collector=...} 0`` and logged; the loop goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from watchkeeper.collect.base import AsyncCollector, Collector, SyncCollector
from watchkeeper.model import STALE_NAN, Labels, Sample
from watchkeeper.runtime.stats import CollectorStats
from watchkeeper.runtime.validate import check_samples

__all__ = ["CollectorTask", "run_in_daemon_thread"]

log = logging.getLogger("watchkeeper.runtime")
T = TypeVar("T")


def run_in_daemon_thread(fn: Callable[[], T]) -> asyncio.Future[T]:
    """Run ``fn`` in a new daemon thread; the future resolves on the loop.

    Unlike ``run_in_executor``, a call that never returns cannot hold up the
    interpreter's exit or starve a shared pool.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def target() -> None:
        try:
            result: T | None = fn()
            error: BaseException | None = None
        except BaseException as exc:
            result, error = None, exc
        # The loop may be gone: an abandoned call finishing after shutdown.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=target, name="wk-collect", daemon=True).start()
    return future


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class CollectorTask:
    """Drives one collector: schedule, timeout, validation, ``up`` and duration samples."""

    def __init__(
        self,
        collector: Collector,
        sink: Callable[[list[Sample]], None],
        stats: CollectorStats,
        labels: Mapping[str, str],
    ) -> None:
        self.collector = collector
        self.sink = sink
        self.stats = stats
        self.labels = dict(labels)
        self._self_labels = Labels({**self.labels, "collector": collector.name})
        self._inflight: asyncio.Future[Any] | None = None
        self._error_logged = False

    async def run(self, stop: asyncio.Event) -> None:
        interval = self.collector.interval
        loop = asyncio.get_running_loop()
        # Align ticks to the wall clock so that series from several
        # collectors with the same interval share timestamps.
        next_due = loop.time() + (-time.time() % interval)
        if next_due - loop.time() > 1.0:
            next_due = loop.time()  # first collection right away
        while not stop.is_set():
            delay = next_due - loop.time()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                    return
                except TimeoutError:
                    pass
            await self.collect_once()
            next_due += interval
            if next_due <= loop.time():  # we fell behind: skip the missed ticks
                missed = int((loop.time() - next_due) // interval) + 1
                next_due += missed * interval

    async def collect_once(self) -> list[Sample]:
        """One collection with every failure turned into ``up 0``; returns what was kept."""
        c = self.collector
        ts = now_ms()
        started = time.perf_counter()
        error: str | None = None
        result: object = None
        if self._inflight is not None and not self._inflight.done():
            error = f"previous collection still running after {c.timeout:g}s timeout; skipped"
        else:
            try:
                result = await asyncio.wait_for(self._start(ts), c.timeout)
            except TimeoutError:
                error = f"timed out after {c.timeout:g}s"
                if isinstance(c, AsyncCollector) and self._inflight is not None:
                    self._inflight.cancel()  # coroutines can be stopped; threads cannot
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                # The one-line reason goes to the error log; the traceback, for
                # finding a collector's bug, to debug (`watchkeeper run -v`).
                log.debug("collector %s raised", c.name, exc_info=exc)
        duration = time.perf_counter() - started
        checked = check_samples(result, ts)
        if error is None and checked.problem is not None:
            error = f"returned {checked.rejected} invalid item(s), first: {checked.problem}"
        samples = self._with_labels(checked.samples)
        self._record(ts, duration, error, len(samples), checked.rejected, samples)
        self.sink(samples)
        return samples

    def stale_self_samples(self, ts: int) -> list[Sample]:
        """Markers ending this collector's ``up`` and duration series (it was removed)."""
        lab = self._self_labels
        return [
            Sample("watchkeeper_collector_up", lab, ts, STALE_NAN),
            Sample("watchkeeper_collection_duration_seconds", lab, ts, STALE_NAN),
        ]

    def _start(self, ts: int) -> asyncio.Future[Any]:
        c = self.collector
        if isinstance(c, AsyncCollector):
            self._inflight = asyncio.ensure_future(c.collect(ts))
        elif isinstance(c, SyncCollector):
            self._inflight = run_in_daemon_thread(lambda: _materialise(c.collect(ts)))
        else:
            raise TypeError(f"{type(c).__name__} is neither a sync nor an async collector")
        # Shield: a timeout abandons the wait, not the thread's future we track.
        return asyncio.shield(self._inflight)

    def _with_labels(self, samples: list[Sample]) -> list[Sample]:
        if not self.labels:
            return samples
        extra = self.labels
        cache: dict[Labels, Labels] = {}
        out = []
        for s in samples:
            merged = cache.get(s.labels)
            if merged is None:
                merged = cache[s.labels] = s.labels.merge(extra)
            out.append(s._replace(labels=merged))
        return out

    def _record(
        self,
        ts: int,
        duration: float,
        error: str | None,
        kept: int,
        rejected: int,
        samples: list[Sample],
    ) -> None:
        st = self.stats
        st.collections += 1
        st.last_duration_s = duration
        st.samples += kept
        st.rejected += rejected
        st.up = error is None
        if error is None:
            log.debug(
                "collected %d samples from %s in %.1f ms",
                kept,
                self.collector.name,
                duration * 1000,
            )
            st.last_success_ms = ts
            st.last_error = None
            if self._error_logged:
                log.info("collector %s recovered", self.collector.name)
            self._error_logged = False
        else:
            st.failures += 1
            st.last_error = error
            # Log every failure at first, then once a minute-ish while it persists.
            if (
                not self._error_logged
                or st.failures % max(1, int(60 / self.collector.interval)) == 0
            ):
                log.error(
                    "collector %s failed: %s",
                    self.collector.name,
                    error,
                    extra={"collector": self.collector.name, "failures": st.failures},
                )
            self._error_logged = True
        lab = self._self_labels
        samples.append(Sample("watchkeeper_collector_up", lab, ts, 1.0 if error is None else 0.0))
        samples.append(Sample("watchkeeper_collection_duration_seconds", lab, ts, duration))


def _materialise(result: Iterable[Sample] | None) -> list[Sample] | object:
    """Consume a generator inside the worker thread, so its work is timed and off-loop."""
    if result is None or isinstance(result, list | tuple):
        return result
    if isinstance(result, str | bytes) or not isinstance(result, Iterable):
        return result
    return list(result)
