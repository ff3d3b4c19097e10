"""Helpers shared by the tests: service requirements and free ports.

Tests that need a real service (PostgreSQL, Redis, ...) call
``require_service``: it skips when the service is unreachable on a developer
machine, but fails when ``WATCHKEEPER_REQUIRE_SERVICES=1`` (as CI sets), so
a service that is down can never turn CI green by skipping.

A module of its own (not ``conftest``) so that ``from wk_testing import ...``
always finds it, whichever folder's conftest pytest loaded first.
"""

from __future__ import annotations

import asyncio
import http.server
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

__all__ = [
    "REQUIRE_SERVICES",
    "free_port",
    "port_open",
    "require",
    "require_service",
    "require_tool",
    "self_signed_cert",
    "serve_http",
    "until",
]

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


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for ``localhost`` / ``127.0.0.1`` and its key, made by openssl."""
    openssl = require_tool("openssl")
    key, crt = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(crt), "-days", "30", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return crt, key


async def until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Await a condition the loop makes true (polled; the loop has no event for it)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.005)


def serve_http(
    handler: type[http.server.BaseHTTPRequestHandler], context: ssl.SSLContext | None = None
) -> Iterator[int]:
    """A threaded HTTP(S) server on a free loopback port, for a fixture to ``yield from``."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
