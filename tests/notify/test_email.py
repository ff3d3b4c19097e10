"""E-mail reaches a real SMTP server (aiosmtpd) as multipart text + HTML."""

from __future__ import annotations

import asyncio
import logging
from email.message import EmailMessage
from pathlib import Path

import pytest

from watchkeeper.alerts.model import InboundAlert, now_ms
from watchkeeper.model import Labels

from .conftest import notify_config, running
from .peers import SmtpSink

EVIL = '<script>alert("owned")</script>'


async def test_email_is_multipart_with_escaped_html(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    cfg = notify_config(
        external_url="https://monitor.example.com/",
        receivers=[
            {
                "name": "ops",
                "email_configs": [
                    {
                        "to": ["ops@example.com", "dev@example.com"],
                        "from": "wk@example.com",
                        "smarthost": smtp_sink.smarthost,
                    }
                ],
            }
        ],
        route={"receiver": "ops", "group_wait": 0, "group_by": ["alertname"]},
    )
    a = InboundAlert(
        Labels(
            {
                "alertname": "DiskFull",
                "instance": "db-1",
                "severity": "critical",
                "path": f"/srv/{EVIL}",
            }
        ),
        {"summary": f"disk almost full {EVIL}", "description": "95% used\nsecond line"},
        starts_at_ms=now_ms() - 1000,
    )
    async with running(cfg, tmp_path / "alerts.db") as notifier:
        notifier.receive([a])
        assert await asyncio.to_thread(smtp_sink.wait_for, 1)
    msg = smtp_sink.items[0]
    assert isinstance(msg, EmailMessage)
    assert msg["Subject"] == "[FIRING:1] DiskFull (CRITICAL)"
    assert msg["To"] == "ops@example.com, dev@example.com"
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    text, html = (p.get_content() for p in parts)
    # The text part carries the alert as written; the HTML part must not run it.
    assert EVIL in text
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in html
    assert "https://monitor.example.com/" in html
    assert "https://monitor.example.com/" in text
    assert "#d32f2f" in html  # critical colour
    assert msg["Message-ID"].endswith("@watchkeeper>")


async def test_user_template_override_and_header_injection(
    smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    templates = tmp_path / "tpl"
    templates.mkdir()
    (templates / "subject.j2").write_text("ALERT {{ group_labels.alertname }}")
    cfg = notify_config(
        receivers=[
            {
                "name": "ops",
                "email_configs": [
                    {
                        "to": ["ops@example.com"],
                        "smarthost": smtp_sink.smarthost,
                        "template_dir": str(templates),
                    }
                ],
            }
        ],
        route={"receiver": "ops", "group_wait": 0, "group_by": ["alertname"]},
    )
    a = InboundAlert(Labels({"alertname": "X\r\nBcc: victim@example.com"}), {})
    async with running(cfg, tmp_path / "alerts.db") as notifier:
        notifier.receive([a])
        assert await asyncio.to_thread(smtp_sink.wait_for, 1)
    msg = smtp_sink.items[0]
    assert msg["Subject"] == "ALERT X Bcc: victim@example.com"
    assert msg["Bcc"] is None


async def test_secret_headers_are_sent_but_not_logged(
    smtp_sink: SmtpSink, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token = "wk-mail-s3cret-0123456789"
    cfg = notify_config(
        receivers=[
            {
                "name": "ops",
                "console": True,
                "email_configs": [
                    {
                        "to": ["ops@example.com"],
                        "smarthost": smtp_sink.smarthost,
                        "headers": {"X-Ticket-Token": token, "Subject": "Fixed subject"},
                    }
                ],
            }
        ],
        route={"receiver": "ops", "group_wait": 0, "group_by": ["alertname"]},
    )
    assert token not in repr(cfg)
    with caplog.at_level(logging.DEBUG):
        async with running(cfg, tmp_path / "alerts.db") as notifier:
            notifier.receive([InboundAlert(Labels({"alertname": "DiskFull"}), {})])
            assert await asyncio.to_thread(smtp_sink.wait_for, 1)
    msg = smtp_sink.items[0]
    assert msg["X-Ticket-Token"] == token
    assert msg["Subject"] == "Fixed subject"
    # The test's SMTP server (aiosmtpd, "mail.log") logs what it receives; ours must not.
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail."))
    assert "DiskFull" in ours  # the console receiver logged the notification ...
    assert token not in ours  # ... and nothing logged the header
