"""The pipeline's decisions, step by step on a fake clock: what gets queued in the outbox.

Delivery is not running here (see the tests with real peers); each test
reads the outbox rows, which is exactly what would be sent, in order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from watchkeeper.alerts.db import AlertsDB
from watchkeeper.alerts.model import InboundAlert, now_ms
from watchkeeper.alerts.service import AlertService
from watchkeeper.config.notify import NotifyConfig
from watchkeeper.model import Labels
from watchkeeper.notify.build import build_channels
from watchkeeper.notify.notifier import Notifier

MIN = 60_000


class Clock:
    def __init__(self) -> None:
        self.t = self.start = now_ms()

    def __call__(self) -> int:
        return self.t

    def advance(self, ms: int) -> None:
        self.t += ms


def make(
    tmp_path: Path, clock: Clock, budget_s: float = float("inf"), **cfg: Any
) -> tuple[Notifier, AlertsDB]:
    base: dict[str, Any] = {
        "receivers": [
            {"name": "team", "webhook_configs": [{"url": "http://127.0.0.1:9/hook"}]},
            {"name": "oncall", "webhook_configs": [{"url": "http://127.0.0.1:9/page"}]},
        ],
        "route": {
            "receiver": "team",
            "group_wait": "10s",
            "group_interval": "1m",
            "repeat_interval": "15m",
            "group_by": ["alertname"],
        },
    }
    base.update(cfg)
    config = NotifyConfig.model_validate(base)
    db = AlertsDB(tmp_path / "alerts.db")
    # No time budget by default: each step() here is one whole turn of the pipeline.
    notifier = Notifier(config, db, build_channels(config), clock=clock, step_budget_s=budget_s)
    return notifier, db


def alert(
    clock: Clock,
    name: str = "HighCPU",
    instance: str = "web-1",
    *,
    resolved: bool = False,
    severity: str = "warning",
) -> InboundAlert:
    return InboundAlert(
        Labels({"alertname": name, "instance": instance, "severity": severity}),
        {"summary": f"{name} {instance}"},
        starts_at_ms=clock.start - 1000,
        ends_at_ms=clock.t - 1 if resolved else clock.t + 4 * MIN,
    )


def outbox(db: AlertsDB) -> list[tuple[str, str, list[str], str]]:
    """(integration, status, [instance:status...], kind) per queued notification, in order."""
    out = []
    for r in db.query("SELECT integration, payload, kind FROM outbox ORDER BY id"):
        p = json.loads(r["payload"])
        alerts = sorted(f"{a['labels']['instance']}:{a['status']}" for a in p["alerts"])
        out.append((r["integration"], p["status"], alerts, r["kind"]))
    return out


def test_group_wait_collects_then_new_alerts_wait_for_group_interval(tmp_path: Path) -> None:
    clock = Clock()
    n, db = make(tmp_path, clock)
    n.receive([alert(clock), alert(clock, instance="web-2")])
    n.step()
    assert outbox(db) == []  # group_wait not over
    clock.advance(10_000)
    n.step()
    assert outbox(db) == [
        ("team/webhook/0", "firing", ["web-1:firing", "web-2:firing"], "notification")
    ]
    clock.advance(5_000)
    n.receive([alert(clock), alert(clock, instance="web-2"), alert(clock, instance="web-3")])
    n.step()
    assert len(outbox(db)) == 1  # the new alert waits for the group interval
    clock.advance(55_000)
    n.step()
    assert outbox(db)[-1][2] == ["web-1:firing", "web-2:firing", "web-3:firing"]


def test_resolution_is_sent_at_once_not_at_next_group_interval(tmp_path: Path) -> None:
    clock = Clock()
    n, db = make(tmp_path, clock)
    n.receive([alert(clock)])
    clock.advance(10_000)
    n.step()
    clock.advance(1_000)  # well inside the 1 m group interval
    n.receive([alert(clock, resolved=True)])
    n.step()
    assert [row[1] for row in outbox(db)] == ["firing", "resolved"]
    assert outbox(db)[-1][2] == ["web-1:resolved"]


def test_repeat_interval_and_acknowledgement(tmp_path: Path) -> None:
    clock = Clock()
    n, db = make(tmp_path, clock)
    service = AlertService(AlertsDB(tmp_path / "alerts.db"), clock=clock)
    n.receive([alert(clock)])
    clock.advance(10_000)
    n.step()
    for _ in range(14):  # nothing new for 14 minutes: no repeat
        clock.advance(MIN)
        n.receive([alert(clock)])
        n.step()
    assert len(outbox(db)) == 1
    clock.advance(MIN)
    n.receive([alert(clock)])
    n.step()
    assert len(outbox(db)) == 2  # the 15-minute cooldown is over
    fp = alert(clock).fingerprint
    service.ack(fp[:6], by="alice", comment="looking", duration_s=3600)
    for _ in range(45):
        clock.advance(MIN)
        n.receive([alert(clock)])
        n.step()
    assert len(outbox(db)) == 2  # acknowledged: silence for the ack's hour
    assert n.records[fp].ack_by == "alice"
    for _ in range(20):
        clock.advance(MIN)
        n.receive([alert(clock)])
        n.step()
    assert len(outbox(db)) == 3  # the acknowledgement expired: repeats again
    events = [e.event for e in service.history(fp)]
    assert events == ["acknowledged", "firing"]


def test_critical_inhibits_warning_with_same_labels(tmp_path: Path) -> None:
    clock = Clock()
    n, db = make(
        tmp_path,
        clock,
        route={"receiver": "team", "group_wait": 0, "group_by": ["alertname", "severity"]},
    )
    n.receive(
        [
            alert(clock, "DiskFull", severity="critical"),
            alert(clock, "DiskFull"),
            alert(clock, "DiskFull", instance="web-9"),
        ]
    )
    n.step()
    got = sorted((row[2], row[1]) for row in outbox(db))
    # web-1's warning is inhibited by web-1's critical; web-9 has no critical.
    assert got == [(["web-1:firing"], "firing"), (["web-9:firing"], "firing")]


def test_silence_mutes_and_expires_itself_when_alerts_resolve(tmp_path: Path) -> None:
    clock = Clock()
    n, db = make(tmp_path, clock, route={"receiver": "team", "group_wait": 0})
    service = AlertService(AlertsDB(tmp_path / "alerts.db"), clock=clock)
    s = service.add_silence(['alertname="HighCPU"'], by="bob", comment="deploy", duration_s=7200)
    n.receive([alert(clock), alert(clock, "Other")])
    n.step()
    assert [row[2] for row in outbox(db)] == [["web-1:firing"]]
    assert (
        json.loads(db.query("SELECT payload FROM outbox")[0][0])["groupLabels"]["alertname"]
        == "Other"
    )
    clock.advance(6_000)
    n.receive([alert(clock, resolved=True), alert(clock, "Other")])
    n.step()
    clock.advance(6_000)
    n.step()
    got = service.list_silences(include_expired=True)[0]
    assert got.id == s.id
    assert got.expired_reason == "the alerts it matched have resolved"
    assert len(outbox(db)) == 1  # the silenced alert's resolution is not sent either


def test_silence_limits(tmp_path: Path) -> None:
    service = AlertService(
        AlertsDB(tmp_path / "alerts.db"),
        NotifyConfig.model_validate({"silences": {"max_duration": "1d"}}),
    )
    from watchkeeper.alerts.service import AlertServiceError

    with pytest.raises(AlertServiceError, match="86400s at most"):
        service.add_silence(['alertname="X"'], by="a", comment="c", duration_s=2 * 86400)
    with pytest.raises(AlertServiceError, match="match every alert"):
        service.add_silence(['alertname=~".*"'], by="a", comment="c", duration_s=60)
    with pytest.raises(AlertServiceError, match="invalid matcher"):
        service.add_silence(["alertname"], by="a", comment="c", duration_s=60)


def test_maintenance_window_mutes_then_notifies_when_it_ends(tmp_path: Path) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    clock = Clock()
    # Put "now" on a Sunday 02:30 in Istanbul.
    clock.t = clock.start = int(
        datetime(2024, 3, 3, 2, 30, tzinfo=ZoneInfo("Europe/Istanbul")).timestamp() * 1000
    )
    n, db = make(
        tmp_path,
        clock,
        route={"receiver": "team", "group_wait": 0, "group_interval": "10m"},
        maintenance=[
            {
                "name": "sunday",
                "weekdays": ["Sunday"],
                "start": "02:00",
                "end": "04:00",
                "time_zone": "Europe/Istanbul",
                "matchers": ['instance=~"web-.*"'],
            }
        ],
    )
    n.receive([alert(clock), alert(clock, "Db", instance="db-1")])
    n.step()
    assert [row[2] for row in outbox(db)] == [["db-1:firing"]]
    for _ in range(9):  # until 04:00 Istanbul, refreshed as a rule engine would
        clock.advance(10 * MIN)
        n.receive([alert(clock), alert(clock, "Db", instance="db-1")])
        n.step()
    assert [row[2] for row in outbox(db)] == [["db-1:firing"], ["web-1:firing"]]


def test_send_resolved_per_route(tmp_path: Path) -> None:
    clock = Clock()
    n, db = make(
        tmp_path,
        clock,
        route={
            "receiver": "team",
            "group_wait": 0,
            "routes": [{"matchers": ['severity="info"'], "send_resolved": False}],
        },
    )
    n.receive([alert(clock, "A", severity="info"), alert(clock, "B")])
    n.step()
    clock.advance(1000)
    n.receive([alert(clock, "A", severity="info", resolved=True), alert(clock, "B", resolved=True)])
    n.step()
    statuses = sorted((row[2][0], row[1]) for row in outbox(db))
    assert statuses == [
        ("web-1:firing", "firing"),
        ("web-1:firing", "firing"),
        ("web-1:resolved", "resolved"),
    ]
    assert len(n.groups) == 0


def test_escalation_after_n_minutes_unless_acknowledged(tmp_path: Path) -> None:
    clock = Clock()
    n, db = make(
        tmp_path,
        clock,
        route={
            "receiver": "team",
            "group_wait": 0,
            "group_by": ["alertname", "instance"],
            "escalate": [{"after": "10m", "receiver": "oncall"}],
        },
    )
    service = AlertService(AlertsDB(tmp_path / "alerts.db"), clock=clock)
    n.receive([alert(clock), alert(clock, instance="web-2")])
    n.step()
    service.ack(alert(clock, instance="web-2").fingerprint, by="carol")
    for _ in range(10):
        clock.advance(MIN)
        n.receive([alert(clock), alert(clock, instance="web-2")])
        n.step()
    escalations = [row for row in outbox(db) if row[3] == "escalation"]
    assert escalations == [("oncall/webhook/0", "firing", ["web-1:firing"], "escalation")]
    clock.advance(MIN)
    n.receive([alert(clock, resolved=True), alert(clock, instance="web-2")])
    n.step()
    escalations = [row for row in outbox(db) if row[3] == "escalation"]
    assert escalations[-1] == ("oncall/webhook/0", "resolved", ["web-1:resolved"], "escalation")


def test_restart_does_not_resend_but_sends_what_is_owed(tmp_path: Path) -> None:
    clock = Clock()
    n, db = make(tmp_path, clock, route={"receiver": "team", "group_wait": 0})
    n.receive([alert(clock), alert(clock, "B")])
    n.step()
    assert len(outbox(db)) == 2
    db.close()
    # A new process: the rule engine sends the same firing alert again, and B has resolved.
    clock.advance(30_000)
    n2, db2 = make(tmp_path, clock, route={"receiver": "team", "group_wait": 0})
    n2._restore()
    n2.receive([alert(clock), alert(clock, "B", resolved=True)])
    n2.step()
    rows = outbox(db2)
    assert len(rows) == 3
    assert rows[-1][1:3] == ("resolved", ["web-1:resolved"])


def test_manual_resolve_from_another_process(tmp_path: Path) -> None:
    clock = Clock()
    n, db = make(tmp_path, clock, route={"receiver": "team", "group_wait": 0})
    n.receive([alert(clock, "External")], source="api")
    n.step()
    AlertService(AlertsDB(tmp_path / "alerts.db"), clock=clock).resolve(
        alert(clock, "External").fingerprint, by="dave", comment="fixed by hand"
    )
    clock.advance(1000)
    n.receive([alert(clock, "External")], source="api")  # the source still says firing
    n.step()
    assert [row[1] for row in outbox(db)] == ["firing", "resolved"]
    clock.advance(MIN * 20)
    n.receive([alert(clock, "External")], source="api")
    n.step()
    assert len(outbox(db)) == 2  # stays resolved while the source repeats the same alert
