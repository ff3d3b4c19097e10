"""Slack and PagerDuty payloads, received by a local HTTP server, against their schemas."""

from __future__ import annotations

import asyncio
from pathlib import Path

import jsonschema

from watchkeeper.alerts.model import InboundAlert, now_ms
from watchkeeper.model import Labels

from .conftest import notify_config, running
from .peers import HttpSink
from .schemas import PAGERDUTY_EVENT_V2, SLACK_INCOMING_WEBHOOK


def alert(instance: str, severity: str, ends: int = 0) -> InboundAlert:
    return InboundAlert(
        Labels({"alertname": "HighLatency", "instance": instance, "severity": severity}),
        {"summary": "p99 <b>too</b> high <@U123>", "description": "over 2 s"},
        starts_at_ms=now_ms() - 5000,
        ends_at_ms=ends,
    )


async def test_slack_block_kit_coloured_and_resolved(http_sink: HttpSink, tmp_path: Path) -> None:
    cfg = notify_config(
        external_url="https://monitor.example.com",
        receivers=[
            {"name": "chat", "slack_configs": [{"api_url": http_sink.url, "channel": "#ops"}]}
        ],
        route={"receiver": "chat", "group_wait": 0, "group_by": ["alertname"]},
    )
    async with running(cfg, tmp_path / "alerts.db") as notifier:
        notifier.receive([alert("a", "critical"), alert("b", "warning")])
        assert await asyncio.to_thread(http_sink.wait_for, 1)
        gone = now_ms() - 1
        notifier.receive([alert("a", "critical", gone), alert("b", "warning", gone)])
        assert await asyncio.to_thread(http_sink.wait_for, 2)
    firing, resolved = (r.json() for r in http_sink.items[:2])
    for msg in (firing, resolved):
        jsonschema.validate(msg, SLACK_INCOMING_WEBHOOK)
        assert msg["channel"] == "#ops"
    assert firing["attachments"][0]["color"] == "#d32f2f"
    assert firing["text"].startswith("[FIRING:2]")
    sections = [b for b in firing["attachments"][0]["blocks"] if b["type"] == "section"]
    assert len(sections) == 2
    # Alert text cannot ping people or inject links.
    assert "<@U123>" not in sections[0]["text"]["text"]
    assert "&lt;@U123&gt;" in sections[0]["text"]["text"]
    assert resolved["attachments"][0]["color"] == "#2e7d32"
    assert resolved["text"].startswith("[RESOLVED]")


async def test_pagerduty_trigger_then_resolve_same_dedup_key(
    http_sink: HttpSink, tmp_path: Path
) -> None:
    cfg = notify_config(
        receivers=[
            {
                "name": "pd",
                "pagerduty_configs": [{"routing_key": "R0UTINGKEY", "url": http_sink.url}],
            }
        ],
        route={"receiver": "pd", "group_wait": 0},
    )
    async with running(cfg, tmp_path / "alerts.db") as notifier:
        notifier.receive([alert("a", "critical")])
        assert await asyncio.to_thread(http_sink.wait_for, 1)
        notifier.receive([alert("a", "critical", now_ms() - 1)])
        assert await asyncio.to_thread(http_sink.wait_for, 2)
    trigger, resolve = (r.json() for r in http_sink.items[:2])
    for ev in (trigger, resolve):
        jsonschema.validate(ev, PAGERDUTY_EVENT_V2)
        assert ev["routing_key"] == "R0UTINGKEY"
    assert trigger["event_action"] == "trigger"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["source"] == "a"
    assert resolve["event_action"] == "resolve"
    assert resolve["dedup_key"] == trigger["dedup_key"]
