"""What the dashboard and the API show of an alert: the rule engine's view joined with alerts.db.

Two parts know about alerts and neither is enough alone: the rule board has
pending alerts and rule values (the notifier never sees pending alerts), and
alerts.db (through ``AlertService``) has everything people did to them
(acknowledgements, manual resolution, silences) and the alerts posted from
outside the rule engine. Both use Alertmanager's fingerprint, so they join on
it. alerts.db is the only store of acknowledgements.

The functions here read SQLite: call them off the event loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from watchkeeper.alerts.db import AlertRecord
from watchkeeper.alerts.maintenance import MaintenanceWindow
from watchkeeper.alerts.silence import Silence
from watchkeeper.web.alert_board import AlertView
from watchkeeper.web.context import WebContext

__all__ = ["SELF_RESOLVING", "AlertItem", "collect_alerts", "find_alert", "mutes"]

ItemState = Literal["pending", "firing", "resolved"]
#: Sources that resolve their alerts themselves: a manual resolve would be
#: undone at their next evaluation (the rule engine) or delivery (watchkeeper).
SELF_RESOLVING = frozenset({"rules", "watchkeeper"})
_ORDER = {"firing": 0, "pending": 1, "resolved": 2}


@dataclass(frozen=True, slots=True)
class AlertItem:
    fingerprint: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    state: ItemState
    active_at: float
    ends_at: float | None = None
    value: float | None = None
    group: str = ""
    source: str = "rules"
    ack_by: str | None = None
    ack_at: float | None = None
    ack_until: float | None = None
    ack_comment: str = ""
    resolved_by: str | None = None
    silenced_by: tuple[str, ...] = ()
    maintenance: tuple[str, ...] = ()
    #: Known to alerts.db (acknowledge, resolve, history need it).
    tracked: bool = field(default=False)

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def acknowledged(self) -> bool:
        return self.ack_by is not None

    @property
    def can_ack(self) -> bool:
        return self.tracked and self.state == "firing"

    @property
    def can_resolve(self) -> bool:
        return self.tracked and self.state == "firing" and self.source not in SELF_RESOLVING


def _s(ms: int | None) -> float | None:
    return ms / 1000 if ms else None


def _finite(v: float) -> float | None:
    return v if v == v and abs(v) != float("inf") else None


def mutes(
    labels: Mapping[str, str],
    silences: list[Silence],
    windows: list[MaintenanceWindow],
    now_ms: int,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Ids of the active silences and names of the open maintenance windows muting ``labels``."""
    from watchkeeper.model import Labels

    lab = Labels(dict(labels))
    sil = tuple(s.id for s in silences if s.active(now_ms) and s.matches(lab))
    mw = tuple(w.name for w in windows if w.applies(lab, now_ms))
    return sil, mw


def _item(
    view: AlertView | None,
    rec: AlertRecord | None,
    now_ms: int,
    silences: list[Silence],
    windows: list[MaintenanceWindow],
) -> AlertItem:
    assert view is not None or rec is not None
    acked = rec is not None and rec.acked(now_ms) and rec.stored_status == "firing"
    ack = rec if acked else None
    if view is not None:
        labels, annotations = dict(view.labels), dict(view.annotations)
        state: ItemState = view.state
        active_at, value, group = view.active_at, _finite(view.value), view.group
        source = rec.source if rec is not None else "rules"
        ends_at = None
    else:
        assert rec is not None
        labels, annotations = dict(rec.alert.labels), dict(rec.alert.annotations)
        state = "firing" if rec.stored_status == "firing" else "resolved"
        active_at = rec.alert.starts_at_ms / 1000
        value, group, source = None, "", rec.source
        ends_at = _s(rec.alert.ends_at_ms) if state == "resolved" else None
    sil, mw = mutes(labels, silences, windows, now_ms) if state != "resolved" else ((), ())
    # alerts.db holds it in the state shown: acknowledge and resolve apply to it.
    held = "resolved" if state == "resolved" else "firing"
    tracked = rec is not None and rec.stored_status == held
    return AlertItem(
        fingerprint=view.fingerprint if view is not None else rec.fingerprint,  # type: ignore[union-attr]
        labels=labels,
        annotations=annotations,
        state=state,
        active_at=active_at,
        ends_at=ends_at,
        value=value,
        group=group,
        source=source,
        ack_by=ack.ack_by if ack else None,
        ack_at=_s(ack.ack_at_ms) if ack else None,
        ack_until=_s(ack.ack_until_ms) if ack else None,
        ack_comment=(ack.ack_comment or "") if ack else "",
        resolved_by=rec.resolved_by if rec is not None and state == "resolved" else None,
        silenced_by=sil,
        maintenance=mw,
        tracked=tracked,
    )


def _context(ctx: WebContext) -> tuple[int, list[Silence], list[MaintenanceWindow]]:
    from watchkeeper.alerts.model import now_ms

    service = ctx.alerts
    if service is None:
        return now_ms(), [], []
    now = service.clock()
    return now, service.list_silences(), [w for w, _ in service.maintenance()]


def collect_alerts(
    ctx: WebContext,
    state: Literal["active", "acknowledged", "resolved", "all"] = "active",
    limit: int = 1000,
) -> list[AlertItem]:
    """Active alerts (pending and firing, from the board and alerts.db), or resolved ones."""
    service = ctx.alerts
    now, silences, windows = _context(ctx)
    out: list[AlertItem] = []
    if state in ("active", "acknowledged", "all"):
        records = {r.fingerprint: r for r in service.list_alerts(limit=limit)} if service else {}
        views = {a.fingerprint: a for a in ctx.board.alerts()}
        if service is not None and views:
            # Board alerts the notifier holds as resolved (or not yet) still need their record.
            for fp in views.keys() - records.keys():
                rec = service.db.get_alert(fp)
                if rec is not None:
                    records[fp] = rec
        for fp, view in views.items():
            out.append(_item(view, records.get(fp), now, silences, windows))
        for fp, rec in records.items():
            if fp not in views and rec.stored_status == "firing":
                out.append(_item(None, rec, now, silences, windows))
        if state == "acknowledged":
            out = [a for a in out if a.acknowledged]
    if state in ("resolved", "all") and service is not None:
        shown = {a.fingerprint for a in out}
        for rec in service.list_alerts(state="resolved", limit=limit):
            if rec.fingerprint not in shown:
                out.append(_item(None, rec, now, silences, windows))
    out.sort(key=lambda a: (_ORDER[a.state], a.name, a.fingerprint))
    return out[:limit]


def find_alert(ctx: WebContext, fp: str) -> AlertItem | None:
    """One alert by its full fingerprint: on the board, or in alerts.db in any state."""
    service = ctx.alerts
    view = ctx.board.alert(fp)
    rec = service.db.get_alert(fp) if service is not None else None
    if view is None and rec is None:
        return None
    now, silences, windows = _context(ctx)
    return _item(view, rec, now, silences, windows)
