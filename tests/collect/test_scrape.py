"""Scraping a real /metrics endpoint served by prometheus_client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from watchkeeper.collect.scrape import ScrapeCollector
from watchkeeper.config.services import ScrapeConfig
from wk_testing import free_port


@pytest.fixture
def target() -> Iterator[int]:
    registry = CollectorRegistry()
    Counter("app_requests", "Requests.", ["path"], registry=registry).labels("/").inc(5)
    Gauge("app_queue", "Queue.", ["job"], registry=registry).labels("emails").set(3)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield port
    finally:
        server.shutdown()
        thread.join()


async def test_scrape_target_and_dead_target(target: int) -> None:
    dead = free_port()
    cfg = ScrapeConfig(
        job="app", targets=[f"127.0.0.1:{target}", f"127.0.0.1:{dead}"], labels={"env": "test"}
    )
    c = ScrapeCollector(cfg, interval=10, timeout=3)
    samples = list(await c.collect(1000))
    got = {(s.name, s.labels.get("instance")): s for s in samples}
    live, gone = f"127.0.0.1:{target}", f"127.0.0.1:{dead}"
    assert got[("up", live)].value == 1
    assert got[("up", gone)].value == 0
    assert "connection refused" in c.last_reasons[gone]
    requests = got[("app_requests_total", live)]
    assert requests.value == 5
    assert requests.labels.get("job") == "app"
    assert requests.labels.get("env") == "test"
    # The target's own `job` label is kept as exported_job, as Prometheus does.
    queue = got[("app_queue", live)]
    assert (queue.labels.get("job"), queue.labels.get("exported_job")) == ("app", "emails")
    assert not any(s.name.endswith("_created") for s in samples)
    assert got[("scrape_samples_scraped", live)].value == 2


async def test_sample_limit_fails_the_target(target: int) -> None:
    cfg = ScrapeConfig(job="app", targets=[f"127.0.0.1:{target}"], sample_limit=1)
    c = ScrapeCollector(cfg, interval=10, timeout=3)
    samples = list(await c.collect(0))
    assert [s.value for s in samples if s.name == "up"] == [0]
    assert "sample_limit" in next(iter(c.last_reasons.values()))
