"""The alert lifecycle over HTTP: one store (alerts.db) shared with the notifier and the CLI.

Every test runs the real app against a real notifier serving on its own event
loop, with alerts.db on disk, as ``watchkeeper run`` wires them; ``web_env.alerts``
is a second ``AlertService`` connection, the way ``watchkeeper alerts`` sees it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from fastapi.testclient import TestClient
from web_helpers import LiveServer, WebEnv, bearer, fire, wait_until

from watchkeeper.web.alert_board import AlertView, GroupView, RuleView, fingerprint

API = "/api/wk/v1"


def _rule_alert(
    name: str = "HighCPU", state: str = "firing", **labels: str
) -> tuple[GroupView, list[AlertView]]:
    rule = RuleView(name, "host_cpu_usage_percent > 90", "alerting", 60.0, health="ok")
    group = GroupView("host", "rules.yml", 10.0, (rule,))
    alert = AlertView(
        {"alertname": name, "instance": "web-1", **labels},
        {"summary": "CPU is high"},
        state,  # type: ignore[arg-type]
        time.time() - 120,
        97.5,
        "host",
    )
    return group, [alert]


def _post(client: TestClient, env: WebEnv, alerts: list[dict[str, Any]], role: str = "operator"):  # type: ignore[no-untyped-def]
    return client.post("/api/v2/alerts", json=alerts, headers=bearer(env, role))


def _audit(env: WebEnv, action: str) -> list[Any]:
    return [e for e in env.db.audit_log(1000) if e.action == action]


def test_ack_is_stored_in_alerts_db_only(client: TestClient, web_env: WebEnv) -> None:
    (fp,) = fire(web_env, *_rule_alert())
    op = bearer(web_env, "operator")
    r = client.post(f"{API}/alerts/{fp}/ack", json={"comment": "looking"}, headers=op)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["acknowledged"]["by"] == "operator"
    assert body["acknowledged"]["comment"] == "looking"
    assert body["state"] == "firing"
    assert body["source"] == "rules"
    # What the CLI (another connection to alerts.db) sees.
    assert web_env.alerts is not None
    rec = web_env.alerts.get(fp)
    assert (rec.ack_by, rec.ack_comment) == ("operator", "looking")
    events = [(e.event, e.detail.get("by")) for e in web_env.alerts.history(fp)]
    assert ("acknowledged", "operator") in events
    # No second store of acknowledgements in web.db.
    tables = {
        row[0]
        for row in sqlite3.connect(web_env.db.path).execute(
            "SELECT name FROM sqlite_master WHERE type='table'"
        )
    }
    assert "acks" not in tables
    (entry,) = _audit(web_env, "alert.acknowledge")
    assert (entry.actor, entry.target) == ("operator", fp)
    # The notifier itself picks the acknowledgement up (it stops repeats).
    notifier = web_env.notifier
    assert notifier is not None
    wait_until(lambda: notifier.records[fp].ack_by == "operator", what="notifier sees the ack")

    assert client.delete(f"{API}/alerts/{fp}/ack", headers=op).status_code == 204
    assert web_env.alerts.get(fp).ack_by is None
    assert client.get(f"{API}/alerts/{fp}", headers=op).json()["acknowledged"] is None
    r = client.delete(f"{API}/alerts/{fp}/ack", headers=op)
    assert r.status_code == 409
    assert "not acknowledged" in r.json()["detail"]
    assert [e.actor for e in _audit(web_env, "alert.unacknowledge")] == ["operator"]


def test_ack_made_with_the_cli_shows_in_the_web(client: TestClient, web_env: WebEnv) -> None:
    (fp,) = fire(web_env, *_rule_alert())
    assert web_env.alerts is not None
    web_env.alerts.ack(fp, by="dana", comment="from the shell", duration_s=3600)
    (a,) = client.get(f"{API}/alerts", headers=bearer(web_env, "viewer")).json()
    assert a["acknowledged"]["by"] == "dana"
    assert a["acknowledged"]["until"] > time.time() + 3000
    r = client.get(
        f"{API}/alerts", params={"state": "acknowledged"}, headers=bearer(web_env, "viewer")
    )
    assert [x["fingerprint"] for x in r.json()] == [fp]


def test_viewer_cannot_change_anything(client: TestClient, web_env: WebEnv) -> None:
    (fp,) = fire(web_env, *_rule_alert())
    v = bearer(web_env, "viewer")
    assert client.post(f"{API}/alerts/{fp}/ack", headers=v).status_code == 403
    assert client.post(f"{API}/alerts/{fp}/resolve", headers=v).status_code == 403
    silence = {"matchers": ['alertname="HighCPU"'], "comment": "x", "duration_s": 60}
    assert client.post(f"{API}/silences", json=silence, headers=v).status_code == 403
    assert client.post(f"{API}/notifications/retry", headers=v).status_code == 403
    assert _post(client, web_env, [{"labels": {"alertname": "X"}}], "viewer").status_code == 403
    assert (
        client.post(f"{API}/receivers/ops/test", headers=bearer(web_env, "operator")).status_code
        == 403
    )
    assert web_env.alerts is not None
    assert web_env.alerts.get(fp).ack_by is None


def test_pending_alert_cannot_be_acknowledged(client: TestClient, web_env: WebEnv) -> None:
    (fp,) = fire(web_env, *_rule_alert(state="pending"))
    (a,) = client.get(f"{API}/alerts", headers=bearer(web_env, "viewer")).json()
    assert (a["state"], a["can_acknowledge"]) == ("pending", False)
    r = client.post(f"{API}/alerts/{fp}/ack", headers=bearer(web_env, "operator"))
    assert r.status_code == 409
    assert "pending" in r.json()["detail"]


def test_posted_alert_reaches_the_notifier_and_resolves_by_hand(
    client: TestClient, web_env: WebEnv
) -> None:
    hook = web_env.hook
    assert hook is not None
    labels = {"alertname": "BackupFailed", "instance": "db-1", "severity": "critical"}
    r = _post(
        client,
        web_env,
        [{"labels": labels, "annotations": {"summary": "nightly backup failed"}}],
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"received": 1}
    fp = fingerprint(labels)
    op = bearer(web_env, "operator")

    def listed() -> dict[str, Any] | None:
        found = [
            a for a in client.get(f"{API}/alerts", headers=op).json() if a["fingerprint"] == fp
        ]
        return found[0] if found else None

    a = wait_until(listed, what="posted alert listed")
    assert (a["source"], a["state"], a["can_resolve"]) == ("api", "firing", True)
    assert a["annotations"]["summary"] == "nightly backup failed"
    hook.wait_for(lambda b: b.get("status") == "firing" and b["commonLabels"] == labels)
    (post,) = _audit(web_env, "alerts.post")
    assert post.actor == "operator"
    assert post.detail["count"] == 1

    r = client.post(f"{API}/alerts/{fp}/resolve", json={"comment": "re-ran it"}, headers=op)
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["resolved_by"]) == ("resolved", "operator")
    # The notifier notices (via alerts.db) and sends the resolution at once.
    hook.wait_for(lambda b: b.get("status") == "resolved" and b["commonLabels"] == labels)
    assert listed() is None
    resolved = client.get(f"{API}/alerts", params={"state": "resolved"}, headers=op).json()
    assert [x["fingerprint"] for x in resolved] == [fp]
    history = client.get(f"{API}/alerts/{fp}/history", headers=op).json()
    assert [h["event"] for h in history][:2] == ["resolved", "firing"]
    assert history[0]["by"] == "operator"
    assert history[1]["name"] == "BackupFailed"
    assert [e.actor for e in _audit(web_env, "alert.resolve")] == ["operator"]
    r = client.post(f"{API}/alerts/{fp}/resolve", headers=op)
    assert r.status_code == 409


def test_rule_alerts_are_not_resolved_by_hand(client: TestClient, web_env: WebEnv) -> None:
    (fp,) = fire(web_env, *_rule_alert())
    r = client.post(f"{API}/alerts/{fp}/resolve", headers=bearer(web_env, "operator"))
    assert r.status_code == 409
    assert "rules" in r.json()["detail"]
    assert "silence" in r.json()["detail"]
    assert web_env.alerts is not None
    assert web_env.alerts.get(fp).stored_status == "firing"


def test_posted_alerts_are_validated(client: TestClient, web_env: WebEnv) -> None:
    r = _post(client, web_env, [{"labels": {"alertname": "X", "bad-name": "1"}}])
    assert r.status_code == 400
    assert "alerts[0].labels" in r.json()["detail"]
    assert "bad-name" in r.json()["detail"]
    r = _post(client, web_env, [{"labels": {"alertname": "X"}, "colour": "red"}])
    assert r.status_code == 422
    r = _post(
        client,
        web_env,
        [
            {
                "labels": {"a": "b"},
                "startsAt": "2024-01-02T00:00:00Z",
                "endsAt": "2024-01-01T00:00:00Z",
            }
        ],
    )
    assert r.status_code == 400
    assert "endsAt is before startsAt" in r.json()["detail"]
    assert _post(client, web_env, []).json() == {"received": 0}


def test_silence_create_list_expire(client: TestClient, web_env: WebEnv) -> None:
    (fp,) = fire(web_env, *_rule_alert())
    op = bearer(web_env, "operator")
    r = client.post(
        f"{API}/silences",
        json={
            "matchers": ['alertname="HighCPU"', 'instance=~"web-.*"'],
            "comment": "deploy",
            "duration_s": 1800,
        },
        headers=op,
    )
    assert r.status_code == 201, r.text
    s = r.json()
    assert (s["state"], s["created_by"], s["comment"]) == ("active", "operator", "deploy")
    assert s["matchers"] == ['alertname="HighCPU"', 'instance=~"web-.*"']
    assert abs(s["ends_at"] - s["starts_at"] - 1800) < 1
    # One store: the CLI's connection lists it, the alert shows it as muting.
    assert web_env.alerts is not None
    assert [x.id for x in web_env.alerts.list_silences()] == [s["id"]]
    (a,) = client.get(f"{API}/alerts", headers=op).json()
    assert a["silenced_by"] == [s["id"]]
    listed = client.get(f"{API}/silences", headers=bearer(web_env, "viewer")).json()
    assert [x["id"] for x in listed] == [s["id"]]
    (created,) = _audit(web_env, "silence.create")
    assert created.actor == "operator"
    assert created.target == s["id"]

    r = client.delete(f"{API}/silences/{s['id']}", headers=op)
    assert r.status_code == 200
    assert r.json()["state"] == "expired"
    assert "operator" in r.json()["expired_reason"]
    assert client.get(f"{API}/silences", headers=op).json() == []
    expired = client.get(f"{API}/silences", params={"expired": "true"}, headers=op).json()
    assert [x["id"] for x in expired] == [s["id"]]
    assert client.get(f"{API}/alerts/{fp}", headers=op).json()["silenced_by"] == []
    assert client.delete(f"{API}/silences/{s['id']}", headers=op).status_code == 409
    assert client.delete(f"{API}/silences/0123456789ab", headers=op).status_code == 404
    assert [e.actor for e in _audit(web_env, "silence.expire")] == ["operator"]


def test_bad_silences_are_refused_with_the_reason(client: TestClient, web_env: WebEnv) -> None:
    op = bearer(web_env, "operator")

    def create(**body: Any) -> Any:
        return client.post(
            f"{API}/silences", json={"matchers": ['job="x"'], "comment": "c", **body}, headers=op
        )

    r = create(matchers=['job=~"("'], duration_s=60)
    assert r.status_code == 400
    assert 'job=~"("' in r.json()["detail"]
    r = create(matchers=['job=~".*"'], duration_s=60)
    assert r.status_code == 400
    assert "every alert" in r.json()["detail"]
    r = create(duration_s=30 * 86400)
    assert r.status_code == 400
    assert "max_duration" in r.json()["detail"]
    assert create().status_code == 400
    assert create(ends_at=time.time() - 10).status_code == 400
    now = time.time()
    r = create(starts_at=now + 3600, ends_at=now + 7200)
    assert r.status_code == 201
    assert r.json()["state"] == "pending"


def test_maintenance_windows_from_the_config(client: TestClient, web_env: WebEnv) -> None:
    (w,) = client.get(f"{API}/maintenance", headers=bearer(web_env, "viewer")).json()
    assert w["name"] == "sunday-backup"
    assert w["schedule"] == 'sun 02:00-04:00 Europe/Istanbul job="backup"'
    assert w["matchers"] == ['job="backup"']
    assert w["time_zone"] == "Europe/Istanbul"
    assert isinstance(w["active"], bool)


def test_outbox_dead_letters_and_retry(client: TestClient, web_env: WebEnv) -> None:
    fire(web_env, *_rule_alert("DiskFull", team="nobody"))
    v, op = bearer(web_env, "viewer"), bearer(web_env, "operator")

    def dead() -> list[dict[str, Any]]:
        body = client.get(f"{API}/notifications", params={"state": "dead"}, headers=v).json()
        return body["items"]

    (row,) = wait_until(dead, what="a dead letter")
    assert row["integration"] == "broken/webhook/0"
    assert row["status"] == "firing"
    assert row["alerts"] == 1
    assert row["attempts"] == 1
    assert row["last_error"]
    (attempt,) = client.get(f"{API}/notifications/{row['id']}/attempts", headers=v).json()
    assert attempt["ok"] is False
    assert attempt["error"] == row["last_error"]
    counts = client.get(f"{API}/notifications", headers=v).json()["counts"]
    assert counts["dead"] >= 1

    r = client.post(f"{API}/notifications/retry", json={"ids": [row["id"]]}, headers=op)
    assert r.json() == {"requeued": 1}
    (entry,) = _audit(web_env, "outbox.retry")
    assert entry.actor == "operator"
    assert entry.detail["ids"] == [row["id"]]
    # It is tried again (and fails again: the port is still closed).
    wait_until(
        lambda: len(client.get(f"{API}/notifications/{row['id']}/attempts", headers=v).json()) == 2,
        what="a second attempt",
    )


def test_receivers_and_test_notifications(client: TestClient, web_env: WebEnv) -> None:
    hook = web_env.hook
    assert hook is not None
    got = client.get(f"{API}/receivers", headers=bearer(web_env, "viewer")).json()
    assert {r["name"]: r["integrations"] for r in got} == {
        "broken": ["broken/webhook/0"],
        "console": ["console/console/0"],
        "ops": ["ops/webhook/0"],
    }
    admin = bearer(web_env, "admin")
    r = client.post(f"{API}/receivers/ops/test", headers=admin)
    assert r.json() == [{"integration": "ops/webhook/0", "ok": True, "error": None}]
    hook.wait_for(lambda b: b.get("commonLabels", {}).get("alertname") == "WatchkeeperTest")
    (result,) = client.post(f"{API}/receivers/broken/test", headers=admin).json()
    assert result["ok"] is False
    assert result["error"]
    assert client.post(f"{API}/receivers/nope/test", headers=admin).status_code == 404
    assert [e.target for e in _audit(web_env, "receiver.test")] == ["broken", "ops"]


def test_history_lists_lifecycle_events(client: TestClient, web_env: WebEnv) -> None:
    (fp,) = fire(web_env, *_rule_alert())
    client.post(f"{API}/alerts/{fp}/ack", headers=bearer(web_env, "operator"))
    events = client.get(f"{API}/alerts/history", headers=bearer(web_env, "viewer")).json()
    assert [(e["event"], e["name"], e["by"]) for e in events[:2]] == [
        ("acknowledged", "HighCPU", "operator"),
        ("firing", "HighCPU", None),
    ]
    assert (
        client.get(
            f"{API}/alerts/0123456789abcdef/history", headers=bearer(web_env, "viewer")
        ).status_code
        == 404
    )


def test_pages_show_the_lifecycle(client: TestClient, web_env: WebEnv) -> None:
    from test_auth import login

    r = _post(client, web_env, [{"labels": {"alertname": "Ext", "job": "x"}}])
    assert r.status_code == 200
    fire(web_env, *_rule_alert())
    ext = fingerprint({"alertname": "Ext", "job": "x"})
    assert web_env.alerts is not None
    service = web_env.alerts
    wait_until(lambda: service.db.get_alert(ext) is not None, what="posted alert stored")
    service.add_silence(['job="x"'], by="dana", comment="<b>maintenance</b>", duration_s=600)
    login(client, "operator")
    page = client.get("/alerts").text
    # Resolve only for the posted alert; the silence mark on it; history rows.
    assert page.count('class="resolve"') == 1
    assert f'class="resolve" data-fingerprint="{ext}"' in page
    assert "⊘ silenced" in page
    assert "<td>acknowledged</td>" not in page
    assert "<td>firing</td>" in page
    silences = client.get("/silences").text
    assert "&lt;b&gt;maintenance&lt;/b&gt;" in silences
    assert "<b>maintenance" not in silences
    assert 'class="expire"' in silences
    assert "sunday-backup" in silences
    notes = client.get("/notifications").text
    assert "ops/webhook/0" in notes
    assert 'class="test-receiver"' in notes
    assert "Send test" in notes


def test_changes_made_elsewhere_are_pushed_live(live_server: LiveServer, web_env: WebEnv) -> None:
    """A silence created with the CLI (another connection) reaches open pages over SSE."""
    import httpx

    assert web_env.alerts is not None
    with (
        httpx.Client(base_url=live_server.url, headers=bearer(web_env, "viewer"), timeout=10) as c,
        c.stream("GET", f"{API}/live") as stream,
    ):
        lines = stream.iter_lines()
        assert next(lines) == "retry: 2000"
        assert next(lines) == "event: hello"
        web_env.alerts.add_silence(['job="x"'], by="dana", comment="from the shell", duration_s=60)
        for line in lines:
            if line == "event: alerts":
                break
        data = json.loads(next(lines).removeprefix("data: "))
        assert data["source"] == "alerts.db"
