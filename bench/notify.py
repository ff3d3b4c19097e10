"""Notification latency and outbox throughput.

alert_to_email_*: from the moment a sample crossing the threshold is appended
to the store, through a rule group evaluated every 1 s (the rules helper's
RuleGroupRunner, wired exactly as the run loop's on_alerts does), the notifier
(group_wait 0s, durable outbox) to the message accepted by a local aiosmtpd
server. The sample values are noisy (seeded) and the crossing moment is at a
random phase of the evaluation interval, so the wait for the next evaluation
(0-1 s) is part of the figure, as in production. eval_to_email_* is the part
after the evaluation.

webhook_throughput_per_s: 5,000 alerts in distinct groups queued in the
outbox, then drained to a local webhook receiver (uvicorn, separate process):
notifications delivered and committed ``done`` per second.

storm_longest_turn_ms: while those 5,000 alerts are merged and queued, the
longest single turn of the notifier, i.e. the longest time the storm held the
run loop (collectors' scheduling, the web server) without yielding.

Usage: python bench/notify.py [--quick]     (last stdout line: JSON)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from aiosmtpd.controller import Controller

from watchkeeper.alerts.db import AlertsDB
from watchkeeper.alerts.model import InboundAlert, now_ms
from watchkeeper.config.notify import NotifyConfig
from watchkeeper.model import Labels, Sample
from watchkeeper.notify.build import build_channels
from watchkeeper.notify.notifier import Notifier
from watchkeeper.notify.sink import alert_sink
from watchkeeper.rules.alerting import AlertingRule
from watchkeeper.rules.group import RuleGroupRunner
from watchkeeper.rules.loader import parse_rule_text
from watchkeeper.store import open_store

RULES = """
groups:
  - name: bench
    interval: 1s
    rules:
      - alert: HighValue
        expr: bench_value > 90
        labels: {severity: critical}
        annotations: {summary: "value {{ $value }} on {{ $labels.instance }}"}
"""

WEBHOOK_APP = """
import sys
count = 0
async def app(scope, receive, send):
    global count
    if scope["type"] != "http":
        return
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    if scope["method"] == "POST":
        count += 1
        out = b"{}"
    else:
        out = str(count).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(out)).encode())]})
    await send({"type": "http.response.body", "body": out})
