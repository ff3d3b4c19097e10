"""Shared test fixtures.

The helpers that decide between skipping and failing when a service is
missing live in ``wk_testing``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from wk_testing import free_port, require_tool


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated data directory; the default store path points into it."""
    monkeypatch.setenv("WATCHKEEPER_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("WATCHKEEPER_CONFIG", raising=False)
    return tmp_path


# -- throwaway servers (issue 6: service collectors and health checks) ---------


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
