"""Runbook links in messages: the dashboard's /runbooks joined to its URL, never an unsafe link."""

from __future__ import annotations

from typing import Any

from watchkeeper.alerts.model import InboundAlert, now_ms
from watchkeeper.model import Labels
from watchkeeper.notify.channels.email import _environments, render_email
from watchkeeper.notify.channels.slack import slack_message
from watchkeeper.notify.payload import Notification, build_payload

DASHBOARD = "https://monitor.shop.example"


def notification(external_url: str, **runbooks: str) -> Notification:
    alerts = [
        InboundAlert(
            Labels({"alertname": "Disk", "instance": name, "severity": "warning"}),
            {"summary": f"disk on {name}", "runbook_url": url},
            starts_at_ms=now_ms() - 1000,
            generator_url="javascript:alert(2)" if name == "evil" else "",
        )
        for name, url in runbooks.items()
    ]
    payload: dict[str, Any] = build_payload(
        receiver="ops",
        group_key="g",
        group_labels={"alertname": "Disk"},
        alerts=alerts,
        now_ms=now_ms(),
        external_url=external_url,
    )
    return Notification(1, "ops/email/0", "g", "k", "notification", payload, now_ms())


def test_email_links_the_dashboard_runbook_and_nothing_unsafe() -> None:
    n = notification(
        DASHBOARD,
        db1="/runbooks#hostdiskalmostfull",
        wiki="https://wiki.shop.example/disk",
        evil="javascript:alert(1)",
    )
    _, text, html = render_email(n, _environments(None))
    assert f'<a href="{DASHBOARD}/runbooks#hostdiskalmostfull">Runbook</a>' in html
    assert '<a href="https://wiki.shop.example/disk">Runbook</a>' in html
    assert 'href="javascript' not in html
    assert f"Runbook: {DASHBOARD}/runbooks#hostdiskalmostfull" in text
    assert "Runbook: javascript" not in text


def test_a_dashboard_path_needs_the_external_url() -> None:
    n = notification("", db1="/runbooks#hostdiskalmostfull")
    _, text, html = render_email(n, _environments(None))
    assert "Runbook" not in html
    assert "Runbook" not in text


def test_slack_links_the_runbook() -> None:
    n = notification(DASHBOARD, db1="/runbooks#hostdiskalmostfull", evil="javascript:alert(1)")
    msg = slack_message(n, channel=None, username="watchkeeper")
    texts = [b["text"]["text"] for b in msg["attachments"][0]["blocks"] if b["type"] == "section"]
    assert any(f"<{DASHBOARD}/runbooks#hostdiskalmostfull|Runbook>" in t for t in texts)
    assert not any("<javascript" in t for t in texts)
