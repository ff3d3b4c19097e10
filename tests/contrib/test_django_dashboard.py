"""The full watchkeeper dashboard inside the shop, behind Django's login (real gunicorn).

Staff see the overview and query the API through ``/monitoring/dashboard/``
with their Django session only; plain users get 403, anonymous browsers
Django's login page; state changes need the embedded page's CSRF token.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from contrib.conftest import gunicorn, shop_env
from watchkeeper.model import Labels, Sample
from watchkeeper.store import open_store

pytestmark = [pytest.mark.services, pytest.mark.slow]


def login(url: str, user: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    r = client.post("/login/", data={"username": user, "password": password})
    assert r.status_code == 200
    return client


def post_silence_with_page_token(client: httpx.Client, page: str) -> httpx.Response:
    """An (empty) silence sent with the CSRF token the embedded page carries."""
    token = re.search(r'<meta name="csrf-token" content="([0-9a-f]{64})">', page)
    assert token is not None
    return client.post(
        "/monitoring/dashboard/api/wk/v1/silences",
        json={},
        headers={"X-CSRF-Token": token.group(1)},
    )


def test_staff_dashboard_with_django_login(shop: Path, shop_db: str, tmp_path: Path) -> None:
    store_path = tmp_path / "wk.db"
    now = int(time.time() * 1000)
    # The monitor's part (``manage.py watchkeeper run``): a store with data in it.
    with open_store(store_path) as store:
        store.append(
            [
                Sample("shop_orders_total", Labels({"shop": "main"}), now - 60_000 + i * 15_000, i)
                for i in range(4)
            ]
        )
    env = shop_env(shop, shop_db, tmp_path / "metrics", SHOP_STORE=str(store_path))
    server = gunicorn(shop, env, 2)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as anonymous:
            r = anonymous.get("/monitoring/dashboard/")
            assert r.status_code == 302
            assert r.headers["location"].startswith("/login/?next=/monitoring/dashboard/")
            assert anonymous.get(
                "/monitoring/dashboard/api/v1/query", params={"query": "shop_orders_total"}
            ).status_code in (302, 401)

        plain = login(server.url, "plain", "plain-pw")
        assert plain.get("/monitoring/dashboard/").status_code == 403
        assert (
            plain.get(
                "/monitoring/dashboard/api/v1/query", params={"query": "shop_orders_total"}
            ).status_code
            == 403
        )
        plain.close()

        staff = login(server.url, "staff", "staff-pw")
        page = staff.get("/monitoring/dashboard/")
        assert page.status_code == 200, page.text[:2000]
        assert "django:staff" in page.text  # who the dashboard thinks is logged in
        # Links, assets and scripts point under the include, not at the site's root.
        assert 'href="/monitoring/dashboard/alerts"' in page.text
        assert 'href="/alerts"' not in page.text
        assert 'data-live="0"' in page.text
        script = re.search(r'src="(/monitoring/dashboard/static/dashboard\.js[^"]*)"', page.text)
        assert script is not None
        js = staff.get(script.group(1))
        assert js.status_code == 200
        assert '"/monitoring/dashboard/api/v1/query_range' in js.text

        q = staff.get("/monitoring/dashboard/api/v1/query", params={"query": "shop_orders_total"})
        assert q.status_code == 200, q.text
        body = q.json()
        assert body["status"] == "success"
        [series] = body["data"]["result"]
        assert series["metric"] == {"__name__": "shop_orders_total", "shop": "main"}
        assert float(series["value"][1]) == 3.0

        me = staff.get("/monitoring/dashboard/api/wk/v1/me")
        assert me.status_code == 200
        assert me.json() == {"username": "django:staff", "role": "operator", "via": "session"}

        # A state change without the page's CSRF token is refused by the embedded app.
        refused = staff.post("/monitoring/dashboard/api/wk/v1/silences", json={})
        assert refused.status_code == 403
        passed = post_silence_with_page_token(staff, page.text)
        # Past the CSRF check: an empty silence is invalid (or, with no alerts.db yet, 501).
        assert passed.status_code in (400, 422, 501), passed.text
        # The scrape of the site's own metrics did not count the dashboard requests.
        metrics = staff.get("/monitoring/metrics").text
        assert "/monitoring/dashboard" not in metrics
        staff.close()

        # Staff outside operator_group ("Ops") see the dashboard but cannot act.
        watcher = login(server.url, "watcher", "watcher-pw")
        page = watcher.get("/monitoring/dashboard/alerts")
        assert page.status_code == 200
        me = watcher.get("/monitoring/dashboard/api/wk/v1/me").json()
        assert me == {"username": "django:watcher", "role": "viewer", "via": "session"}
        denied = post_silence_with_page_token(watcher, page.text)
        assert denied.status_code == 403, denied.text
        watcher.close()
    finally:
        server.stop()
