"""Batching samples into the store, off the event loop, without losing them.

Collectors hand samples to ``add``; the writer flushes when a batch is full
or ``flush_interval`` has passed. Writes run on one dedicated thread (the
store sees one writer). A failing store keeps the samples buffered and
retried with back-off; only past ``max_buffered`` are the oldest dropped,
and counted.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from watchkeeper.model import Sample
from watchkeeper.runtime.stats import RuntimeStats
from watchkeeper.store.base import Store

__all__ = ["BatchWriter"]

log = logging.getLogger("watchkeeper.runtime.writer")
T = TypeVar("T")


class BatchWriter:
    def __init__(
        self,
        store: Store,
        stats: RuntimeStats,
        *,
        batch_size: int = 5000,
        flush_interval: float = 1.0,
        max_buffered: int = 1_000_000,
    ) -> None:
        self.store = store
        self.stats = stats
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_buffered = max_buffered
        self._buffer: collections.deque[list[Sample]] = collections.deque()
        self._buffered = 0
        self._full = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wk-store")
        self._backoff = 0.0
        #: Called on the event loop with every batch once it is durably stored
        #: (the web's live updates subscribe here). Must not block.
        self.on_written: list[Callable[[list[Sample]], None]] = []

    def add(self, samples: list[Sample]) -> None:
        """Queue samples for writing (event loop thread only)."""
        if not samples:
            return
        self._buffer.append(samples)
        self._buffered += len(samples)
        while self._buffered > self.max_buffered and len(self._buffer) > 1:
            dropped = self._buffer.popleft()
            self._buffered -= len(dropped)
            self.stats.samples_dropped += len(dropped)
            log.warning(
                "store backlog over %d samples: dropped %d oldest", self.max_buffered, len(dropped)
            )
        self.stats.buffered = self._buffered
        if self._buffered >= self.batch_size:
            self._full.set()

    @property
    def buffered(self) -> int:
        return self._buffered

    async def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the store thread, serialised with the writes."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def run(self, stop: asyncio.Event) -> None:
        """Flush periodically until ``stop``; the final flush is the caller's (``close``)."""
        while not stop.is_set():
            wait = self.flush_interval + self._backoff
            stop_wait = asyncio.ensure_future(stop.wait())
            full_wait = asyncio.ensure_future(self._full.wait())
            try:
                await asyncio.wait(
                    {stop_wait, full_wait}, timeout=wait, return_when="FIRST_COMPLETED"
                )
            finally:
                stop_wait.cancel()
                full_wait.cancel()
            if stop.is_set():
                return
            await self.flush()

    async def flush(self) -> bool:
        """Write everything buffered; False if the store failed (samples kept)."""
        self._full.clear()
        while self._buffer:
            batch = self._take_batch()
            started = time.perf_counter()
            try:
                written = await self.call(lambda b=batch: self.store.append(b))  # type: ignore[misc]
            except Exception as exc:
                self._requeue(batch)
                self.stats.write_errors += 1
                self._backoff = min(30.0, max(1.0, self._backoff * 2))
                log.error("store write failed (%d samples kept for retry): %s", len(batch), exc)
                return False
            self._backoff = 0.0
            for listener in self.on_written:
                try:
                    listener(batch)
                except Exception:  # a subscriber's bug must not stop writing
                    log.exception("on_written listener failed")
            self.stats.samples_written += written
            self.stats.batches_written += 1
            self.stats.last_write_s = time.perf_counter() - started
        return True

    def _take_batch(self) -> list[Sample]:
        batch: list[Sample] = []
        while self._buffer and len(batch) < self.batch_size:
            chunk = self._buffer.popleft()
            room = self.batch_size - len(batch)
            if len(chunk) > room:
                batch.extend(chunk[:room])
                self._buffer.appendleft(chunk[room:])
            else:
                batch.extend(chunk)
        self._buffered -= len(batch)
        self.stats.buffered = self._buffered
        return batch

    def _requeue(self, batch: list[Sample]) -> None:
        self._buffer.appendleft(batch)
        self._buffered += len(batch)
        self.stats.buffered = self._buffered

    async def close(self, *, attempts: int = 3) -> bool:
        """Final flush (retrying a few times), then stop the store thread."""
        ok = True
        for attempt in range(attempts):
            ok = await self.flush()
            if ok:
                break
            await asyncio.sleep(min(2.0, 0.2 * 2**attempt))
        if not ok:
            log.error("shutting down with %d samples not written", self._buffered)
        self._executor.shutdown(wait=True)
        return ok
