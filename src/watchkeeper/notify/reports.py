"""Scheduled reports: ``watchkeeper report`` sent to a receiver, through the outbox.

A run-loop service beside the notifier. At each configured time it builds
the report of the period just ended (off the loop: it reads the store) and
queues one notification of kind ``report`` per integration of the receiver
that can carry a report (e-mail, Slack, console). PagerDuty, the
Alertmanager forwarder, commands and apprise would turn a summary into an
incident, and a webhook's receivers expect Alertmanager's alert payload, so
they are left out. Delivery is the outbox's: retried, durable. A report due
while watchkeeper was not running is not sent afterwards (the next one is).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from watchkeeper.alerts.model import now_ms as wall_ms
from watchkeeper.config.notify import WEEKDAYS, ReportConfig
from watchkeeper.notify.notifier import Notifier
from watchkeeper.store.base import Store

__all__ = ["REPORT_INTEGRATIONS", "ReportScheduler", "next_report_at"]

log = logging.getLogger("watchkeeper.notify.reports")

#: Integration types (``<receiver>/<type>/<n>``) a report is sent to.
REPORT_INTEGRATIONS = frozenset({"email", "slack", "console"})


def next_report_at(cfg: ReportConfig, after_ms: int) -> int:
    """The first scheduled time strictly after ``after_ms`` (ms), in the config's zone."""
    zone = ZoneInfo(cfg.time_zone)
    hour, minute = (int(x) for x in cfg.at.split(":"))
    day = datetime.fromtimestamp(after_ms / 1000, zone).date()
    for offset in range(8):
        d = day + timedelta(days=offset)
        if WEEKDAYS[d.weekday()] not in cfg.weekdays:
            continue
        at = datetime(d.year, d.month, d.day, hour, minute, tzinfo=zone)
        ms = int(at.timestamp() * 1000)
        if ms > after_ms:
            return ms
    raise AssertionError("a weekday list that is never due")  # validated non-empty


class ReportScheduler:
    """Sends the configured reports; ``serve(stop)`` like every run-loop service."""

    name = "reports"

    def __init__(
        self,
        reports: Sequence[ReportConfig],
        notifier: Notifier,
        store: Store,
        *,
        alerts_db: Path | None = None,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        self.reports = list(reports)
        self.notifier = notifier
        self.store = store
        self.alerts_db = alerts_db
        self.clock = clock
        self.sent = 0

    async def serve(self, stop: asyncio.Event) -> None:
        due = {i: next_report_at(r, self.clock()) for i, r in enumerate(self.reports)}
        while not stop.is_set() and due:
            i, at = min(due.items(), key=lambda item: item[1])
            wait_s = max(0.0, (at - self.clock()) / 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(wait_s, 3600.0))
                return
            if self.clock() < at:
                continue  # woke up early (the wait is capped): look again
            try:
                await self.send(self.reports[i], at)
            except Exception:  # a failing report must not end the others
                log.exception("report for %s failed", self.reports[i].receiver)
            # After a stall (a suspended machine) the next slot, not every missed one.
            due[i] = next_report_at(self.reports[i], max(at, self.clock()))

    async def send(self, cfg: ReportConfig, at_ms: int) -> int:
        """Build the report of the period ending at ``at_ms`` and queue it; rows queued."""
        from watchkeeper.report import build_report, render_report

        period_ms = int(cfg.since * 1000)
        report = await asyncio.to_thread(
            build_report, self.store, end_ms=at_ms, period_ms=period_ms, alerts_db=self.alerts_db
        )
        zone = ZoneInfo(cfg.time_zone)
        text = render_report(report, "text", zone=zone)
        payload: dict[str, Any] = {
            "kind": "report",
            "receiver": cfg.receiver,
            "subject": text.splitlines()[0],
            "text": text,
            "html": render_report(report, "html", zone=zone),
            "report": dataclasses.asdict(report),
            "externalURL": self.notifier.config.external_url,
        }
        targets = [
            ch
            for ch in self.notifier.receivers.get(cfg.receiver, [])
            if ch.key.split("/")[-2] in REPORT_INTEGRATIONS
        ]
        now = self.notifier.clock()  # the outbox keeps the notifier's time
        db = self.notifier.db
        with db.transaction() as conn:
            for ch in targets:
                self.notifier.outbox.enqueue(
                    conn,
                    integration=ch.key,
                    group_key=f"report:{cfg.receiver}",
                    kind="report",
                    payload=payload,
                    now_ms=now,
                )
        if targets:
            self.notifier.worker.notify_queued()
            self.sent += 1
        log.info(
            "report for %s queued to %d integration(s)%s",
            cfg.receiver,
            len(targets),
            "" if targets else " (it has no e-mail, Slack or console integration)",
        )
        return len(targets)
