"""/metrics (promtool, a real Prometheus scraping it) and the live hub."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_helpers import LiveServer, WebEnv, bearer, free_port

from watchkeeper.model import Labels, Sample
from watchkeeper.runtime.self_metrics import SelfCollector
from watchkeeper.runtime.stats import RuntimeStats
from watchkeeper.web.live import LiveHub


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("WATCHKEEPER_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{tool} not installed (apt-get install prometheus)")
        pytest.skip(f"{tool} not installed (apt-get install prometheus)")
    return path


def _self_samples(now_ms: int) -> list[Sample]:
    stats = RuntimeStats()
    stats.samples_written = 123456
    stats.collector("host").collections = 42
    stats.collector("host").samples = 4242
    return list(SelfCollector(stats).collect(now_ms))


def _feed(web_env: WebEnv, samples: list[Sample]) -> None:
    web_env.store.append(samples)
    web_env.app.state.self_metrics.on_written(samples)


@pytest.mark.parametrize("accept", ["", "application/openmetrics-text; version=1.0.0"])
def test_promtool_accepts_metrics(client: TestClient, web_env: WebEnv, accept: str) -> None:
    promtool = _need("promtool")
    _feed(web_env, _self_samples(web_env.now_ms))
    r = client.get("/metrics", headers={**bearer(web_env, "viewer"), "Accept": accept})
    assert r.status_code == 200
    assert "watchkeeper_samples_written_total 123456.0" in r.text
    if accept:
        assert r.headers["content-type"].startswith("application/openmetrics-text")
        assert r.text.endswith("# EOF\n")
        return  # promtool 2.42 checks the text format only
    out = subprocess.run(
        [promtool, "check", "metrics"], input=r.content, capture_output=True, timeout=30
    )
    assert out.returncode == 0
    assert out.stdout == b""
    assert out.stderr == b""


def _prom_query(base: str, expr: str) -> list[dict[str, object]]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())["data"]["result"]  # type: ignore[no-any-return]


@pytest.mark.slow
def test_real_prometheus_scrapes_and_agrees(
    live_server: LiveServer, web_env: WebEnv, tmp_path: Path, client: TestClient
) -> None:
    prometheus = _need("prometheus")
    _feed(web_env, _self_samples(int(time.time() * 1000)))
    port = free_port()
    (tmp_path / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 1s}}
scrape_configs:
  - job_name: watchkeeper
    authorization: {{credentials: {web_env.tokens["viewer"]}}}
    static_configs: [{{targets: ['127.0.0.1:{live_server.port}']}}]
""")
    proc = subprocess.Popen(
        [
            prometheus,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        result: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            try:
                result = _prom_query(base, "watchkeeper_samples_written_total")
            except OSError:
                result = []
            if result:
                break
            time.sleep(0.5)
        assert result, "Prometheus never scraped watchkeeper"
        for expr in (
            "watchkeeper_samples_written_total",
            "sum(watchkeeper_samples_collected_total)",
            'watchkeeper_collections_total{collector="host"} * 2',
        ):
            theirs = _prom_query(base, expr)
            ours = client.get(
                "/api/v1/query", params={"query": expr}, headers=bearer(web_env, "viewer")
            ).json()["data"]["result"]
            assert [float(s["value"][1]) for s in theirs] == [  # type: ignore[index]
                float(s["value"][1]) for s in ours
            ]
            assert theirs, expr
    finally:
        proc.terminate()
        proc.wait(10)


async def test_live_hub_filters_and_drops_slow_clients() -> None:
    hub = LiveHub(queue_size=2)
    hub.bind(asyncio.get_running_loop())
    cpu = hub.subscribe(["host_cpu_usage_percent"])
    slow = hub.subscribe(["host_load1"])
    assert cpu is not None
    assert slow is not None
    batch = [
        Sample("host_cpu_usage_percent", Labels({"instance": "a"}), 1000, 12.5),
        Sample("host_load1", Labels({"instance": "a"}), 1000, 0.5),
    ]
    hub.on_written(batch)
    frame = cpu.queue.get_nowait()
    assert frame is not None
    data = json.loads(frame.decode().split("data: ", 1)[1])
    assert data["s"] == {"host_cpu_usage_percent": [["instance=a", 1000, 12.5]]}
    for _ in range(3):  # the slow client never reads: dropped, the writer never waits
        hub.on_written(batch)
        cpu.queue.get_nowait()  # this one keeps up
    assert slow.dropped
    assert slow not in hub.clients
    assert hub.dropped_clients == 1
    assert cpu in hub.clients


async def test_live_stream_yields_frames_then_ends_on_close() -> None:
    hub = LiveHub()
    hub.bind(asyncio.get_running_loop())
    client = hub.subscribe(["m"])
    assert client is not None
    stream = hub.stream(client)
    assert (await stream.__anext__()).startswith(b"retry:")
    hub.notify("alerts", {"changes": []})
    assert (await stream.__anext__()).startswith(b"event: alerts")
    hub.close()
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()
