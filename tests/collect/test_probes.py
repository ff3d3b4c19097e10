"""Blackbox probes against local servers started by the test (HTTP, TLS) and real ports."""

from __future__ import annotations

import http.server
import logging
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from watchkeeper.collect.probes import ProbeCollector, cert_not_after
from watchkeeper.config.services import ProbeConfig
from wk_testing import free_port, require_service, self_signed_cert, serve_http

PROBE_TOKEN = "wk-probe-s3cret-0123456789"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/private":
            ok = self.headers.get("X-Api-Key") == PROBE_TOKEN
            self.send_response(200 if ok else 403)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.end_headers()
            return
        code = 200 if self.path == "/ok" else 404
        body = b"status: all good, version 1.2.3" if code == 200 else b"nope"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve(context: ssl.SSLContext | None = None) -> Iterator[int]:
    return serve_http(Handler, context)


@pytest.fixture
def http_port() -> Iterator[int]:
    yield from serve()


@pytest.fixture
def cert(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_cert(tmp_path)


@pytest.fixture
def https_port(cert: tuple[Path, Path]) -> Iterator[int]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*cert)
    yield from serve(ctx)


async def probe(**cfg: object) -> tuple[dict[str, float], str]:
    c = ProbeCollector(
        "probe:t", ProbeConfig.model_validate({"name": "t", **cfg}), interval=10, timeout=3
    )
    samples = await c.collect(0)
    await c.prober.aclose()
    return {s.name: s.value for s in samples}, c.last_reason


async def test_http_success_with_keyword_and_redirect(http_port: int) -> None:
    v, why = await probe(
        url=f"http://127.0.0.1:{http_port}/redirect",
        body_contains="all good",
        body_regex=r"version \d+\.\d+",
    )
    assert v["probe_success"] == 1, why
    assert v["probe_http_status_code"] == 200
    assert v["probe_http_redirects"] == 1
    assert v["probe_duration_seconds"] > 0


async def test_http_wrong_status_and_missing_keyword(http_port: int) -> None:
    v, why = await probe(url=f"http://127.0.0.1:{http_port}/missing", expected_status=200)
    assert v["probe_success"] == 0
    assert why == "HTTP 404, expected 200"
    v, why = await probe(url=f"http://127.0.0.1:{http_port}/ok", body_contains="maintenance")
    assert v["probe_success"] == 0
    assert why == "body does not contain 'maintenance'"


async def test_http_secret_header_is_sent_not_logged(
    http_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):  # httpx and httpcore included
        v, why = await probe(
            url=f"http://127.0.0.1:{http_port}/private", headers={"X-Api-Key": PROBE_TOKEN}
        )
        assert v["probe_success"] == 1, why
        v, why = await probe(
            url=f"http://127.0.0.1:{http_port}/private", headers={"X-Api-Key": "wrong"}
        )
        assert why == "HTTP 403, expected 2xx"
    assert PROBE_TOKEN not in caplog.text


async def test_http_nothing_listening() -> None:
    port = free_port()
    v, why = await probe(url=f"http://127.0.0.1:{port}/")
    assert v["probe_success"] == 0
    assert why.startswith(f"connection refused to http://127.0.0.1:{port}")


async def test_https_reports_certificate_expiry(https_port: int, cert: tuple[Path, Path]) -> None:
    v, why = await probe(url=f"https://127.0.0.1:{https_port}/ok", ca_file=str(cert[0]))
    assert v["probe_success"] == 1, why
    days = (v["probe_ssl_earliest_cert_expiry"] - time.time()) / 86400
    assert 29 < days <= 30


async def test_tls_probe_verify_failure_still_reads_expiry(https_port: int) -> None:
    v, why = await probe(type="tls", target=f"127.0.0.1:{https_port}")
    assert v["probe_success"] == 0
    assert why.startswith("certificate verify failed: self")
    assert 29 < (v["probe_ssl_earliest_cert_expiry"] - time.time()) / 86400 <= 30


async def test_tls_probe_success_with_ca(https_port: int, cert: tuple[Path, Path]) -> None:
    v, why = await probe(type="tls", target=f"localhost:{https_port}", ca_file=str(cert[0]))
    assert v["probe_success"] == 1, why


async def test_tcp_and_dns() -> None:
    require_service("postgresql", port=5432)
    v, _ = await probe(type="tcp", target="127.0.0.1:5432")
    assert v["probe_success"] == 1
    assert v["probe_tcp_connect_duration_seconds"] > 0
    port = free_port()
    v, why = await probe(type="tcp", target=f"127.0.0.1:{port}")
    assert (v["probe_success"], why) == (0, f"connection refused to 127.0.0.1:{port}")
    v, _ = await probe(type="dns", target="localhost")
    assert v["probe_success"] == 1
    assert v["probe_dns_answers"] >= 1
    v, why = await probe(type="dns", target="no-such-host.invalid")
    assert v["probe_success"] == 0
    assert why.startswith("cannot resolve no-such-host.invalid")


def test_cert_not_after_matches_openssl(cert: tuple[Path, Path]) -> None:
    der = ssl.PEM_cert_to_DER_cert(cert[0].read_text())
    out = subprocess.run(
        ["openssl", "x509", "-in", str(cert[0]), "-noout", "-enddate"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    expected = ssl.cert_time_to_seconds(out.strip().split("=", 1)[1])
    assert cert_not_after(der) == expected


def test_seed_synthetic_check_maps_one_to_one() -> None:
    cfg = ProbeConfig.model_validate(
        {
            "name": "api_health",
            "url": "https://api.example.com/health/",
            "expected_status": 200,
            "timeout": "3s",
            "interval": 30,
        }
    )
    assert (cfg.target, cfg.expected_status, cfg.timeout, cfg.interval) == (
        "https://api.example.com/health/",
        [200],
        3.0,
        30.0,
    )
