"""The health endpoints over real PostgreSQL and Redis, through the ASGI app."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from watchkeeper.config.health import HealthConfig
from watchkeeper.web.health import create_health_app
from wk_testing import free_port, require_service

pytestmark = pytest.mark.services


def client(config: dict[str, object], details: bool = False) -> httpx.AsyncClient:
    app = create_health_app(HealthConfig.model_validate(config), lambda _: details)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_healthy_components_pass_and_details_stay_private() -> None:
    require_service("postgresql", port=5432)
    require_service("redis", port=6379)
    config = {
        "checks": [
            {"name": "database", "type": "postgres", "database": "test"},
            {"name": "cache", "type": "redis"},
        ]
    }
    async with client(config) as c:
        r = await c.get("/health")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/health+json"
        assert r.json() == {"status": "pass"}
        assert (await c.get("/readyz")).json() == {"status": "pass"}
        assert (await c.get("/health/cache")).json() == {"status": "pass"}
        assert (await c.get("/livez")).status_code == 200
        missing = await c.get("/health/nope")
        assert missing.status_code == 404
    async with client(config, details=True) as c:
        body = (await c.get("/health")).json()
        entry = body["checks"]["database:responseTime"][0]
        assert entry["componentType"] == "datastore"
        assert entry["status"] == "pass"
        assert entry["observedUnit"] == "ms"
        assert entry["observedValue"] > 0
        assert entry["time"].endswith("Z")


async def test_dead_redis_fails_with_503_and_a_reason(
    spare_redis: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = spare_redis
    config = {"cache": 0, "checks": [{"name": "cache", "type": "redis", "port": port}]}
    async with client(config, details=True) as c:
        assert (await c.get("/health")).status_code == 200
        proc.kill()
        proc.wait()
        r = await c.get("/health/cache")
        assert r.status_code == 503
        entry = r.json()["checks"]["cache:status"][0]
        assert entry["output"] == f"connection refused to 127.0.0.1:{port}"
        # Liveness does not depend on the components.
        assert (await c.get("/livez")).status_code == 200


async def test_database_user_without_rights_fails_the_check() -> None:
    require_service("postgresql", port=5432)
    psycopg = pytest.importorskip("psycopg")
    admin = psycopg.connect(host="127.0.0.1", user="postgres", dbname="test", autocommit=True)
    admin.execute("DROP ROLE IF EXISTS wk_health_nologin")
    admin.execute("CREATE ROLE wk_health_nologin NOLOGIN")
    try:
        config = {
            "checks": [
                {
                    "name": "database",
                    "type": "postgres",
                    "database": "test",
                    "user": "wk_health_nologin",
                }
            ]
        }
        async with client(config, details=True) as c:
            r = await c.get("/health")
        assert r.status_code == 503
        output = r.json()["checks"]["database:status"][0]["output"]
        assert 'role "wk_health_nologin" is not permitted to log in' in output
    finally:
        admin.execute("DROP ROLE IF EXISTS wk_health_nologin")
        admin.close()


async def test_non_critical_dead_port_warns_but_stays_200() -> None:
    port = free_port()
    config = {
        "checks": [
            {"name": "disk", "type": "disk"},
            {
                "name": "legacy",
                "type": "probe",
                "critical": False,
                "probe": {"type": "tcp", "target": f"127.0.0.1:{port}"},
            },
        ]
    }
    async with client(config, details=True) as c:
        r = await c.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "warn"
    assert (
        r.json()["checks"]["legacy:status"][0]["output"]
        == f"connection refused to 127.0.0.1:{port}"
    )
