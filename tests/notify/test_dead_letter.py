"""A receiver that refuses: dead letter, visible in the outbox, and an alert through the others."""

from __future__ import annotations

import asyncio
from pathlib import Path

from watchkeeper.alerts.db import AlertsDB
from watchkeeper.alerts.model import InboundAlert, now_ms
from watchkeeper.model import Labels
from watchkeeper.notify.outbox import Outbox

from .conftest import notify_config, running
from .peers import HttpSink, SmtpSink


async def test_dead_letter_raises_failing_alert_through_other_integration(
    http_sink: HttpSink, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    http_sink.status = 400  # permanent: no retries
    cfg = notify_config(
        receivers=[
            {
                "name": "ops",
                "webhook_configs": [{"url": http_sink.url}],
                "email_configs": [{"to": ["o@example.com"], "smarthost": smtp_sink.smarthost}],
            }
        ],
        route={"receiver": "ops", "group_wait": 0},
    )
    a = InboundAlert(Labels({"alertname": "Boom", "instance": "x"}), {}, now_ms() - 1000)
    async with running(cfg, tmp_path / "alerts.db") as notifier:
        notifier.receive([a])
        assert await asyncio.to_thread(smtp_sink.wait_for, 2)
    subjects = sorted(m["Subject"] for m in smtp_sink.items[:2])
    assert subjects == ["[FIRING:1] Boom x", "[FIRING:1] WatchkeeperNotificationsFailing (WARNING)"]
    dead = Outbox(AlertsDB(tmp_path / "alerts.db")).rows(state="dead")
    assert [(r.integration, r.attempts) for r in dead] == [("ops/webhook/0", 1)]
    assert "HTTP 400" in dead[0].last_error
    assert http_sink.items == []  # the failing alert is not sent to the failing webhook
