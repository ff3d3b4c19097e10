"""Scheduled reports: when they are due, and a real one delivered by e-mail through the outbox."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from watchkeeper.config.load import ConfigError, parse_config
from watchkeeper.config.notify import ReportConfig
from watchkeeper.model import Labels, Sample
from watchkeeper.notify.reports import ReportScheduler, next_report_at
from watchkeeper.store import open_store

from .conftest import notify_config, running
from .peers import SmtpSink

BERLIN = ZoneInfo("Europe/Berlin")


def ms(text: str, zone: ZoneInfo = BERLIN) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=zone).timestamp() * 1000)


def test_daily_at_eight_in_the_configured_zone() -> None:
    cfg = ReportConfig(receiver="ops", at="08:00", time_zone="Europe/Berlin")
    assert next_report_at(cfg, ms("2026-12-04 07:59")) == ms("2026-12-04 08:00")
    assert next_report_at(cfg, ms("2026-12-04 08:00")) == ms("2026-12-05 08:00")  # strictly after
    # Across the switch to summer time the local hour stays 08:00.
    assert next_report_at(cfg, ms("2026-03-28 09:00")) == ms("2026-03-29 08:00")


def test_weekly_on_monday() -> None:
    cfg = ReportConfig(receiver="ops", weekdays=["Monday"], at="07:30", since=7 * 86400)
    friday = ms("2026-12-04 12:00", ZoneInfo("UTC"))
    assert next_report_at(cfg, friday) == ms("2026-12-07 07:30", ZoneInfo("UTC"))


def test_a_report_for_an_unknown_receiver_is_a_config_error() -> None:
    text = "notify:\n  reports:\n    - {receiver: nobody}\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, "watchkeeper.yml")
    (problem,) = info.value.problems
    assert problem.startswith("watchkeeper.yml:3: notify.reports.0.receiver: unknown receiver")


async def test_a_report_goes_out_by_e_mail_and_not_to_pagerduty(
    smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    store = open_store(tmp_path / "wk.db", background=False)
    end = ms("2026-12-04 08:00")
    store.append(
        [
            Sample("host_cpu_usage_percent", Labels({"instance": "web-1"}), end - i * 10_000, 42.0)
            for i in range(360, -1, -1)
        ]
    )
    cfg = notify_config(
        receivers=[
            {
                "name": "ops",
                "email_configs": [{"to": ["ops@shop.example"], "smarthost": smtp_sink.smarthost}],
                "pagerduty_configs": [{"routing_key": "k" * 32, "url": "http://127.0.0.1:9/"}],
            }
        ],
        route={"receiver": "ops"},
        reports=[{"receiver": "ops", "since": "1h"}],
    )
    async with running(cfg, tmp_path / "alerts.db") as notifier:
        scheduler = ReportScheduler(cfg.reports, notifier, store, alerts_db=tmp_path / "alerts.db")
        assert await scheduler.send(cfg.reports[0], end) == 1  # the e-mail, not PagerDuty
        assert await asyncio.to_thread(smtp_sink.wait_for, 1)
    store.close()
    msg = smtp_sink.items[0]
    assert msg["Subject"].startswith("watchkeeper report, 2026-12-04 ")
    text, html = (p.get_content() for p in msg.iter_parts())
    assert "CPU average" in text
    assert "42.0 %" in text
    assert "<table" in html


async def test_the_service_sends_when_the_time_comes(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    from watchkeeper.alerts.model import now_ms

    store = open_store(tmp_path / "wk.db", background=False)
    cfg = notify_config(
        receivers=[
            {
                "name": "ops",
                "email_configs": [{"to": ["ops@shop.example"], "smarthost": smtp_sink.smarthost}],
            }
        ],
        route={"receiver": "ops"},
        reports=[{"receiver": "ops", "at": "08:00"}],
    )
    real = now_ms()
    # A clock 0.2 s before the next 08:00, going on in real time from there.
    shift = next_report_at(cfg.reports[0], real) - 200 - real

    async with running(cfg, tmp_path / "alerts.db") as notifier:
        scheduler = ReportScheduler(
            cfg.reports, notifier, store, alerts_db=None, clock=lambda: now_ms() + shift
        )
        stop = asyncio.Event()
        service = asyncio.create_task(scheduler.serve(stop))
        assert await asyncio.to_thread(smtp_sink.wait_for, 1)
        stop.set()
        await service
    store.close()
    assert scheduler.sent == 1
    assert "No alert fired in this period." in smtp_sink.items[0].get_body(("plain",)).get_content()
