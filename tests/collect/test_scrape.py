"""Scraping a real /metrics endpoint served by prometheus_client."""

from __future__ import annotations

import http.server
import logging
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from watchkeeper.collect.scrape import ScrapeCollector
from watchkeeper.config.services import ScrapeConfig
from wk_testing import free_port, serve_http


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


TOKEN = "wk-scrape-s3cret-0123456789"


class _AuthTarget(http.server.BaseHTTPRequestHandler):
    """Serves one metric to requests carrying the token; 500 on /broken."""

    seen: list[str | None] = []

    def do_GET(self) -> None:
        _AuthTarget.seen.append(self.headers.get("Authorization"))
        if self.path == "/broken":
            self.send_response(500)
            self.end_headers()
            return
        ok = self.headers.get("Authorization") == f"Bearer {TOKEN}"
        body = b"app_up 1\n" if ok else b""
        self.send_response(200 if ok else 401)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def auth_target() -> Iterator[int]:
    _AuthTarget.seen = []
    yield from serve_http(_AuthTarget)


async def test_secret_headers_are_sent_but_never_logged(
    auth_target: int, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = ScrapeConfig.model_validate(
        {
            "job": "app",
            "targets": [f"127.0.0.1:{auth_target}", f"http://127.0.0.1:{auth_target}/broken"],
            "headers": {"Authorization": f"Bearer {TOKEN}"},
        }
    )
    c = ScrapeCollector(cfg, interval=10, timeout=3)
    with caplog.at_level(logging.DEBUG):  # httpx and httpcore included
        samples = list(await c.collect(0))
    assert sorted(s.value for s in samples if s.name == "up") == [0.0, 1.0]
    assert [s.value for s in samples if s.name == "app_up"] == [1.0]
    assert _AuthTarget.seen == [f"Bearer {TOKEN}"] * 2
    assert "down: HTTP 500" in caplog.text  # the failure is logged ...
    assert TOKEN not in caplog.text  # ... without the header
    assert TOKEN not in repr(c.cfg)
