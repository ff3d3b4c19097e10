"""The run loop: collectors on their intervals, a batch writer, retention, self-watch.

This module wires the pieces; each piece (scheduling, writing, validation,
self metrics) lives in its own module and knows nothing of the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Protocol

from watchkeeper.collect.base import Collector
from watchkeeper.runtime.memory import trim_heap
from watchkeeper.runtime.scheduler import CollectorTask
from watchkeeper.runtime.stats import RuntimeStats
from watchkeeper.runtime.writer import BatchWriter
from watchkeeper.store.base import Store

__all__ = ["Runner", "Service"]

log = logging.getLogger("watchkeeper.runtime")


class Service(Protocol):
    """A long-running part beside the collectors (the web server, the notifier).

    ``serve`` runs until ``stop`` is set, then returns after cleaning up.
    """

    name: str

    async def serve(self, stop: asyncio.Event) -> None: ...


#: How often the event loop's responsiveness is sampled.
LAG_PROBE_INTERVAL = 0.5
#: How long shutdown waits for collections in flight.
SHUTDOWN_GRACE_S = 5.0
#: First heap trim after start-up has settled, then one this often.
HEAP_TRIM_FIRST_S = 10.0
HEAP_TRIM_INTERVAL_S = 60.0


class Runner:
    """Runs collectors into a store until stopped, then flushes and closes."""

    def __init__(
        self,
        collectors: Sequence[Collector],
        store: Store,
        *,
        labels: Mapping[str, str] | None = None,
        stats: RuntimeStats | None = None,
        batch_size: int = 5000,
        flush_interval: float = 1.0,
        max_buffered: int = 1_000_000,
        retention_s: float | None = None,
        retention_check_interval: float = 3600.0,
        services: Sequence[Service] = (),
        trim_heap: bool = True,
    ) -> None:
        names = [c.name for c in collectors]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"two collectors share the name(s) {', '.join(duplicates)}")
        self.stats = stats or RuntimeStats()
        self.collectors = list(collectors)
        self.store = store
        self.writer = BatchWriter(
            store,
            self.stats,
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_buffered=max_buffered,
        )
        self.tasks = [
            CollectorTask(c, self.writer.add, self.stats.collector(c.name), labels or {})
            for c in self.collectors
        ]
        self.services = list(services)
        self.retention_s = retention_s
        self.retention_check_interval = retention_check_interval
        self.trim_heap = trim_heap
        self.stop_event: asyncio.Event | None = None

    def request_stop(self) -> None:
        if self.stop_event is not None:
            self.stop_event.set()

    async def run(self, *, install_signal_handlers: bool = False) -> None:
        stop = self.stop_event = asyncio.Event()
        loop = asyncio.get_running_loop()
        if install_signal_handlers:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._on_signal, sig)
        log.info(
            "watchkeeper running: %d collector(s): %s",
            len(self.collectors),
            ", ".join(f"{c.name} every {c.interval:g}s" for c in self.collectors),
        )
        jobs: list[asyncio.Task[None]] = [
            asyncio.create_task(t.run(stop), name=f"collect:{t.collector.name}") for t in self.tasks
        ]
        jobs.append(asyncio.create_task(self.writer.run(stop), name="writer"))
        jobs.append(asyncio.create_task(self._watch_lag(stop), name="loop-lag"))
        for service in self.services:
            jobs.append(
                asyncio.create_task(self._serve(service, stop), name=f"service:{service.name}")
            )
        if self.retention_s:
            jobs.append(asyncio.create_task(self._retention(stop), name="retention"))
        if self.trim_heap:
            jobs.append(asyncio.create_task(self._trim_heap(stop), name="heap-trim"))
        try:
            await stop.wait()
        finally:
            await self._shutdown(jobs)
            if install_signal_handlers:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)

    async def _serve(self, service: Service, stop: asyncio.Event) -> None:
        try:
            await service.serve(stop)
        except Exception:
            # A broken service (e.g. the web port taken) must not stop collection.
            log.exception("service %s failed; collection goes on", service.name)

    def _on_signal(self, sig: signal.Signals) -> None:
        log.info("received %s: flushing and stopping", sig.name)
        self.request_stop()

    async def _shutdown(self, jobs: list[asyncio.Task[None]]) -> None:
        assert self.stop_event is not None
        self.stop_event.set()
        # Collections in flight may finish (their samples are kept) for a short
        # grace period; one still running after it is abandoned (its thread
        # is a daemon), so a hung collector cannot hold up shutdown.
        collecting = [j for j in jobs if j.get_name().startswith("collect:")]
        if collecting:
            _, late = await asyncio.wait(collecting, timeout=SHUTDOWN_GRACE_S)
            for job in late:
                job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        ok = await self.writer.close()
        for c in self.collectors:
            try:
                c.close()
            except Exception as exc:
                log.warning("closing collector %s failed: %s", c.name, exc)
        self.store.close()
        log.info(
            "watchkeeper stopped: %d samples written%s",
            self.stats.samples_written,
            "" if ok else f", {self.writer.buffered} NOT written",
        )

    async def _watch_lag(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            before = loop.time()
            await _sleep_or_stop(stop, LAG_PROBE_INTERVAL)
            lag = max(0.0, loop.time() - before - LAG_PROBE_INTERVAL)
            if not stop.is_set():
                self.stats.loop_lag_s = max(self.stats.loop_lag_s, lag)

    async def _retention(self, stop: asyncio.Event) -> None:
        assert self.retention_s is not None
        while not stop.is_set():
            cutoff = int((time.time() - self.retention_s) * 1000)
            try:
                deleted = await self.writer.call(partial(self.store.delete_before, cutoff))
            except Exception as exc:
                log.error("retention failed: %s", exc)
            else:
                self.stats.retention_deleted += deleted
                if deleted:
                    log.info("retention: deleted %d samples older than %s", deleted, _iso(cutoff))
            await _sleep_or_stop(stop, self.retention_check_interval)

    async def _trim_heap(self, stop: asyncio.Event) -> None:
        """Hand freed C heap back to the system now and then (see runtime/memory.py)."""
        await _sleep_or_stop(stop, HEAP_TRIM_FIRST_S)
        while not stop.is_set():
            await asyncio.to_thread(trim_heap)
            await _sleep_or_stop(stop, HEAP_TRIM_INTERVAL_S)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))
