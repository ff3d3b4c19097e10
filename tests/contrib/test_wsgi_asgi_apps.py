"""Flask under gunicorn (2 sync workers), FastAPI and Starlette under uvicorn (2 workers).

The same metric names as the Django middleware: exact counts summed over
the workers, route templates (never raw paths), exceptions by type,
streaming responses counted once with their full size, slow requests,
excluded paths and the scrape itself not counted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contrib.apps_project import write_apps
from contrib.conftest import Server, start_server
from wk_testing import free_port

pytestmark = [pytest.mark.slow]

BIN = Path(sys.executable).parent
TOKEN = {"Authorization": "Bearer scrape-token"}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def apps_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_apps(tmp_path_factory.mktemp("apps"))


def start(args: list[str], cwd: Path, tmp: Path, port: int) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WATCHKEEPER_", "PROMETHEUS"))}
    env.update(
        PYTHONPATH=str(cwd),
        WATCHKEEPER_METRICS_DIR=str(tmp / "metrics"),
        RENDEZVOUS_DIR=str(tmp / "rendezvous"),
    )
    (tmp / "rendezvous").mkdir()
    return start_server(args, cwd, env, port, tmp / "server.log", ready_path="/healthz")


def scrape(server: Server) -> Samples:
    response = httpx.get(server.url + "/metrics", headers=TOKEN, timeout=10)
    assert response.status_code == 200, response.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


@pytest.fixture
def flask_server(apps_dir: Path, tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    args = [
        str(BIN / "gunicorn"),
        "flask_app:app",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--worker-class",
        "sync",
    ]
    server = start(args, apps_dir, tmp_path, port)
    yield server
    server.stop()


def test_flask_under_gunicorn_two_workers(flask_server: Server) -> None:
    server = flask_server
    with ThreadPoolExecutor(2) as pool:
        # Two requests held until both arrived: each sync worker serves one.
        pids = set(
            pool.map(lambda _: httpx.get(server.url + "/rendezvous/2", timeout=20).text, "ab")
        )
    assert len(pids) == 2

    def get(path: str) -> httpx.Response:
        return httpx.get(server.url + path, timeout=20)

    with ThreadPoolExecutor(4) as pool:
        items = list(pool.map(lambda i: get(f"/items/{i}"), range(60)))
    assert all(r.status_code == 200 for r in items)
    with httpx.Client(base_url=server.url, timeout=20) as client:
        for i in range(4):
            assert client.post(f"/orders/o{i}/pay").status_code == 500
        for _ in range(3):
            assert client.get("/forbidden").status_code == 403
        for i in range(5):
            assert client.get(f"/no/such/{i}").status_code == 404
        for _ in range(2):
            assert client.get("/slow").status_code == 200
        for _ in range(3):
            r = client.get("/stream")
            assert r.text == "0123456789" * 5
        for _ in range(5):
            assert client.get("/healthz").status_code == 200  # excluded
        assert client.get("/metrics").status_code == 401  # no token

    samples = scrape(server)
    req = "http_requests_total"
    assert value(samples, req, method="GET", route="/rendezvous/<int:n>", code="2xx") == 2
    assert value(samples, req, method="GET", route="/items/<int:pk>", code="2xx") == 60
    assert value(samples, req, method="POST", route="/orders/<string:ref>/pay", code="5xx") == 4
    assert value(samples, req, method="GET", route="/forbidden", code="4xx") == 3
    assert value(samples, req, method="GET", route="<unmatched>", code="4xx") == 5
    assert value(samples, req, method="GET", route="/slow", code="2xx") == 2
    assert value(samples, req, method="GET", route="/stream", code="2xx") == 3
    assert total(samples, req) == 2 + 60 + 4 + 3 + 5 + 2 + 3  # not /healthz, not /metrics
    assert not any("/items/1" in str(labels) for (_, labels) in samples)
    # Exceptions by class: Flask's own 500 handling does not hide them; abort(403) is no exception.
    assert value(samples, "http_exceptions_total", type="flask_app.PaymentDeclined") == 4
    assert total(samples, "http_exceptions_total") == 4
    assert value(samples, "http_slow_requests_total", method="GET", route="/slow") == 2
    dur = "http_request_duration_seconds_bucket"
    assert value(samples, dur, method="GET", route="/slow", le="0.1") == 0
    assert value(samples, dur, method="GET", route="/slow", le="+Inf") == 2
    # The streamed body, counted once with all its bytes.
    assert value(samples, "http_response_size_bytes_count", method="GET", route="/stream") == 3
    assert value(samples, "http_response_size_bytes_sum", method="GET", route="/stream") == 150
    assert value(samples, "http_requests_in_progress") == 0


@pytest.fixture(params=["fastapi_app", "starlette_app"])
def asgi_server(
    request: pytest.FixtureRequest, apps_dir: Path, tmp_path: Path
) -> Iterator[tuple[Server, str]]:
    port = free_port()
    args = [
        str(BIN / "uvicorn"),
        f"{request.param}:app",
        "--port",
        str(port),
        "--workers",
        "2",
        "--log-level",
        "warning",
    ]
    server = start(args, apps_dir, tmp_path, port)
    yield server, request.param
    server.stop()


def test_fastapi_and_starlette_under_uvicorn_two_workers(asgi_server: tuple[Server, str]) -> None:
    server, module = asgi_server

    async def drive() -> None:
        import asyncio

        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            got = await asyncio.gather(*(client.get(f"/api/items/{i}") for i in range(80)))
            assert [r.json()["id"] for r in got] == list(range(80))
            for i in range(3):
                # uvicorn drops the connection after an app exception: a fresh one each time.
                r = await client.post(f"/api/orders/o{i}/pay", headers={"Connection": "close"})
                assert r.status_code == 500
            for i in range(4):
                assert (await client.get(f"/nope/{i}")).status_code == 404
            for name in ("ann", "bob"):
                assert (await client.get(f"/legacy/users/{name}")).text == name
            slow = await asyncio.gather(*(client.get("/slow") for _ in range(2)))
            assert all(r.status_code == 200 for r in slow)
            for _ in range(3):
                assert (await client.get("/stream")).text == "0123456789" * 5
            for _ in range(5):
                assert (await client.get("/healthz")).status_code == 200

    import asyncio

    asyncio.run(drive())
    samples = scrape(server)
    req = "http_requests_total"
    assert value(samples, req, method="GET", route="/api/items/{item_id}", code="2xx") == 80
    assert value(samples, req, method="POST", route="/api/orders/{ref}/pay", code="5xx") == 3
    assert value(samples, req, method="GET", route="<unmatched>", code="4xx") == 4
    assert value(samples, req, method="GET", route="/legacy/users/{name}", code="2xx") == 2
    assert value(samples, req, method="GET", route="/slow", code="2xx") == 2
    assert value(samples, req, method="GET", route="/stream", code="2xx") == 3
    assert total(samples, req) == 80 + 3 + 4 + 2 + 2 + 3
    assert not any("/api/items/1" in str(labels) for (_, labels) in samples)
    assert value(samples, "http_exceptions_total", type=f"{module}.PaymentDeclined") == 3
    assert total(samples, "http_exceptions_total") == 3
    assert value(samples, "http_slow_requests_total", method="GET", route="/slow") == 2
    assert value(samples, "http_response_size_bytes_count", method="GET", route="/stream") == 3
    assert value(samples, "http_response_size_bytes_sum", method="GET", route="/stream") == 150
    assert value(samples, "http_requests_in_progress") == 0