"""


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


class Inbox:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.cond = threading.Condition()

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        text = envelope.content.decode(errors="replace")  # type: ignore[attr-defined]
        subject = next(line for line in text.splitlines() if line.startswith("Subject:"))
        if "[FIRING" in subject:
            instance = subject.split("HighValue ")[1].split(" ")[0]
            with self.cond:
                self.arrivals.setdefault(instance, time.time())
                self.cond.notify_all()
        return "250 OK"

    def wait(self, instance: str, timeout: float = 30) -> float | None:
        with self.cond:
            self.cond.wait_for(lambda: instance in self.arrivals, timeout)
            return self.arrivals.get(instance)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def latency(trials: int, tmp: Path, rng: random.Random) -> dict[str, float]:
    inbox = Inbox()
    port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    store = open_store(tmp / "wk.db")
    spec = parse_rule_text(RULES, "bench.yml")
    spec.raise_for_errors()
    group = RuleGroupRunner(spec.groups[0], store, interval=1.0)
    cfg = NotifyConfig.model_validate(
        {
            "receivers": [
                {
                    "name": "mail",
                    "email_configs": [
                        {"to": ["ops@example.com"], "smarthost": f"127.0.0.1:{port}"}
                    ],
                }
            ],
            "route": {"receiver": "mail", "group_wait": 0, "group_by": ["alertname", "instance"]},
        }
    )
    db = AlertsDB(tmp / "alerts.db")
    notifier = Notifier(cfg, db, build_channels(cfg))
    sink = alert_sink(notifier, 1.0)
    stop = asyncio.Event()
    serve = asyncio.create_task(notifier.serve(stop))
    eval_times: dict[str, float] = {}

    async def evaluate_every_second() -> None:
        loop = asyncio.get_running_loop()
        next_due = loop.time() + (-time.time() % 1.0)
        while not stop.is_set():
            await asyncio.sleep(max(0.0, next_due - loop.time()))
            next_due += 1.0
            ts = now_ms()
            out = await asyncio.to_thread(group.evaluate, ts)
            store.append(out)
            alerts = [
                a for r in group.rules if isinstance(r, AlertingRule) for a in r.active.values()
            ]
            for a in alerts:
                inst = a.labels.get("instance") or ""
                if a.state.value == "firing" and inst not in eval_times:
                    eval_times[inst] = time.time()
            sink(alerts)  # what RuleGroupTask's on_alerts does

    evaluator = asyncio.create_task(evaluate_every_second())
    a2e: list[float] = []
    e2e: list[float] = []
    instances = [f"host-{i:03d}" for i in range(trials)]
    try:
        for inst in instances:
            lab = Labels({"instance": inst})
            # Quiet, noisy baseline, then the crossing sample at a random phase.
            for _ in range(3):
                store.append([Sample("bench_value", lab, now_ms(), rng.uniform(20, 60))])
            await asyncio.sleep(rng.uniform(0.05, 1.0))
            t0 = time.time()
            store.append([Sample("bench_value", lab, now_ms(), rng.uniform(91, 99))])
            arrived = await asyncio.to_thread(inbox.wait, inst)
            if arrived is None:
                raise RuntimeError(f"no e-mail for {inst}")
            a2e.append((arrived - t0) * 1000)
            e2e.append((arrived - eval_times[inst]) * 1000)
            store.append([Sample("bench_value", lab, now_ms(), rng.uniform(10, 30))])
    finally:
        stop.set()
        await evaluator
        await serve
        smtp.stop()
        store.close()
        db.close()
    return {
        "alert_to_email_p50_ms": round(percentile(a2e, 50), 1),
        "alert_to_email_p99_ms": round(percentile(a2e, 99), 1),
        "alert_to_email_max_ms": round(max(a2e), 1),
        "eval_to_email_p50_ms": round(percentile(e2e, 50), 1),
        "eval_to_email_p99_ms": round(percentile(e2e, 99), 1),
        "latency_trials": trials,
    }


async def throughput(n: int, tmp: Path, rng: random.Random) -> dict[str, float]:
    port = free_port()
    app_file = tmp / "hook_app.py"
    app_file.write_text(WEBHOOK_APP)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "hook_app:app",
            "--port",
            str(port),
            "--log-level",
            "error",
            "--no-access-log",
            "--app-dir",
            str(tmp),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(200):
            try:
                httpx.get(url, timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        cfg = NotifyConfig.model_validate(
            {
                "receivers": [{"name": "hook", "webhook_configs": [{"url": url}]}],
                "route": {
                    "receiver": "hook",
                    "group_wait": 0,
                    "group_by": ["alertname", "instance"],
                },
                "delivery": {"concurrency": 4},
            }
        )
        db = AlertsDB(tmp / "alerts-tp.db")
        notifier = Notifier(cfg, db, build_channels(cfg))
        start = now_ms() - 1000
        alerts = [
            InboundAlert(
                Labels(
                    {
                        "alertname": "Load",
                        "instance": f"node-{i:05d}",
                        "severity": rng.choice(["warning", "critical"]),
                    }
                ),
                {"summary": f"load {rng.uniform(5, 50):.2f}"},
                start,
            )
            for i in range(n)
        ]
        # Queue everything first (delivery off), then measure the drain alone.
        # Turns as the service takes them (each within its time budget); the
        # longest is how long the storm held the run loop at once.
        t_q = time.perf_counter()
        notifier.receive(alerts)
        turns = []
        more = True
        while more:
            t_turn = time.perf_counter()
            more = notifier.step()
            turns.append((time.perf_counter() - t_turn) * 1000)
        queued_s = time.perf_counter() - t_q
        queued = db.query("SELECT COUNT(*) FROM outbox WHERE state='pending'")[0][0]
        stop = asyncio.Event()
        t0 = time.perf_counter()
        worker = asyncio.create_task(notifier.worker.run(stop))
        while db.query("SELECT COUNT(*) FROM outbox WHERE state='done'")[0][0] < queued:
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - t0
        stop.set()
        await worker
        received = int(httpx.get(url).text)
        db.close()
    finally:
        proc.terminate()
        proc.wait()
    return {
        "webhook_throughput_per_s": round(queued / elapsed, 1),
        "webhook_notifications": queued,
        "webhook_received": received,
        "outbox_enqueue_per_s": round(queued / queued_s, 1),
        "storm_alerts": n,
        "storm_turns": len(turns),
        "storm_longest_turn_ms": round(max(turns), 1),
        "storm_step_budget_ms": round(notifier.step_budget_s * 1000, 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rng = random.Random(20241122)
    trials, n = (25, 3000) if args.quick else (100, 5000)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        t = time.perf_counter()
        result = await latency(trials, tmp, rng)
        result.update(await throughput(n, tmp, rng))
        result["bench_seconds"] = round(time.perf_counter() - t, 1)
    result["quick"] = args.quick
    for k, v in result.items():
        print(f"{k}: {v}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
