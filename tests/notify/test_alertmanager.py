"""Forwarding to a real Alertmanager 0.25 (Debian's package), read back through its API."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from watchkeeper.alerts.model import InboundAlert, now_ms
from watchkeeper.model import Labels
from wk_testing import require

from .conftest import notify_config, running
from .peers import free_port


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    require(
        binary is not None,
        "prometheus-alertmanager not installed (apt-get install prometheus-alertmanager)",
    )
    assert binary is not None
    cfg = tmp_path / "am.yml"
    cfg.write_text("route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n")
    port, cluster = free_port(), free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={cfg}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--cluster.listen-address=127.0.0.1:{cluster}",
            "--cluster.advertise-address=127.0.0.1:0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:  # wait for readiness (bounded)
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("alertmanager did not become ready")
            time.sleep(0.05)
        yield url
    finally:
        proc.kill()
        proc.wait()


async def test_forward_to_real_alertmanager(alertmanager: str, tmp_path: Path) -> None:
    cfg = notify_config(
        receivers=[{"name": "am", "alertmanager_configs": [{"url": alertmanager}]}],
        route={"receiver": "am", "group_wait": 0},
    )
    a = InboundAlert(
        Labels({"alertname": "Forwarded", "instance": "web-1", "severity": "warning"}),
        {"summary": "forwarded from watchkeeper"},
        starts_at_ms=now_ms() - 10_000,
        generator_url="http://wk/graph",
    )
    async with running(cfg, tmp_path / "alerts.db") as notifier:
        notifier.receive([a])
        async with httpx.AsyncClient() as client:
            got: list[dict[str, object]] = []
            for _ in range(200):  # poll Alertmanager's API until it shows the alert (bounded)
                got = (await client.get(f"{alertmanager}/api/v2/alerts")).json()
                if got:
                    break
                await asyncio.sleep(0.05)
    assert len(got) == 1
    am = got[0]
    assert am["labels"] == dict(a.labels)
    assert am["annotations"] == {"summary": "forwarded from watchkeeper"}
    assert am["generatorURL"] == "http://wk/graph"
    # The same fingerprint algorithm as Alertmanager's.
    assert am["fingerprint"] == a.fingerprint
    assert am["status"]["state"] == "active"
