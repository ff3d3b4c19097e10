"""Dead man's switch: ping an external URL while the always-firing Watchdog alert is alive.

If the whole alerting path dies (rules, notifier, host), the pings stop and
the external service (healthchecks.io, Cronitor, PagerDuty heartbeats...)
raises the alarm: the one failure no internal alert can report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from watchkeeper.config.notify import HeartbeatConfig

if TYPE_CHECKING:
    import httpx

__all__ = ["Heartbeat"]

log = logging.getLogger("watchkeeper.notify")


class Heartbeat:
    def __init__(self, cfg: HeartbeatConfig) -> None:
        self.cfg = cfg
        self.pings = 0
        self.failures = 0

    async def run(self, stop: asyncio.Event, alive: Callable[[], bool]) -> None:
        import httpx

        async with httpx.AsyncClient(timeout=self.cfg.timeout) as client:
            while not stop.is_set():
                if alive():
                    await self.ping(client)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.cfg.interval)

    async def ping(self, client: httpx.AsyncClient) -> bool:
        import httpx

        try:
            r = await client.post(self.cfg.url.get_secret_value(), content=b"watchkeeper watchdog")
            ok = r.status_code < 300
        except httpx.HTTPError as exc:
            log.warning("heartbeat ping failed: %s", type(exc).__name__)
            ok = False
        if ok:
            self.pings += 1
        else:
            self.failures += 1
        return ok
