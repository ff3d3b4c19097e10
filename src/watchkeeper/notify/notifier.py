"""The notifier service: alerts in, notifications queued in the durable outbox.

Stages, as in Alertmanager: receive -> route -> group (wait) -> mute
(inhibit, silence, maintenance) -> dedup against the notification log ->
outbox -> delivery with retries. What watchkeeper adds: resolved alerts are
sent at once rather than at the next group interval (alertmanager#1660),
acknowledged alerts stop repeating, escalation, silences that end themselves,
a dead man's switch, and delivery that survives a crash (outbox.py).

``receive`` never blocks: the rule engine hands over its alerts after each
evaluation and goes on; the service's loop does the rest. That loop is the
run loop's, shared with the collectors' scheduling and the web server, so one
turn does at most ``step_budget_s`` of work (an alert storm of thousands is
taken in slices) and yields before the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from watchkeeper.alerts.db import AlertRecord, AlertsDB
from watchkeeper.alerts.inhibit import Inhibitor, InhibitRule
from watchkeeper.alerts.maintenance import MaintenanceWindow
from watchkeeper.alerts.model import InboundAlert, now_ms
from watchkeeper.alerts.silence import Silence
from watchkeeper.config.notify import NotifyConfig, RouteConfig
from watchkeeper.model import Labels
from watchkeeper.notify.channels.base import Channel
from watchkeeper.notify.dedup import NflogEntry, load_entry, needs_update, save_entry
from watchkeeper.notify.delivery import DeliveryWorker, wait_either
from watchkeeper.notify.heartbeat import Heartbeat
from watchkeeper.notify.mute import MuteStage
from watchkeeper.notify.outbox import Outbox
from watchkeeper.notify.payload import build_payload
from watchkeeper.notify.route import Route

__all__ = ["FAILING_ALERT", "Notifier"]

log = logging.getLogger("watchkeeper.notify")

FAILING_ALERT = "WatchkeeperNotificationsFailing"
#: A posted alert without ``endsAt`` resolves unless posted again within this
#: (Alertmanager's default).
RESOLVE_TIMEOUT_MS = 5 * 60 * 1000
#: Resolved alerts reloaded at start-up (their resolution may not be sent yet).
RELOAD_RESOLVED_MS = 86_400_000
HOUSEKEEPING_S = 5.0
PRUNE_EVERY_S = 3600.0
#: Work one turn of the notifier does before it lets the run loop's other
#: tasks run (a storm of 5,000 new alerts otherwise held the loop ~1.3 s).
STEP_BUDGET_S = 0.05
#: Alerts merged between two looks at the clock.
INGEST_SLICE = 256
#: How long turns that go on flushing may keep the mute state they began with.
RESUME_FLUSH_S = 1.0


@dataclass(slots=True)
class AggGroup:
    route: Route
    key: str
    labels: dict[str, str]
    fps: set[str] = field(default_factory=set)
    next_flush_ms: int = 0


class Notifier:
    """The notification pipeline as a run-loop service (``name``, ``serve(stop)``)."""

    name = "notifier"

    def __init__(
        self,
        config: NotifyConfig,
        db: AlertsDB,
        channels: Mapping[str, Sequence[Channel]],
        *,
        clock: Callable[[], int] = now_ms,
        step_budget_s: float = STEP_BUDGET_S,
    ) -> None:
        self.config = config
        self.db = db
        self.clock = clock
        self.step_budget_s = step_budget_s
        self.receivers = {name: list(chs) for name, chs in channels.items()}
        self.channels = {c.key: c for chs in self.receivers.values() for c in chs}
        self.route = Route.from_config(config.route)
        self.mute = MuteStage(
            Inhibitor([InhibitRule.from_config(r) for r in config.inhibit_rules]),
            [MaintenanceWindow.from_config(w) for w in config.maintenance],
        )
        self.outbox = Outbox(db)
        self.worker = DeliveryWorker(
            self.outbox,
            self.channels,
            config.delivery,
            on_dead=self._on_dead,
            on_ok=self._on_ok,
            clock=clock,
        )
        self.heartbeat = Heartbeat(config.heartbeat) if config.heartbeat else None
        self.watchdog_name = watchdog_alertname(config)
        self.last_watchdog_ms = 0
        self.records: dict[str, AlertRecord] = {}
        #: Fingerprints of the records currently firing.
        self._firing: set[str] = set()
        self.groups: dict[str, AggGroup] = {}
        self.silences: list[Silence] = []
        self.failing: dict[str, str] = {}
        self._inbox: deque[tuple[list[InboundAlert], int, str, int]] = deque()
        #: Numbers the inbox's entries (``next`` is atomic: receive() is any thread's).
        self._seq = itertools.count(1)
        #: The last entry merged whole, and the entry merging must reach
        #: before groups may flush again while it is behind.
        self._merged_seq = 0
        self._mark: int | None = None
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._data_version = -1
        self._last_housekeeping = 0.0
        self._last_prune = 0.0
        self.ready = asyncio.Event()
        self.enqueued = 0
        #: Groups due that the last turn left unflushed, and when that began.
        self._due: deque[str] | None = None
        self._due_since = 0.0

    # -- the integration contract ---------------------------------------------------------
    def receive(self, alerts: Sequence[InboundAlert], *, source: str = "rules") -> None:
        """Hand over alerts (firing and recently resolved); never blocks, any thread."""
        self._inbox.append((list(alerts), self.clock(), source, next(self._seq)))
        loop = self._loop
        if loop is None:
            return  # picked up when serve() starts
        if threading.get_ident() == self._thread:
            self._wake.set()
        else:
            with contextlib.suppress(RuntimeError):  # loop closed: we are shutting down
                loop.call_soon_threadsafe(self._wake.set)

    async def serve(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._restore()
        jobs = [asyncio.create_task(self.worker.run(stop), name="notify:delivery")]
        if self.heartbeat is not None:
            jobs.append(
                asyncio.create_task(
                    self.heartbeat.run(stop, self._watchdog_alive), name="notify:heartbeat"
                )
            )
        self.ready.set()
        try:
            while not stop.is_set():
                self._wake.clear()
                more = False
                try:
                    more = self.step()
                except Exception:  # a bad alert or a full disk must not end notifications
                    log.exception("notifier step failed; retrying")
                if more:
                    await asyncio.sleep(0)  # let the loop's other tasks run, then go on
                    continue
                timeout = self._next_timeout()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wait_either(self._wake, stop), timeout)
        finally:
            await asyncio.gather(*jobs, return_exceptions=True)
            for ch in self.channels.values():
                with contextlib.suppress(Exception):
                    await ch.aclose()

    # -- one turn of the loop ---------------------------------------------------------------
    def step(self) -> bool:
        """One turn of the pipeline, within ``step_budget_s``; True if work is left.

        Groups flush once every alert received before the storm began is
        merged, so a storm taken in slices still goes out in whole groups,
        and alerts that keep coming cannot hold flushes back for ever. The
        groups due are then flushed from a queue until the budget is spent
        (at least one per turn); the turns that go on with that queue keep
        the mute state of the turn that made it while nothing new was merged
        and alerts.db did not change.
        """
        started = time.monotonic()
        deadline = started + self.step_budget_s
        now = self.clock()
        reloaded = self._reload_if_changed(now)
        # Writing what was merged costs about twice the merging: a third of the budget.
        caught_up, merged = self._ingest(now, started + self.step_budget_s / 3)
        if not caught_up:
            return True
        resuming = (
            self._due is not None
            and not merged
            and not reloaded
            and 0 <= started - self._due_since < RESUME_FLUSH_S
        )
        if not resuming:
            loop_s = now / 1000
            if loop_s - self._last_housekeeping >= HOUSEKEEPING_S:
                self._last_housekeeping = loop_s
                self._housekeeping(now)
            self._expire_alerts(now)
            self._refresh_mute(now)
            due: deque[str] = deque()
            for group in list(self.groups.values()):
                if group.next_flush_ms <= now:
                    due.append(group.key)
                elif group.route.escalate:
                    self._escalate(group, now, set())
            self._due, self._due_since = due, started
        assert self._due is not None
        flushed = False
        while self._due:
            if flushed and time.monotonic() >= deadline:
                return True
            pending = self.groups.get(self._due.popleft())
            if pending is None or pending.next_flush_ms > now:
                continue  # gone, or flushed since by a resolution's turn
            self._flush(pending, now)
            flushed = True
        self._due = None
        return False

    def _next_timeout(self) -> float:
        now = self.clock()
        nxt = min((g.next_flush_ms for g in self.groups.values()), default=now + 1000)
        return max(0.005, min(1.0, (nxt - now) / 1000))

    # -- receiving ----------------------------------------------------------------------
    def _ingest(self, now: int, deadline: float) -> tuple[bool, bool]:
        """Merge the inbox in order until ``deadline``: (caught up, merged anything).

        Caught up: the inbox is empty, or everything that was in it when
        merging last fell behind is merged now (what came since waits for the
        next turns). At least one slice is merged per call, so a storm always
        progresses; what is left stays first in the inbox.
        """
        if not self._inbox:
            self._mark = None
            return True, False
        dirty: dict[str, tuple[AlertRecord, str | None]] = {}
        while self._inbox:
            alerts, received, source, seq = self._inbox.popleft()
            split = False
            for start in range(0, len(alerts), INGEST_SLICE):
                if start and time.monotonic() >= deadline:
                    self._inbox.appendleft((alerts[start:], received, source, seq))
                    split = True
                    break
                for a in alerts[start : start + INGEST_SLICE]:
                    try:
                        event = self._accept(a, received, source)
                    except Exception:  # one bad alert must not cost the rest of its batch
                        log.exception("alert %s from %s skipped", a.fingerprint, source)
                        continue
                    if event is not False:
                        label = event if isinstance(event, str) and event else None
                        dirty[a.fingerprint] = (self.records[a.fingerprint], label)
            if not split:
                self._merged_seq = seq
            if self._inbox and time.monotonic() >= deadline:
                break
        if dirty:
            with self.db.transaction() as c:
                for fp, (rec, change) in dirty.items():
                    self.db.save_alert(c, rec, now, clear_ack=bool(change))
                    if change:
                        self.db.history(
                            c, fp, now, change, labels=dict(rec.alert.labels), source=rec.source
                        )
        if not self._inbox:
            self._mark = None
            return True, True
        if self._mark is None:
            self._mark = self._inbox[-1][3]  # the newest entry now: merge up to it first
            return False, True
        if self._merged_seq >= self._mark:
            self._mark = None  # a new mark the next time merging falls behind
            return True, True
        return False, True

    def _accept(self, a: InboundAlert, received: int, source: str) -> str | bool:
        """Merge one posted alert; returns the history event, "" (save only) or False (nothing)."""
        if not a.ends_at_ms:
            a = dataclasses.replace(a, ends_at_ms=received + RESOLVE_TIMEOUT_MS)
        if not a.starts_at_ms:
            a = dataclasses.replace(a, starts_at_ms=received)
        if self.watchdog_name and a.alertname == self.watchdog_name:
            if not a.resolved(received):
                self.last_watchdog_ms = received
            return False  # the dead man's switch is its own receiver
        fp = a.fingerprint
        rec = self.records.get(fp)
        resolved_now = a.resolved(received)
        if rec is None:
            if resolved_now:
                return False  # resolved before we ever saw it fire: nothing to tell anyone
            self.records[fp] = AlertRecord(a, received, source)
            self._firing.add(fp)
            self._route(fp, a.labels, received, resolved=False)
            return "firing"
        was_resolved = fp not in self._firing
        if rec.resolved_by and a.starts_at_ms == rec.alert.starts_at_ms:
            rec.received_ms = received
            return False  # resolved by hand: stays resolved until the source starts it again
        changed = (
            a.annotations != rec.alert.annotations
            or a.starts_at_ms != rec.alert.starts_at_ms
            or resolved_now != was_resolved
            or a.ends_at_ms - rec.alert.ends_at_ms >= 60_000  # persist the extension now and then
        )
        rec.alert = a
        rec.received_ms = received
        rec.source = source
        if resolved_now and not was_resolved:
            self._firing.discard(fp)
            self._clear_ack(rec)
            self._route(fp, a.labels, received, resolved=True)
            return "resolved"
        if not resolved_now:
            self._firing.add(fp)
            if was_resolved:
                rec.resolved_by = None
                self._clear_ack(rec)
            self._route(fp, a.labels, received, resolved=False)
            if was_resolved:
                return "firing"
        return "" if changed else False

    @staticmethod
    def _clear_ack(rec: AlertRecord) -> None:
        rec.ack_by = rec.ack_at_ms = rec.ack_until_ms = rec.ack_comment = None

    def _route(self, fp: str, labels: Labels, now: int, *, resolved: bool) -> None:
        for route in self.route.match(labels):
            key, glabels = route.group_key(labels)
            group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = AggGroup(
                    route, key, glabels, next_flush_ms=now + int(route.group_wait * 1000)
                )
            group.fps.add(fp)
            if resolved:
                group.next_flush_ms = now  # resolutions go out at once

    def _expire_alerts(self, now: int) -> None:
        """Alerts whose ``endsAt`` passed without a refresh resolve now."""
        expired = [fp for fp in self._firing if self.records[fp].alert.resolved(now)]
        if not expired:
            return
        with self.db.transaction() as c:
            for fp in expired:
                rec = self.records[fp]
                self._firing.discard(fp)
                self._clear_ack(rec)
                self.db.save_alert(c, rec, now, clear_ack=True)
                self.db.history(c, fp, now, "resolved", reason="endsAt reached")
                self._route(fp, rec.alert.labels, now, resolved=True)

    # -- flushing ------------------------------------------------------------------------
    def _refresh_mute(self, now: int) -> None:
        firing = [r.alert.labels for r in self.records.values() if not r.alert.resolved(now)]
        self.mute.update(firing, self.silences)

    def _flush(self, group: AggGroup, now: int) -> None:
        route = group.route
        recs = [self.records[fp] for fp in group.fps if fp in self.records]
        visible = [r for r in recs if self.mute.reason(r.alert.labels, now) is None]
        firing = {r.fingerprint for r in visible if not r.alert.resolved(now)}
        resolved_all = {r.fingerprint for r in recs if r.alert.resolved(now)}
        resolved = resolved_all & {r.fingerprint for r in visible}
        by_fp = {r.fingerprint: r for r in visible}
        all_acked = bool(firing) and all(by_fp[fp].acked(now) for fp in firing)
        enqueued = 0
        with self.db.transaction() as c:
            for ch in self.receivers.get(route.receiver, []):
                own = {fp for fp in by_fp if _about(by_fp[fp], ch.key)}
                f, r = frozenset(firing - own), frozenset(resolved - own)
                send_resolved = (
                    route.send_resolved if route.send_resolved is not None else ch.send_resolved
                )
                entry = load_entry(c, ch.key, group.key)
                if not needs_update(
                    entry,
                    f,
                    r,
                    send_resolved=send_resolved,
                    repeat_ms=int(route.repeat_interval * 1000),
                    now_ms=now,
                    all_acked=all_acked,
                ):
                    continue
                shown = [
                    by_fp[fp].alert for fp in sorted(f | (r if send_resolved else frozenset()))
                ]
                if f or (send_resolved and r):
                    self.outbox.enqueue(
                        c,
                        integration=ch.key,
                        group_key=group.key,
                        kind="notification",
                        payload=build_payload(
                            receiver=route.receiver,
                            group_key=group.key,
                            group_labels=group.labels,
                            alerts=shown,
                            now_ms=now,
                            external_url=self.config.external_url,
                        ),
                        now_ms=now,
                    )
                    enqueued += 1
                save_entry(c, ch.key, group.key, NflogEntry(f, r, now))
            if route.escalate:
                enqueued += self._escalate_in(c, group, now, resolved_all, by_fp)
        group.fps -= resolved_all
        group.next_flush_ms = now + int(route.group_interval * 1000)
        if not group.fps:
            del self.groups[group.key]
        if enqueued:
            self.enqueued += enqueued
            self.worker.notify_queued()

    def _escalate(self, group: AggGroup, now: int, resolved: set[str]) -> None:
        recs = [self.records[fp] for fp in group.fps if fp in self.records]
        by_fp = {r.fingerprint: r for r in recs if self.mute.reason(r.alert.labels, now) is None}
        due = any(
            not r.alert.resolved(now)
            and not r.acked(now)
            and r.alert.starts_at_ms + step.after * 1000 <= now
            for r in by_fp.values()
            for step in group.route.escalate
        )
        if not due:
            return
        with self.db.transaction() as c:
            n = self._escalate_in(c, group, now, resolved, by_fp)
        if n:
            self.enqueued += n
            self.worker.notify_queued()

    def _escalate_in(
        self,
        c: object,
        group: AggGroup,
        now: int,
        resolved: set[str],
        by_fp: dict[str, AlertRecord],
    ) -> int:
        """Notify each step's receiver of alerts firing unacknowledged for longer than ``after``."""
        import sqlite3

        assert isinstance(c, sqlite3.Connection)
        n = 0
        for i, step in enumerate(group.route.escalate):
            due = {
                fp
                for fp, r in by_fp.items()
                if not r.alert.resolved(now)
                and not r.acked(now)
                and r.alert.starts_at_ms + step.after * 1000 <= now
            }
            gkey = f"{group.key}#escalate{i}"
            for ch in self.receivers.get(step.receiver, []):
                entry = load_entry(c, ch.key, gkey)
                told = entry.firing if entry else frozenset()
                gone = told & resolved
                new = due - told
                shown: list[InboundAlert] = []
                if new:
                    shown = [by_fp[fp].alert for fp in sorted(due)]
                if (new or gone) and ch.send_resolved:
                    shown += [self.records[fp].alert for fp in sorted(gone) if fp in self.records]
                if shown:
                    self.outbox.enqueue(
                        c,
                        integration=ch.key,
                        group_key=gkey,
                        kind="escalation",
                        payload=build_payload(
                            receiver=step.receiver,
                            group_key=gkey,
                            group_labels=group.labels,
                            alerts=shown,
                            now_ms=now,
                            external_url=self.config.external_url,
                        ),
                        now_ms=now,
                    )
                    n += 1
                if new or gone:
                    save_entry(
                        c,
                        ch.key,
                        gkey,
                        NflogEntry(frozenset((told | due) - resolved), frozenset(gone), now),
                    )
        return n

    # -- state shared with other processes (CLI, web) ------------------------------------------
    def _reload_if_changed(self, now: int) -> bool:
        """Take in acknowledgements and silences made elsewhere; True if any changed."""
        version = self.db.data_version()
        if version == self._data_version:
            return False
        self._data_version = version
        self.silences = [
            Silence.from_row(r)
            for r in self.db.query("SELECT * FROM silences WHERE ends_at > ?", (now,))
        ]
        rows = self.db.query(
            "SELECT * FROM alerts WHERE status='firing' OR ends_at >= ?",
            (now - RELOAD_RESOLVED_MS,),
        )
        for row in rows:
            rec = self.records.get(row["fingerprint"])
            if rec is None:
                continue
            fresh = AlertRecord.from_row(row)
            rec.ack_by, rec.ack_at_ms = fresh.ack_by, fresh.ack_at_ms
            rec.ack_until_ms, rec.ack_comment = fresh.ack_until_ms, fresh.ack_comment
            if fresh.resolved_by and not rec.resolved_by:
                rec.resolved_by = fresh.resolved_by
                rec.alert = dataclasses.replace(rec.alert, ends_at_ms=fresh.alert.ends_at_ms)
                self._firing.discard(rec.fingerprint)
                self._route(rec.fingerprint, rec.alert.labels, now, resolved=True)
        return True

    def _restore(self) -> None:
        """Rebuild groups from alerts.db after a (re)start; the nflog prevents re-sending."""
        now = self.clock()
        for rec in self.db.load_alerts(since_ms=now - RELOAD_RESOLVED_MS):
            fp = rec.fingerprint
            if not rec.alert.resolved(now):
                # Give the source a resolve timeout to send it again.
                ends = max(rec.alert.ends_at_ms, now + RESOLVE_TIMEOUT_MS)
                rec.alert = dataclasses.replace(rec.alert, ends_at_ms=ends)
            self.records[fp] = rec
            if not rec.alert.resolved(now):
                self._firing.add(fp)
            self._route(fp, rec.alert.labels, now, resolved=rec.alert.resolved(now))
        pending = self.outbox.counts()["pending"]
        if self.records or pending:
            log.info(
                "notifier restored %d alert(s) in %d group(s); %d notification(s) pending",
                len(self.records),
                len(self.groups),
                pending,
            )

    def _housekeeping(self, now: int) -> None:
        self._expire_silences(now)
        for key, error in self.failing.items():
            self._failing_alert(key, error, now, resolved=False)
        # Forget resolved alerts that no group holds any more.
        held = set().union(*(g.fps for g in self.groups.values())) if self.groups else set()
        for fp in [
            fp
            for fp, r in self.records.items()
            if r.alert.resolved(now) and fp not in held and now - r.alert.ends_at_ms > 60_000
        ]:
            del self.records[fp]
        if now / 1000 - self._last_prune >= PRUNE_EVERY_S:
            self._last_prune = now / 1000
            self.db.prune(now - int(self.config.history_retention * 1000))

    def _expire_silences(self, now: int) -> None:
        limits = self.config.silences
        firing = [r.alert.labels for r in self.records.values() if not r.alert.resolved(now)]
        changed = False
        with self.db.transaction() as c:
            for s in self.silences:
                if not s.active(now):
                    continue
                matched = any(s.matches(lab) for lab in firing)
                if matched:
                    if now - s.last_matched_ms > 30_000:
                        s.last_matched_ms = now
                        c.execute("UPDATE silences SET last_matched_at=? WHERE id=?", (now, s.id))
                    continue
                reason = ""
                if s.expire_on_resolve and s.last_matched_ms:
                    reason = "the alerts it matched have resolved"
                elif (
                    now - max(s.starts_at_ms, s.last_matched_ms)
                    >= limits.expire_unmatched_after * 1000
                ):
                    reason = f"matched nothing for {limits.expire_unmatched_after:g}s"
                if reason:
                    s.ends_at_ms, s.expired_reason = now, reason
                    c.execute(
                        "UPDATE silences SET ends_at=?, expired_reason=? WHERE id=?",
                        (now, reason, s.id),
                    )
                    changed = True
                    log.info("silence %s expired: %s", s.id, reason)
        if changed:
            self.silences = [s for s in self.silences if s.ends_at_ms > now]

    # -- delivery feedback --------------------------------------------------------------------
    def _on_dead(self, key: str, error: str) -> None:
        self.failing[key] = error
        self._failing_alert(key, error, self.clock(), resolved=False)

    def _on_ok(self, key: str) -> None:
        if key in self.failing:
            error = self.failing.pop(key)
            self._failing_alert(key, error, self.clock(), resolved=True)

    def _failing_alert(self, key: str, error: str, now: int, *, resolved: bool) -> None:
        labels = Labels({"alertname": FAILING_ALERT, "integration": key, "severity": "warning"})
        prev = self.records.get(InboundAlert(labels).fingerprint)
        starts = prev.alert.starts_at_ms if prev and not prev.alert.resolved(now) else now
        self.receive(
            [
                InboundAlert(
                    labels,
                    {
                        "summary": f"Notifications to {key} are failing",
                        "description": f"Dead-lettered after the retry budget; last error: {error}",
                    },
                    starts,
                    now if resolved else now + RESOLVE_TIMEOUT_MS,
                )
            ],
            source="watchkeeper",
        )

    def _watchdog_alive(self) -> bool:
        assert self.config.heartbeat is not None
        return self.clock() - self.last_watchdog_ms <= self.config.heartbeat.alive_for * 1000


def _about(rec: AlertRecord, integration: str) -> bool:
    """Is this the failing-notifications alert about ``integration`` itself?"""
    labels = rec.alert.labels
    return labels.get("alertname") == FAILING_ALERT and labels.get("integration") == integration


#: The default rule pack's always-firing alert.
WATCHDOG = "Watchdog"


def watchdog_alertname(config: NotifyConfig) -> str | None:
    """The always-firing alert the notifier consumes itself, if any.

    With a heartbeat it feeds the dead man's switch. Without one it is still
    kept away from ordinary receivers (a catch-all e-mail route would mail
    it every repeat interval) unless a route names it explicitly.
    """
    if config.heartbeat is not None:
        return config.heartbeat.alertname
    return None if _routes_mention(config.route, WATCHDOG) else WATCHDOG


def _routes_mention(route: RouteConfig, alertname: str) -> bool:
    if any(alertname in str(m) for m in route.matchers):
        return True
    return any(_routes_mention(child, alertname) for child in route.routes)
