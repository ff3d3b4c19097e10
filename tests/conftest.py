"""Shared test fixtures.

Tests that need a real service (PostgreSQL, Redis, ...) call
``require_service``: it skips when the service is unreachable on a developer
machine, but fails when ``WATCHKEEPER_REQUIRE_SERVICES=1`` (as CI sets), so
a service that is down can never turn CI green by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

REQUIRE_SERVICES = os.environ.get("WATCHKEEPER_REQUIRE_SERVICES") == "1"


def require(condition: bool, reason: str) -> None:
    """Skip (or fail under WATCHKEEPER_REQUIRE_SERVICES=1) unless ``condition``."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service or tool missing: {reason}")
    pytest.skip(reason)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, host: str = "127.0.0.1", port: int = 0) -> None:
    """Require a TCP service: ``require_service("redis", port=6379)``."""
    require(port_open(host, port), f"{name} not reachable at {host}:{port}")


def require_tool(tool: str) -> str:
    """Require an executable on PATH (e.g. promtool) and return its path."""
    path = shutil.which(tool)
    require(path is not None, f"{tool} not installed")
    assert path is not None
    return path


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated data directory; the default store path points into it."""
    monkeypatch.setenv("WATCHKEEPER_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("WATCHKEEPER_CONFIG", raising=False)
    return tmp_path


# -- throwaway servers (issue 6: service collectors and health checks) ---------


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def spare_redis(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A private redis-server on a free port, killed at the end; yields (process, port)."""
    import subprocess

    import redis as redis_py

    binary = require_tool("redis-server")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis_py.Redis(port=port)
    try:
        for _ in range(200):  # wait for it to accept connections (bounded)
            try:
                client.ping()
                break
            except redis_py.ConnectionError:
                if proc.poll() is not None:
                    pytest.fail("redis-server exited at start")
                import time

                time.sleep(0.02)
        yield proc, port
    finally:
        client.close()
        proc.kill()
        proc.wait()
