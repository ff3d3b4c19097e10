"""Async views under a real ASGI server (uvicorn, 2 worker processes)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from contrib.conftest import shop_env, uvicorn
from contrib.test_django_gunicorn import scrape, value

pytestmark = [pytest.mark.services, pytest.mark.slow]


def test_async_views_counted_with_their_queries(shop: Path, shop_db: str, tmp_path: Path) -> None:
    env = shop_env(shop, shop_db, tmp_path / "metrics")
    server = uvicorn(shop, env, 2)
    try:
        with httpx.Client(base_url=server.url, timeout=20) as client:
            for i in range(40):
                r = client.get(f"/async/{i}/")
                assert r.status_code == 200
                assert r.json() == {"pk": i}
            for i in range(10):
                assert client.get(f"/items/{i}/").status_code == 200
            assert client.get("/boom/").status_code == 500
        samples = scrape(server)
    finally:
        server.stop()
    assert (
        value(samples, "http_requests_total", method="GET", route="/async/<int:pk>/", code="2xx")
        == 40
    )
    assert (
        value(samples, "http_requests_total", method="GET", route="/items/<int:pk>/", code="2xx")
        == 10
    )
    assert value(samples, "http_requests_total", method="GET", route="/boom/", code="5xx") == 1
    # Queries made in sync_to_async threads are credited to the async request.
    assert (
        value(samples, "django_db_queries_per_request_bucket", route="/async/<int:pk>/", le="3.0")
        == 40
    )
    assert (
        value(samples, "django_db_queries_per_request_bucket", route="/async/<int:pk>/", le="2.0")
        == 0
    )
    assert value(samples, "django_db_queries_total", alias="default") == 150
    assert value(samples, "http_requests_in_progress") == 0
