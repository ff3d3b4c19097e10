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
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Protocol

from watchkeeper.collect.base import Collector
from watchkeeper.runtime.memory import trim_heap
from watchkeeper.runtime.scheduler import CollectorTask, now_ms
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
#: The collectors a reload replaces: the rule groups (rule_tasks.py names them).
RELOADABLE_PREFIX = "rules:"
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
        self._labels = dict(labels or {})
        self.tasks = [
            CollectorTask(c, self.writer.add, self.stats.collector(c.name), self._labels)
            for c in self.collectors
        ]
        self.services = list(services)
        self.retention_s = retention_s
        self.retention_check_interval = retention_check_interval
        self.trim_heap = trim_heap
        self.stop_event: asyncio.Event | None = None
        #: Builds the reloadable collectors anew (``reload()``, SIGHUP); raises
        #: on a bad file, and then the running ones stay.
        self.reloader: Callable[[], Sequence[Collector]] | None = None
        #: Told the new reloadable collectors after a reload (the web's board).
        self.after_reload: list[Callable[[Sequence[Collector]], None]] = []
        self.reloads = 0
        #: Called at the end of shutdown (resources shared by services and collectors).
        self.on_close: list[Callable[[], object]] = []
        self._task_stops: dict[CollectorTask, asyncio.Event] = {}
        self._task_jobs: dict[CollectorTask, asyncio.Task[None]] = {}
        self._reloading: asyncio.Lock | None = None
        self._reload_jobs: set[asyncio.Task[bool]] = set()

    def request_stop(self) -> None:
        if self.stop_event is not None:
            self.stop_event.set()

    async def run(self, *, install_signal_handlers: bool = False) -> None:
        stop = self.stop_event = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._reloading = asyncio.Lock()
        if install_signal_handlers:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._on_signal, sig)
            loop.add_signal_handler(signal.SIGHUP, self._on_reload_signal)
        log.info(
            "watchkeeper running: %d collector(s): %s",
            len(self.collectors),
            ", ".join(f"{c.name} every {c.interval:g}s" for c in self.collectors),
        )
        for t in self.tasks:
            self._start_task(t)
        jobs: list[asyncio.Task[None]] = []
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
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    loop.remove_signal_handler(sig)

    def _start_task(self, task: CollectorTask) -> None:
        # Each collector has a stop of its own, so a reload can end some.
        self._task_stops[task] = own = asyncio.Event()
        self._task_jobs[task] = asyncio.create_task(
            task.run(own), name=f"collect:{task.collector.name}"
        )

    def _on_reload_signal(self) -> None:
        if self.stop_event is None or self.stop_event.is_set():
            return  # stopping: nothing to reload into
        log.info("received SIGHUP: reloading the rules")
        job = asyncio.create_task(self.reload(), name="reload")
        # Kept until done (the loop holds only weak references to tasks).
        self._reload_jobs.add(job)
        job.add_done_callback(self._reload_done)

    def _reload_done(self, job: asyncio.Task[bool]) -> None:
        self._reload_jobs.discard(job)
        if not job.cancelled() and job.exception() is not None:
            log.error("reload failed unexpectedly", exc_info=job.exception())

    def _stopping(self) -> bool:
        return self.stop_event is None or self.stop_event.is_set()

    async def reload(self) -> bool:
        """Replace the rule groups by what ``reloader`` builds now; False if it failed.

        The file is read and checked off the loop first: a bad one is
        reported and the running groups go on untouched. ``reloader`` hands
        back the groups to run: a running one it returns (an unchanged group)
        goes on as it is; the others finish the evaluation in flight (within
        the shutdown grace period) and stop, their series ended by staleness
        markers; the new ones start.
        """
        if self.reloader is None:
            log.warning("reload: this runner has nothing to reload")
            return False
        if self._reloading is None or self._stopping():
            return False
        async with self._reloading:
            try:
                fresh = list(await asyncio.to_thread(self.reloader))
            except Exception as exc:
                for problem in (
                    getattr(exc, "problems", None) or getattr(exc, "errors", None) or [str(exc)]
                ):
                    log.error("reload failed, the running rules stay: %s", problem)
                return False
            running = {t.collector: t for t in self.tasks}
            started = [c for c in fresh if c not in running]
            if self._stopping():
                _close_all(started)
                return False
            kept = [t for t in self.tasks if not t.collector.name.startswith(RELOADABLE_PREFIX)]
            names = [c.name for c in fresh]
            clash = {t.collector.name for t in kept}
            twice = sorted({n for n in names if names.count(n) > 1 or n in clash})
            if twice:
                log.error(
                    "reload failed, the running rules stay: two collectors named %s",
                    ", ".join(twice),
                )
                _close_all(started)
                return False
            stay = [t for t in self.tasks if t not in kept and t.collector in fresh]
            old = [t for t in self.tasks if t not in kept and t.collector not in fresh]
            for t in old:
                t.collector.close()  # an evaluation still running now tells nobody
                self._task_stops.pop(t).set()
            if old:
                _, late = await asyncio.wait(
                    [self._task_jobs[t] for t in old], timeout=SHUTDOWN_GRACE_S
                )
                for job in late:
                    job.cancel()
            for t in old:
                self._task_jobs.pop(t)
                now = now_ms()
                ending = getattr(t.collector, "stale_samples", None)
                self.writer.add((ending(now) if ending else []) + t.stale_self_samples(now))
                if t.collector.name not in names:
                    self.stats.collectors.pop(t.collector.name, None)
            replaced = {t.collector.name: t.collector for t in old}
            for c in started:
                before = replaced.get(c.name)
                adopt = getattr(c, "adopt", None)
                if before is not None and adopt is not None and type(before) is type(c):
                    adopt(before)  # a changed group keeps its alerts' state
            new_tasks = [
                CollectorTask(c, self.writer.add, self.stats.collector(c.name), self._labels)
                for c in started
            ]
            self.tasks = kept + stay + new_tasks
            self.collectors = [t.collector for t in self.tasks]
            if self._stopping():
                _close_all(started)  # shutdown began while the old groups finished
                return False
            for t in new_tasks:
                self._start_task(t)
            for hook in self.after_reload:
                hook(fresh)
            self.reloads += 1
            log.info(
                "reloaded: %d rule group(s) unchanged, %d stopped, %d started%s",
                len(stay),
                len(old),
                len(new_tasks),
                (": " + ", ".join(t.collector.name for t in new_tasks)) if new_tasks else "",
            )
            return True

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
        if self._reload_jobs:
            # A reload sees the stop at its next step; it gets the grace period.
            _, unfinished = await asyncio.wait(set(self._reload_jobs), timeout=SHUTDOWN_GRACE_S)
            for reload_job in unfinished:
                reload_job.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        for own in self._task_stops.values():
            own.set()
        # Collections in flight may finish (their samples are kept) for a short
        # grace period; one still running after it is abandoned (its thread
        # is a daemon), so a hung collector cannot hold up shutdown.
        collecting = list(self._task_jobs.values())
        jobs = jobs + collecting
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
        for close in self.on_close:
            try:
                close()
            except Exception as exc:
                log.warning("closing at shutdown failed: %s", exc)
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


def _close_all(collectors: Sequence[Collector]) -> None:
    for c in collectors:
        with contextlib.suppress(Exception):
            c.close()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))
