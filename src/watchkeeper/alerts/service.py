"""What people do to alerts, for the CLI and the web API: list, ack, resolve, silence.

Every method works on alerts.db directly, so it works from another process
while ``watchkeeper run`` runs; the running notifier notices the commit
within a second (``PRAGMA data_version``). Errors are ``AlertServiceError``
with a message fit for a user.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from watchkeeper.alerts.db import AlertRecord, AlertsDB
from watchkeeper.alerts.maintenance import MaintenanceWindow
from watchkeeper.alerts.matchers import matches_all, parse_matchers
from watchkeeper.alerts.model import InboundAlert, InvalidAlert, now_ms
from watchkeeper.alerts.silence import Silence
from watchkeeper.config.notify import NotifyConfig, SilenceLimits

__all__ = ["AlertService", "AlertServiceError", "HistoryEvent", "parse_postable_alerts"]


class AlertServiceError(ValueError):
    """A request that cannot be done (unknown alert, silence too long...)."""


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    at_ms: int
    fingerprint: str
    event: str
    detail: dict[str, Any]


def parse_postable_alerts(data: Any) -> list[InboundAlert]:
    """A ``POST /api/v2/alerts`` body -> alerts; AlertServiceError names the bad item."""
    if not isinstance(data, list):
        raise AlertServiceError("expected a JSON array of alerts")
    try:
        return [InboundAlert.from_api(item, where=f"alerts[{i}]") for i, item in enumerate(data)]
    except InvalidAlert as exc:
        raise AlertServiceError(str(exc)) from None


class AlertService:
    def __init__(
        self,
        db: AlertsDB,
        config: NotifyConfig | None = None,
        *,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.db = db
        self.config = config or NotifyConfig()
        self.clock = clock

    # -- alerts --------------------------------------------------------------------------------
    def list_alerts(
        self, *, state: str = "active", matchers: Sequence[str] = (), limit: int = 1000
    ) -> list[AlertRecord]:
        """``state``: active (firing), resolved, acknowledged or all."""
        now = self.clock()
        where = {
            "active": "WHERE status='firing'",
            "acknowledged": "WHERE status='firing' AND ack_by IS NOT NULL",
            "resolved": "WHERE status='resolved'",
            "all": "",
        }.get(state)
        if where is None:
            raise AlertServiceError(
                f"unknown state {state!r}: use active, acknowledged, resolved or all"
            )
        ms = self._matchers(matchers)
        rows = self.db.query(
            f"SELECT * FROM alerts {where} ORDER BY starts_at DESC LIMIT ?", (limit,)
        )
        recs = [AlertRecord.from_row(r) for r in rows]
        if state == "acknowledged":
            recs = [r for r in recs if r.acked(now)]
        return [r for r in recs if matches_all(ms, r.alert.labels)]

    def get(self, fingerprint: str) -> AlertRecord:
        """By fingerprint or an unambiguous prefix of it."""
        rows = self.db.query(
            "SELECT * FROM alerts WHERE fingerprint LIKE ? LIMIT 2", (fingerprint.lower() + "%",)
        )
        if not rows or not fingerprint:
            raise AlertServiceError(f"no alert with fingerprint {fingerprint!r}")
        if len(rows) > 1:
            raise AlertServiceError(f"fingerprint prefix {fingerprint!r} is ambiguous")
        return AlertRecord.from_row(rows[0])

    def history(self, fingerprint: str | None = None, *, limit: int = 200) -> list[HistoryEvent]:
        if fingerprint:
            fp = self.get(fingerprint).fingerprint
            rows = self.db.query(
                "SELECT * FROM alert_history WHERE fingerprint=? ORDER BY id DESC LIMIT ?",
                (fp, limit),
            )
        else:
            rows = self.db.query("SELECT * FROM alert_history ORDER BY id DESC LIMIT ?", (limit,))
        return [
            HistoryEvent(r["at"], r["fingerprint"], r["event"], json.loads(r["detail"]))
            for r in rows
        ]

    def attempts(self, outbox_id: int) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT * FROM attempts WHERE outbox_id=? ORDER BY id", (outbox_id,))
        return [dict(r) for r in rows]

    def ack(
        self, fingerprint: str, *, by: str, comment: str = "", duration_s: float | None = None
    ) -> AlertRecord:
        """Acknowledge: no repeats or escalation until it resolves or ``duration_s`` passes."""
        if not by.strip():
            raise AlertServiceError("say who acknowledges (--by)")
        rec = self.get(fingerprint)
        now = self.clock()
        if rec.stored_status == "resolved":
            raise AlertServiceError(f"alert {rec.fingerprint} is resolved; nothing to acknowledge")
        until = now + int(duration_s * 1000) if duration_s else None
        with self.db.transaction() as c:
            c.execute(
                "UPDATE alerts SET ack_by=?, ack_at=?, ack_until=?, ack_comment=? "
                "WHERE fingerprint=?",
                (by, now, until, comment, rec.fingerprint),
            )
            self.db.history(
                c, rec.fingerprint, now, "acknowledged", by=by, comment=comment, until=until
            )
        return self.get(rec.fingerprint)

    def unack(self, fingerprint: str, *, by: str) -> AlertRecord:
        rec = self.get(fingerprint)
        now = self.clock()
        with self.db.transaction() as c:
            c.execute(
                "UPDATE alerts SET ack_by=NULL, ack_at=NULL, ack_until=NULL, ack_comment=NULL "
                "WHERE fingerprint=?",
                (rec.fingerprint,),
            )
            self.db.history(c, rec.fingerprint, now, "unacknowledged", by=by)
        return self.get(rec.fingerprint)

    def resolve(self, fingerprint: str, *, by: str, comment: str = "") -> AlertRecord:
        """Resolve by hand (alerts from outside the rule engine never resolve themselves)."""
        if not by.strip():
            raise AlertServiceError("say who resolves (--by)")
        rec = self.get(fingerprint)
        now = self.clock()
        if rec.stored_status == "resolved":
            raise AlertServiceError(f"alert {rec.fingerprint} is already resolved")
        with self.db.transaction() as c:
            c.execute(
                "UPDATE alerts SET status='resolved', ends_at=?, resolved_by=? WHERE fingerprint=?",
                (now, by, rec.fingerprint),
            )
            self.db.history(
                c, rec.fingerprint, now, "resolved", by=by, comment=comment, manual=True
            )
        return self.get(rec.fingerprint)

    # -- silences -----------------------------------------------------------------------------
    @property
    def limits(self) -> SilenceLimits:
        return self.config.silences

    def add_silence(
        self,
        matchers: Sequence[str],
        *,
        by: str,
        comment: str,
        duration_s: float,
        starts_at_ms: int | None = None,
        expire_on_resolve: bool | None = None,
    ) -> Silence:
        if not by.strip():
            raise AlertServiceError("say who creates the silence (--by)")
        if not comment.strip():
            raise AlertServiceError("a silence needs a comment saying why")
        ms = self._matchers(matchers)
        if not ms:
            raise AlertServiceError("a silence needs at least one matcher")
        if all(m.matches_empty() for m in ms):
            raise AlertServiceError(
                "these matchers match every alert; name at least one label value"
            )
        if duration_s <= 0:
            raise AlertServiceError("the duration must be positive")
        if duration_s > self.limits.max_duration:
            raise AlertServiceError(
                f"silences may last {self.limits.max_duration:g}s at most "
                f"(notify.silences.max_duration), asked for {duration_s:g}s"
            )
        now = self.clock()
        start = starts_at_ms or now
        eor = self.limits.expire_on_resolve if expire_on_resolve is None else expire_on_resolve
        s = Silence(
            id=uuid.uuid4().hex[:12],
            matchers=ms,
            starts_at_ms=start,
            ends_at_ms=start + int(duration_s * 1000),
            created_by=by,
            comment=comment,
            created_at_ms=now,
            expire_on_resolve=eor,
        )
        with self.db.transaction() as c:
            c.execute(
                """INSERT INTO silences(id, matchers, starts_at, ends_at, created_by, comment,
                       created_at, expire_on_resolve) VALUES(?,?,?,?,?,?,?,?)""",
                (
                    s.id,
                    json.dumps([str(m) for m in ms]),
                    s.starts_at_ms,
                    s.ends_at_ms,
                    by,
                    comment,
                    now,
                    int(eor),
                ),
            )
        return s

    def list_silences(self, *, include_expired: bool = False) -> list[Silence]:
        where = "" if include_expired else "WHERE ends_at > ?"
        params: tuple[Any, ...] = () if include_expired else (self.clock(),)
        rows = self.db.query(f"SELECT * FROM silences {where} ORDER BY starts_at DESC", params)
        return [Silence.from_row(r) for r in rows]

    def expire_silence(self, silence_id: str, *, by: str = "") -> Silence:
        rows = self.db.query("SELECT * FROM silences WHERE id LIKE ?", (silence_id + "%",))
        if len(rows) != 1 or not silence_id:
            raise AlertServiceError(f"no single silence with id {silence_id!r}")
        s = Silence.from_row(rows[0])
        now = self.clock()
        if s.ends_at_ms <= now:
            raise AlertServiceError(f"silence {s.id} has already expired")
        with self.db.transaction() as c:
            c.execute(
                "UPDATE silences SET ends_at=?, expired_reason=? WHERE id=?",
                (now, f"expired by {by or 'hand'}", s.id),
            )
        return Silence.from_row(self.db.query("SELECT * FROM silences WHERE id=?", (s.id,))[0])

    # -- maintenance windows ---------------------------------------------------------------------
    def maintenance(self) -> list[tuple[MaintenanceWindow, bool]]:
        """Each configured window and whether it is in effect now."""
        now = self.clock()
        windows = [MaintenanceWindow.from_config(w) for w in self.config.maintenance]
        return [(w, w.active(now)) for w in windows]

    @staticmethod
    def _matchers(texts: Sequence[str]) -> list[Any]:
        try:
            return parse_matchers(texts)
        except ValueError as exc:
            raise AlertServiceError(str(exc)) from None
