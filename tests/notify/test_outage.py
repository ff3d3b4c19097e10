"""Receivers down while alerts fire and resolve, and a kill -9 in the middle of delivery.

Every notification must arrive, in order per group, none twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from watchkeeper.alerts.db import AlertsDB
from watchkeeper.alerts.model import InboundAlert, now_ms
from watchkeeper.model import Labels

from .conftest import notify_config, running
from .peers import HttpSink, SmtpSink, free_port

GROUPS = 30


def by_group_http(sink: HttpSink) -> tuple[dict[str, list[tuple[int, str]]], list[str]]:
    groups: dict[str, list[tuple[int, str]]] = defaultdict(list)
    keys = []
    for r in sink.items:
        body = r.json()
        groups[body["groupKey"]].append((int(r.headers["x-watchkeeper-sequence"]), body["status"]))
        keys.append(r.headers["idempotency-key"])
    return groups, keys


def by_group_smtp(sink: SmtpSink) -> tuple[dict[str, list[tuple[int, str]]], list[str]]:
    groups: dict[str, list[tuple[int, str]]] = defaultdict(list)
    keys = []
    for m in sink.items:
        status = "resolved" if m["Subject"].startswith("[RESOLVED]") else "firing"
        name = m["Subject"].split("] ", 1)[1].split(" ")[0]
        groups[name].append((int(m["X-Watchkeeper-Sequence"]), status))
        keys.append(m["Message-ID"])
    return groups, keys


def check_delivery(groups: dict[str, list[tuple[int, str]]], keys: list[str]) -> int:
    """Every group got firing then resolved, in outbox order; returns raw duplicates."""
    assert len(groups) == GROUPS
    for seq in groups.values():
        unique = sorted(set(seq))
        assert [s for _, s in unique] == ["firing", "resolved"]
        assert [n for n, _ in seq] == sorted(n for n, _ in seq)  # arrival order = outbox order
    assert len(set(keys)) == 2 * GROUPS
    return len(keys) - len(set(keys))


async def test_receivers_down_then_back_every_notification_once_in_order(tmp_path: Path) -> None:
    smtp, http = SmtpSink(free_port()), HttpSink(free_port())  # both down
    cfg = notify_config(
        receivers=[
            {
                "name": "ops",
                "email_configs": [{"to": ["o@example.com"], "smarthost": f"127.0.0.1:{smtp.port}"}],
                "webhook_configs": [{"url": f"http://127.0.0.1:{http.port}/hook"}],
            }
        ],
        route={"receiver": "ops", "group_wait": 0, "group_by": ["alertname"]},
        delivery={"initial_backoff": 0.05, "max_backoff": 0.3, "max_attempts": 1000},
    )
    start = now_ms() - 1000

    def alerts(resolved_at: int = 0) -> list[InboundAlert]:
        return [
            InboundAlert(Labels({"alertname": f"A{i}"}), {"summary": "s"}, start, resolved_at)
            for i in range(GROUPS)
        ]

    async with running(cfg, tmp_path / "alerts.db") as notifier:
        notifier.receive(alerts())
        db = AlertsDB(tmp_path / "alerts.db")
        for _ in range(400):  # the firing notifications are queued (bounded wait)
            if db.query("SELECT COUNT(*) FROM outbox")[0][0] == 2 * GROUPS:
                break
            await asyncio.sleep(0.05)
        notifier.receive(alerts(now_ms()))
        # Wait until every notification was queued and tried at least once while down.
        for _ in range(400):
            pending = db.query("SELECT COUNT(*) FROM outbox WHERE state='pending'")[0][0]
            tried = db.query("SELECT COUNT(DISTINCT outbox_id) FROM attempts WHERE ok=0")[0][0]
            if pending == 4 * GROUPS and tried >= 2 * GROUPS:
                break
            await asyncio.sleep(0.05)
        assert pending == 4 * GROUPS
        assert tried >= 2 * GROUPS
        smtp.start()
        http.start()
        try:
            assert await asyncio.to_thread(smtp.wait_for, 2 * GROUPS)
            assert await asyncio.to_thread(http.wait_for, 2 * GROUPS)
            for _ in range(200):  # until the last "done" is committed
                if db.query("SELECT COUNT(*) FROM outbox WHERE state='pending'")[0][0] == 0:
                    break
                await asyncio.sleep(0.05)
        finally:
            smtp.stop()
            http.stop()
    assert db.query("SELECT COUNT(*) FROM outbox WHERE state='done'")[0][0] == 4 * GROUPS
    assert check_delivery(*by_group_http(http)) == 0
    assert check_delivery(*by_group_smtp(smtp)) == 0
    failed = db.query("SELECT COUNT(*) FROM attempts WHERE ok=0")[0][0]
    assert failed >= 2 * GROUPS  # the outage was real


def write_scenario(path: Path, start: int, resolved_at: int = 0) -> None:
    items: list[dict[str, Any]] = [
        {"labels": {"alertname": f"A{i}"}, "startsAt": start, "endsAt": resolved_at}
        for i in range(GROUPS)
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(items))
    os.replace(tmp, path)


def spawn(args: list[str]) -> subprocess.Popen[str]:
    child = Path(__file__).with_name("notifier_child.py")
    proc = subprocess.Popen(
        [sys.executable, str(child), *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


async def test_kill_9_in_the_middle_then_restart(tmp_path: Path) -> None:
    smtp, http = SmtpSink().start(), HttpSink().start()
    scenario = tmp_path / "scenario.json"
    db_path = tmp_path / "alerts.db"
    start = now_ms() - 1000
    write_scenario(scenario, start)
    args = [str(db_path), str(smtp.port), str(http.port), str(scenario)]
    proc = spawn(args)
    try:
        # Rate-limited to 20/s: kill while the firing notifications are being delivered.
        assert await asyncio.to_thread(http.wait_for, 8)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_after = (len(http.items), len(smtp.items))
        assert killed_after[0] < GROUPS  # it really died in the middle
        # Receivers go down too; the alerts resolve while nothing can be delivered.
        smtp.stop()
        http.stop()
        write_scenario(scenario, start, resolved_at=now_ms())
        proc = spawn(args)
        db = AlertsDB(db_path)
        for _ in range(400):  # the restarted notifier queues the resolutions
            if db.query("SELECT COUNT(*) FROM outbox")[0][0] == 4 * GROUPS:
                break
            await asyncio.sleep(0.05)
        smtp.start()
        http.start()
        assert await asyncio.to_thread(http.wait_for, 2 * GROUPS)
        assert await asyncio.to_thread(smtp.wait_for, 2 * GROUPS)
        for _ in range(200):
            if db.query("SELECT COUNT(*) FROM outbox WHERE state='pending'")[0][0] == 0:
                break
            await asyncio.sleep(0.05)
        assert db.query("SELECT COUNT(*) FROM outbox")[0][0] == 4 * GROUPS
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        smtp.stop()
        http.stop()
    # At most the one message per integration that was in flight at the kill
    # arrives twice, and then with the same idempotency key.
    assert check_delivery(*by_group_http(http)) <= 1
    assert check_delivery(*by_group_smtp(smtp)) <= 1
