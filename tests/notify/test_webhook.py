"""The generic webhook receives Alertmanager's webhook payload (version 4)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from pathlib import Path

import jsonschema

from watchkeeper.alerts.model import InboundAlert, now_ms
from watchkeeper.model import Labels

from .conftest import notify_config, running
from .peers import HttpSink
from .schemas import ALERTMANAGER_WEBHOOK_V4


def alert(name: str, instance: str = "web-1", resolved_at: int = 0, **ann: str) -> InboundAlert:
    return InboundAlert(
        Labels({"alertname": name, "instance": instance, "severity": "warning"}),
        ann or {"summary": f"{name} on {instance}"},
        starts_at_ms=now_ms() - 60_000,
        ends_at_ms=resolved_at,
    )


async def test_webhook_payload_matches_alertmanager_schema_and_is_signed(
    http_sink: HttpSink, tmp_path: Path
) -> None:
    cfg = notify_config(
        receivers=[
            {"name": "hook", "webhook_configs": [{"url": http_sink.url, "hmac_secret": "s3cret"}]}
        ],
        route={"receiver": "hook", "group_wait": 0, "group_by": ["alertname"]},
    )
    async with running(cfg, tmp_path / "alerts.db") as notifier:
        notifier.receive([alert("HighCPU"), alert("HighCPU", "web-2")])
        assert await asyncio.to_thread(http_sink.wait_for, 1)
        gone = now_ms() - 1
        notifier.receive([alert("HighCPU", resolved_at=gone), alert("HighCPU", "web-2", gone)])
        assert await asyncio.to_thread(http_sink.wait_for, 2)
    first, second = http_sink.items[:2]
    for req in (first, second):
        jsonschema.validate(req.json(), ALERTMANAGER_WEBHOOK_V4)
        expected = "sha256=" + hmac.new(b"s3cret", req.body, hashlib.sha256).hexdigest()
        assert req.headers["x-watchkeeper-signature"] == expected
        assert len(req.headers["idempotency-key"]) == 32
    assert first.json()["status"] == "firing"
    assert {a["labels"]["instance"] for a in first.json()["alerts"]} == {"web-1", "web-2"}
    assert second.json()["status"] == "resolved"
    assert all(a["endsAt"] != "0001-01-01T00:00:00Z" for a in second.json()["alerts"])
    assert first.json()["groupLabels"] == {"alertname": "HighCPU"}
    assert first.headers["idempotency-key"] != second.headers["idempotency-key"]
