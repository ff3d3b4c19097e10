"""Helpers for the web room's tests: noisy host data, a live server, auth headers."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import uvicorn
from fastapi import FastAPI

from watchkeeper.alerts.model import InboundAlert
from watchkeeper.alerts.service import AlertService
from watchkeeper.model import Labels, Sample
from watchkeeper.notify.notifier import Notifier
from watchkeeper.store.base import Store
from watchkeeper.web.alert_board import AlertBoard, AlertView, GroupView
from watchkeeper.web.authdb import AuthDB

PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def noisy_host_samples(
    end_ms: int, hours: float = 2.0, step_s: int = 10, seed: int = 7
) -> list[Sample]:
    """Realistic host series: jittered timestamps, random-walk gauges, growing counters."""
    rng = np.random.default_rng(seed)
    n = int(hours * 3600 / step_s)
    ts = end_ms - (np.arange(n)[::-1] * step_s * 1000) - rng.integers(0, 400, n)
    inst = {"instance": "web-1"}
    out: list[Sample] = []

    def walk(lo: float, hi: float, mean: float, scale: float) -> np.ndarray:
        # Mean-reverting noise (AR(1)): wanders like a real gauge, stays in range.
        x = np.empty(n)
        x[0] = mean
        noise = rng.normal(0, scale, n)
        for i in range(1, n):
            x[i] = mean + 0.97 * (x[i - 1] - mean) + noise[i]
        return np.clip(x, lo, hi)

    series = {
        ("host_cpu_usage_percent", ()): walk(0, 100, 35, 2.5),
        ("host_memory_usage_percent", ()): walk(0, 100, 60, 0.4),
        ("host_load1", ()): walk(0, 16, 1.2, 0.1),
        ("host_disk_usage_percent", (("mountpoint", "/"),)): walk(0, 100, 71, 0.02),
        ("host_disk_usage_percent", (("mountpoint", "/var"),)): walk(0, 100, 43, 0.05),
    }
    for (name, extra), values in series.items():
        lab = Labels({**inst, **dict(extra)})
        out += [
            Sample(name, lab, int(t), round(float(v), 2)) for t, v in zip(ts, values, strict=False)
        ]
    for direction, rate in (("receive", 120_000.0), ("transmit", 40_000.0)):
        lab = Labels({**inst, "interface": "eth0"})
        total = np.cumsum(rng.gamma(2.0, rate * step_s / 2, n))
        out += [
            Sample(f"host_network_{direction}_bytes_total", lab, int(t), float(v))
            for t, v in zip(ts, total, strict=False)
        ]
    return out


class HookSink:
    """A real HTTP server recording the JSON bodies posted to it (a webhook receiver)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with sink.cond:
                    sink.bodies.append(json.loads(body or b"{}"))
                    sink.cond.notify_all()
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> HookSink:
        self.thread.start()
        return self

    def wait_for(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float = 15
    ) -> dict[str, Any]:
        """The first body for which ``pred`` holds, waiting for it to arrive."""
        with self.cond:
            found: list[dict[str, Any]] = []

            def check() -> bool:
                found[:] = [b for b in self.bodies if pred(b)]
                return bool(found)

            assert self.cond.wait_for(check, timeout), f"no matching body in {self.bodies}"
            return found[0]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class NotifierThread:
    """The notifier serving on an event loop of its own, as in ``watchkeeper run``."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self.stop_event = asyncio.Event()
            task = asyncio.create_task(self.notifier.serve(self.stop_event))
            await self.notifier.ready.wait()
            self.started.set()
            await task

        self.loop.run_until_complete(main())

    def start(self) -> NotifierThread:
        self.thread.start()
        assert self.started.wait(20), "notifier did not start"
        return self

    def stop(self) -> None:
        assert self.stop_event is not None
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(20)


def wait_until(cond: Callable[[], Any], timeout: float = 15, what: str = "condition") -> Any:
    """Wait for state another thread changes (the notifier's loop); fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@dataclass
class WebEnv:
    app: FastAPI
    store: Store
    db: AuthDB
    board: AlertBoard
    tokens: dict[str, str]
    now_ms: int
    #: The lifecycle as the CLI sees it: its own connection to alerts.db.
    alerts: AlertService | None = None
    notifier: Notifier | None = None
    hook: HookSink | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def fire(env: WebEnv, group: GroupView, alerts: Sequence[AlertView]) -> list[str]:
    """Raise rule alerts as the run loop does: publish to the board, send firing ones
    to the notifier, and wait until alerts.db holds them. Returns the fingerprints."""
    env.board.publish(group, alerts)
    firing = [a for a in alerts if a.state == "firing"]
    if env.notifier is not None and firing:
        now = int(time.time() * 1000)
        env.notifier.receive(
            [
                InboundAlert(
                    Labels(dict(a.labels)),
                    dict(a.annotations),
                    int(a.active_at * 1000),
                    now + 60_000,
                )
                for a in firing
            ]
        )
        service = env.alerts
        assert service is not None
        for a in firing:
            wait_until(
                lambda fp=a.fingerprint: service.db.get_alert(fp) is not None,  # type: ignore[misc]
                what=f"alert {a.name} in alerts.db",
            )
    return [a.fingerprint for a in alerts]


def bearer(env: WebEnv, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {env.tokens[role]}"}


class LiveServer:
    """The app on a real socket in a thread (for the browser and Prometheus)."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                log_config=None,
                access_log=False,
                timeout_graceful_shutdown=1,
            )
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.server.serve())

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("web server did not start")
            time.sleep(0.02)
        return self

    def call(self, fn, *args) -> None:  # type: ignore[no-untyped-def]
        """Run ``fn`` on the server's event loop (as the writer would)."""
        assert self.loop is not None
        done = threading.Event()

        def wrapped() -> None:
            try:
                fn(*args)
            finally:
                done.set()

        self.loop.call_soon_threadsafe(wrapped)
        done.wait(5)

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
