"""Helpers for the web room's tests: noisy host data, a live server, auth headers."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass

import numpy as np
import uvicorn
from fastapi import FastAPI

from watchkeeper.model import Labels, Sample
from watchkeeper.store.base import Store
from watchkeeper.web.alert_board import AlertBoard
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


@dataclass
class WebEnv:
    app: FastAPI
    store: Store
    db: AuthDB
    board: AlertBoard
    tokens: dict[str, str]
    now_ms: int


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
