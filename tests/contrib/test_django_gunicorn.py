"""The shop under a real gunicorn with 4 sync workers, PostgreSQL and Redis behind it.

Exact counts across workers for a known mix of requests (5xx and slow ones
included), through worker recycling (``--max-requests``) and a SIGKILLed
worker; status classes; route patterns as labels; query counts; cache hits
and misses; failed logins without addresses in labels; staff-only pages.
"""

from __future__ import annotations

import os
import random
import signal
import uuid
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contrib.conftest import Server, gunicorn, shop_env

pytestmark = [pytest.mark.services, pytest.mark.slow]

TOKEN = {"Authorization": "Bearer scrape-token"}


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(server: Server) -> Samples:
    response = httpx.get(server.url + "/monitoring/metrics", headers=TOKEN, timeout=10)
    assert response.status_code == 200, response.text
    out: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def workers(server: Server) -> list[psutil.Process]:
    return psutil.Process(server.proc.pid).children()


@pytest.fixture
def served(shop: Path, shop_db: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    metrics_dir = tmp_path / "metrics"
    env = shop_env(shop, shop_db, metrics_dir)
    server = gunicorn(shop, env, 4, "--max-requests", "25")
    try:
        yield server, metrics_dir
    finally:
        server.stop()


def total_requests(samples: Samples) -> float:
    return sum(v for (n, _), v in samples.items() if n == "http_requests_total")


def kill_a_worker_that_counted(server: Server, client: httpx.Client) -> int:
    """SIGKILL a live worker that has answered (and so counted) at least one request.

    /pid/ is asked until a worker answers that is still alive (with
    ``--max-requests`` the one that answered may be recycling): that answer
    is itself a counted request of the victim. Returns the /pid/ requests made.
    """
    asked = 0
    while True:
        answered = int(client.get("/pid/").text)
        asked += 1
        if answered in {p.pid for p in workers(server)}:
            break
    victim = psutil.Process(answered)
    os.kill(victim.pid, signal.SIGKILL)
    psutil.wait_procs([victim], timeout=10)
    return asked


#: The known mix: request kind -> how many (shuffled with a fixed seed).
MIX = {"item": 80, "boom": 12, "missing": 10, "slow": 4, "cache": 30, "pid": 14}
CACHE_KEYS = 6  # distinct keys over the 30 cache requests: 6 misses, 24 hits


def test_exact_counts_across_recycled_and_killed_workers(served) -> None:  # type: ignore[no-untyped-def]
    server, metrics_dir = served
    kinds = [kind for kind, n in MIX.items() for _ in range(n)]
    random.Random(8).shuffle(kinds)
    run = uuid.uuid4().hex[:8]  # cache keys of this run only (Redis outlives the server)
    done = dict.fromkeys(MIX, 0)
    generations: set[int] = set()  # every worker process seen serving
    killed_at = len(kinds) // 2
    with httpx.Client(base_url=server.url, timeout=20) as client:
        for i, kind in enumerate(kinds):
            if i % 5 == 0:  # a worker lives for 25 of its own requests: none is missed
                generations |= {p.pid for p in workers(server)}
            if i == killed_at:
                done["pid"] += kill_a_worker_that_counted(server, client)
                # Everything answered so far, the victim's requests included, is still counted.
                assert total_requests(scrape(server)) == sum(done.values())
            if kind == "item":
                assert client.get(f"/items/{i}/").status_code == 200
            elif kind == "boom":
                assert client.get("/boom/").status_code == 500
            elif kind == "missing":
                assert client.get(f"/no/such/page/{i}").status_code == 404
            elif kind == "slow":
                assert client.get("/slow/").status_code == 200
            elif kind == "cache":
                assert client.get(f"/cache/{run}-{done['cache'] % CACHE_KEYS}/").status_code == 200
            else:
                assert client.get("/pid/").status_code == 200
            done[kind] += 1
    n = sum(done.values())
    assert n == len(kinds) + done["pid"] - MIX["pid"]
    # 4 workers recycled every 25 requests plus a SIGKILL: N / 25 + 1 worker processes at least.
    assert len(generations) >= n // 25 + 1

    samples = scrape(server)
    # Exactly N, however many workers came and went (the scrapes are not counted).
    assert total_requests(samples) == n

    def requests(route: str, code: str) -> float:
        return value(samples, "http_requests_total", method="GET", route=route, code=code)

    assert requests("/items/<int:pk>/", "2xx") == done["item"]
    assert requests("/boom/", "5xx") == done["boom"]
    assert requests("<unmatched>", "4xx") == done["missing"]
    assert requests("/slow/", "2xx") == done["slow"]
    assert requests("/cache/<str:key>/", "2xx") == done["cache"]
    assert requests("/pid/", "2xx") == done["pid"]
    # Status classes: only 2xx, 4xx (the unmatched paths) and 5xx (/boom/).
    by_code: dict[str, float] = {}
    for (name, labels), v in samples.items():
        if name == "http_requests_total":
            code = dict(labels)["code"]
            by_code[code] = by_code.get(code, 0) + v
    assert by_code == {
        "2xx": n - done["boom"] - done["missing"],
        "4xx": done["missing"],
        "5xx": done["boom"],
    }
    # Raw paths never become labels.
    assert not any("/items/1" in str(labels) or run in str(labels) for (_, labels) in samples)
    # Histograms agree with the counters.
    assert (
        value(
            samples, "http_request_duration_seconds_count", method="GET", route="/items/<int:pk>/"
        )
        == done["item"]
    )
    assert (
        value(
            samples, "http_request_duration_seconds_bucket", method="GET", route="/slow/", le="0.1"
        )
        == 0
    )
    assert value(samples, "http_slow_requests_total", method="GET", route="/slow/") == done["slow"]
    assert value(samples, "http_exceptions_total", type="ValueError") == done["boom"]
    # Three PostgreSQL queries per item request, none elsewhere.
    assert value(samples, "django_db_queries_total", alias="default") == 3 * done["item"]
    assert (
        value(samples, "django_db_queries_per_request_bucket", route="/items/<int:pk>/", le="3.0")
        == done["item"]
    )
    assert (
        value(samples, "django_db_queries_per_request_bucket", route="/items/<int:pk>/", le="2.0")
        == 0
    )
    assert (
        value(samples, "django_db_queries_per_request_bucket", route="/cache/<str:key>/", le="0.0")
        == done["cache"]
    )
    # Redis is shared by the workers: the first get of each key misses, every later one hits,
    # whichever worker served it.
    assert value(samples, "cache_misses_total", alias="default") == CACHE_KEYS
    assert value(samples, "cache_hits_total", alias="default") == done["cache"] - CACHE_KEYS
    # Nobody is mid-request, dead workers' gauges are gone.
    assert value(samples, "http_requests_in_progress") == 0
    # Dead workers' files were folded into archives: no file per worker ever started.
    live = {p.pid for p in workers(server)}
    counter_files = [p.name for p in metrics_dir.glob("counter_*.wkdb")]
    assert "counter_archive.wkdb" in counter_files
    assert len(counter_files) <= len(live) + 2  # + archive + the master's (if it counted)
    # A second scrape (after compaction) gives the same numbers.
    again = scrape(server)
    assert total_requests(again) == n
    assert value(again, "cache_hits_total", alias="default") == done["cache"] - CACHE_KEYS


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
        hits_before = value(samples, "cache_hits_total", alias="default")
        public = client.get("/monitoring/health").json()
        assert set(public) == {"status"}
        # The cache health check's own get is not counted as site traffic.
        assert value(scrape(server), "cache_hits_total", alias="default") == hits_before
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
