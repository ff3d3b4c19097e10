"""Draining the outbox into the channels: concurrency, rate limits, back-off, dead letters.

Groups are independent (a slow Slack does not hold up e-mail, one group's
retries do not hold up another's); within a group the outbox hands out only
the oldest pending row, which is what keeps the order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping

from watchkeeper.alerts.model import now_ms
from watchkeeper.config.notify import DeliveryConfig
from watchkeeper.notify.channels.base import Channel, DeliveryError
from watchkeeper.notify.outbox import Outbox, backoff_s
from watchkeeper.notify.payload import Notification
from watchkeeper.notify.ratelimit import RateLimiter

__all__ = ["DeliveryWorker", "wait_either"]

log = logging.getLogger("watchkeeper.notify")

#: Notifications in flight at most, over all integrations.
MAX_IN_FLIGHT = 512
SHUTDOWN_GRACE_S = 5.0
#: Group heads read from the outbox per query.
FETCH_BATCH = 256


class DeliveryWorker:
    def __init__(
        self,
        outbox: Outbox,
        channels: Mapping[str, Channel],
        delivery: DeliveryConfig,
        *,
        on_dead: Callable[[str, str], None] = lambda key, error: None,
        on_ok: Callable[[str], None] = lambda key: None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.outbox = outbox
        self.channels = dict(channels)
        self.cfg = delivery
        self.on_dead = on_dead
        self.on_ok = on_ok
        self.clock = clock
        self.wake = asyncio.Event()
        #: Set by ``notify_queued`` when new rows were committed.
        self._queued = asyncio.Event()
        #: Group heads fetched but not yet handed out (one query serves many sends).
        self._ready: deque[Notification] = deque()
        self.inflight: set[int] = set()
        self.sems = {k: asyncio.Semaphore(delivery.concurrency) for k in self.channels}
        self.busy: Counter[str] = Counter()
        self._queued.set()
        self.limits = {k: RateLimiter(c.rate_limit) for k, c in self.channels.items()}
        self.rng = random.Random()
        self.sent = 0
        self.failed = 0
        self.dead = 0

    def notify_queued(self) -> None:
        """New rows are in the outbox: look at the queue at the next turn."""
        self._queued.set()
        self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        tasks: set[asyncio.Task[None]] = set()
        cap = min(MAX_IN_FLIGHT, max(1, self.cfg.concurrency * max(1, len(self.channels))))
        try:
            while not stop.is_set():
                self.wake.clear()
                now = self.clock()
                room = cap - len(self.inflight)
                # One queue query serves many sends: refill only when the
                # ready list ran dry or new rows were committed.
                if room > 0 and (not self._ready or self._queued.is_set()):
                    self._queued.clear()
                    held = self.inflight | {n.id for n in self._ready}
                    self._ready.extend(self.outbox.due(now, FETCH_BATCH, held))
                keep: deque[Notification] = deque()
                while room > 0 and self._ready:
                    n = self._ready.popleft()
                    channel = self.channels.get(n.integration)
                    if channel is None:
                        self.outbox.mark_failed(
                            n, now, 0.0, "integration no longer configured", retry_at_ms=None
                        )
                        continue
                    if self.busy[n.integration] >= self.cfg.concurrency:
                        keep.append(n)  # this integration is full; others may go on
                        continue
                    room -= 1
                    self.busy[n.integration] += 1
                    self.inflight.add(n.id)
                    task = asyncio.create_task(self._deliver(channel, n))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                keep.extend(self._ready)
                self._ready = keep
                timeout = 1.0
                nxt = self.outbox.next_due_ms()
                if nxt is not None and nxt > now:
                    timeout = min(timeout, (nxt - now) / 1000)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wait_either(self.wake, stop), timeout)
        finally:
            if tasks:
                _, late = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_S)
                for t in late:
                    t.cancel()
                await asyncio.gather(*late, return_exceptions=True)

    async def _deliver(self, channel: Channel, n: Notification) -> None:
        try:
            async with self.sems[channel.key]:
                await self.limits[channel.key].acquire()
                started = time.perf_counter()
                error: str | None = None
                retryable = True
                try:
                    await channel.send(n)
                except DeliveryError as exc:
                    error, retryable = str(exc), exc.retryable
                except Exception as exc:  # a bug in a channel must not kill the worker
                    log.exception("channel %s failed unexpectedly", channel.key)
                    error = f"{type(exc).__name__}: {exc}"
                latency = (time.perf_counter() - started) * 1000
                self._record(channel, n, error, retryable, latency)
        finally:
            self.inflight.discard(n.id)
            self.busy[n.integration] -= 1
            self.wake.set()

    def _record(
        self, channel: Channel, n: Notification, error: str | None, retryable: bool, latency: float
    ) -> None:
        now = self.clock()
        if error is None:
            self.outbox.mark_done(n, now, latency)
            self.sent += 1
            self.on_ok(channel.key)
            return
        attempts = n.attempts + 1
        too_old = now - n.created_ms >= self.cfg.max_age * 1000
        if not retryable or attempts >= self.cfg.max_attempts or too_old:
            self.outbox.mark_failed(n, now, latency, error, retry_at_ms=None)
            self.dead += 1
            log.error(
                "notification %d to %s dead-lettered after %d attempt(s): %s",
                n.id,
                channel.key,
                attempts,
                error,
            )
            self.on_dead(channel.key, error)
            return
        delay = backoff_s(attempts, self.cfg.initial_backoff, self.cfg.max_backoff, self.rng)
        self.outbox.mark_failed(n, now, latency, error, retry_at_ms=now + int(delay * 1000))
        self.failed += 1
        log.warning(
            "notification %d to %s failed (attempt %d), retrying in %.1fs: %s",
            n.id,
            channel.key,
            attempts,
            delay,
            error,
        )


async def wait_either(a: asyncio.Event, b: asyncio.Event) -> None:
    """Return as soon as ``a`` or ``b`` is set (a wake-up or the stop signal)."""
    ta = asyncio.create_task(a.wait())
    tb = asyncio.create_task(b.wait())
    try:
        await asyncio.wait({ta, tb}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        ta.cancel()
        tb.cancel()
