"""The shop under a real gunicorn with several sync workers, PostgreSQL behind it.

Exact counts across workers, through worker recycling (``--max-requests``)
and a SIGKILLed worker; route patterns as labels; query counts; failed logins
without addresses in labels; staff-only pages.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contrib.conftest import Server, gunicorn, shop_env

pytestmark = [pytest.mark.services, pytest.mark.slow]

TOKEN = {"Authorization": "Bearer scrape-token"}


def scrape(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(server.url + "/monitoring/metrics", headers=TOKEN, timeout=10)
    assert response.status_code == 200, response.text
    out = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def workers(server: Server) -> list[psutil.Process]:
    return psutil.Process(server.proc.pid).children()


@pytest.fixture
def served(shop: Path, shop_db: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    metrics_dir = tmp_path / "metrics"
    env = shop_env(shop, shop_db, metrics_dir)
    server = gunicorn(shop, env, 3, "--max-requests", "25")
    try:
        yield server, metrics_dir
    finally:
        server.stop()


def test_exact_counts_across_recycled_and_killed_workers(served) -> None:  # type: ignore[no-untyped-def]
    server, metrics_dir = served
    ok_items = errors = missing = slow = 0
    pids_seen: set[str] = set()
    with httpx.Client(base_url=server.url, timeout=20) as client:
        for i in range(150):
            if i == 70:
                # SIGKILL a worker between requests: what it counted must stay counted.
                victim = workers(server)[0]
                os.kill(victim.pid, signal.SIGKILL)
                psutil.wait_procs([victim], timeout=10)
            kind = i % 10
            if kind < 6:
                r = client.get(f"/items/{i}/")
                assert r.status_code == 200
                ok_items += 1
            elif kind == 6:
                r = client.get("/boom/")
                assert r.status_code == 500
                errors += 1
            elif kind == 7:
                r = client.get(f"/no/such/page/{i}")
                assert r.status_code == 404
                missing += 1
            elif kind == 8 and slow < 3:
                r = client.get("/slow/")
                assert r.status_code == 200
                slow += 1
            else:
                pids_seen.add(client.get("/pid/").text)
    pid_requests = 150 - ok_items - errors - missing - slow
    # 150 requests over 3 workers recycled every 25: several generations of workers.
    assert len(pids_seen) >= 4

    samples = scrape(server)
    items = value(
        samples, "http_requests_total", method="GET", route="/items/<int:pk>/", code="2xx"
    )
    assert items == ok_items
    assert value(samples, "http_requests_total", method="GET", route="/boom/", code="5xx") == errors
    assert value(samples, "http_requests_total", method="GET", route="<unmatched>", code="4xx") == (
        missing
    )
    assert value(samples, "http_requests_total", method="GET", route="/pid/", code="2xx") == (
        pid_requests
    )
    total = sum(v for (n, _), v in samples.items() if n == "http_requests_total")
    assert total == 150  # the scrapes themselves are not counted
    # Raw paths never become labels.
    assert not any("/items/1" in str(labels) for (_, labels) in samples)
    # Histograms agree with the counters.
    assert (
        value(
            samples, "http_request_duration_seconds_count", method="GET", route="/items/<int:pk>/"
        )
        == ok_items
    )
    assert (
        value(
            samples, "http_request_duration_seconds_bucket", method="GET", route="/slow/", le="0.1"
        )
        == 0
    )
    assert value(samples, "http_slow_requests_total", method="GET", route="/slow/") == slow
    assert value(samples, "http_exceptions_total", type="ValueError") == errors
    # Three PostgreSQL queries per item request, none elsewhere.
    assert value(samples, "django_db_queries_total", alias="default") == 3 * ok_items
    assert (
        value(samples, "django_db_queries_per_request_bucket", route="/items/<int:pk>/", le="3.0")
        == ok_items
    )
    assert (
        value(samples, "django_db_queries_per_request_bucket", route="/items/<int:pk>/", le="2.0")
        == 0
    )
    # Nobody is mid-request, dead workers' gauges are gone.
    assert value(samples, "http_requests_in_progress") == 0
    # Dead workers' files were folded into archives: no file per worker ever started.
    live = {p.pid for p in workers(server)}
    counter_files = [p.name for p in metrics_dir.glob("counter_*.wkdb")]
    assert "counter_archive.wkdb" in counter_files
    assert len(counter_files) <= len(live) + 2  # + archive + the master's (if it counted)
    # A second scrape (after compaction) gives the same numbers.
    again = scrape(server)
    assert value(
        again, "http_requests_total", method="GET", route="/items/<int:pk>/", code="2xx"
    ) == (ok_items)


def test_failed_logins_and_staff_pages(served) -> None:  # type: ignore[no-untyped-def]
    server, _ = served
    with httpx.Client(base_url=server.url, timeout=20) as client:
        for i in range(7):
            address = "203.0.113.9" if i < 5 else f"198.51.100.{i}"
            r = client.post(
                "/login/",
                data={"username": "staff", "password": f"wrong{i}"},
                headers={"X-Forwarded-For": address},
            )
            assert r.status_code == 401
        samples = scrape(server)
        assert value(samples, "auth_failed_logins_total") == 7
        assert value(samples, "auth_failed_logins_max_per_address") == 5
        assert not any("203.0.113.9" in str(labels) for (_, labels) in samples)

        # Anonymous: health status only, no details; metrics refused without token.
        public = client.get("/monitoring/health").json()
        assert set(public) == {"status"}
        assert client.get("/monitoring/metrics").status_code == 401
        assert (
            client.get("/monitoring/security", headers={"Accept": "application/json"}).status_code
            == 401
        )

    with httpx.Client(base_url=server.url, timeout=20) as plain:
        assert (
            plain.post("/login/", data={"username": "plain", "password": "plain-pw"}).status_code
            == 200
        )
        assert plain.get("/monitoring/security").status_code == 403
        assert plain.get("/monitoring/").status_code == 403
        assert plain.get("/monitoring/metrics").status_code == 401

    with httpx.Client(base_url=server.url, timeout=20) as staff:
        assert (
            staff.post("/login/", data={"username": "staff", "password": "staff-pw"}).status_code
            == 200
        )
        top = staff.get("/monitoring/security").json()["failed_logins_by_address"]
        assert top[0] == {"address": "203.0.113.9", "count": 5}
        assert len(top) == 3
        page = staff.get("/monitoring/")
        assert page.status_code == 200
        assert "Slowest endpoints" in page.text
        details = staff.get("/monitoring/health").json()
        assert details["checks"]["db-default:responseTime"][0]["status"] == "pass"
        assert staff.get("/monitoring/metrics").status_code == 200
        samples = scrape(server)
        assert value(samples, "auth_staff_logins_total") == 1
