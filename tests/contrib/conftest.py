"""Fixtures: a private PostgreSQL database, the shop project, and real servers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contrib.site_project import REDIS_DB, write_project
from wk_testing import free_port, require_service

PYTHON = sys.executable
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def shop_db() -> Iterator[str]:
    require_service("postgresql", port=5432)
    import psycopg

    name = f"wk_shop_{os.getpid()}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def shop_redis(shop_db: str) -> Iterator[None]:
    """The machine's Redis as the shop's cache; the session's keys are deleted at the end."""
    require_service("redis", port=6379)
    import redis

    client = redis.Redis(port=6379, db=REDIS_DB)
    try:
        yield
    finally:
        keys = list(client.scan_iter(f"{shop_db}:*"))
        if keys:
            client.delete(*keys)
        client.close()


def shop_env(project: Path, db: str, metrics_dir: Path | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WATCHKEEPER_", "PROMETHEUS"))}
    env.update(
        PYTHONPATH=str(project),
        DJANGO_SETTINGS_MODULE="shop.settings",
        SHOP_DB=db,
        SHOP_STORE=str(project / "wk.db"),
        PYTHONUNBUFFERED="1",
    )
    if metrics_dir is not None:
        env["WATCHKEEPER_METRICS_DIR"] = str(metrics_dir)
    env.update(extra)
    return env


def manage(
    project: Path, env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory, shop_db: str, shop_redis: None) -> Path:
    project = write_project(tmp_path_factory.mktemp("shop"))
    env = shop_env(project, shop_db, None)
    done = manage(project, env, "migrate", "--noinput")
    assert done.returncode == 0, done.stderr
    script = (
        "from django.contrib.auth.models import Group, User;"
        "ops = Group.objects.create(name='Ops');"
        "User.objects.create_user('staff', password='staff-pw', is_staff=True).groups.add(ops);"
        "User.objects.create_user('watcher', password='watcher-pw', is_staff=True);"
        "User.objects.create_user('plain', password='plain-pw')"
    )
    done = manage(project, env, "shell", "-c", script)
    assert done.returncode == 0, done.stderr
    return project


class Server:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc = proc
        self.port = port
        self.log = log
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(
    args: list[str],
    cwd: Path,
    env: dict[str, str],
    port: int,
    log: Path,
    *,
    ready_path: str = "/monitoring/livez",
) -> Server:
    """The server started by ``args``, once ``ready_path`` answers (fails the test otherwise)."""
    out = open(log, "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(proc, port, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited at start:\n{log.read_text()[-3000:]}")
        try:
            httpx.get(server.url + ready_path, timeout=1)
            return server
        except httpx.TransportError:
            time.sleep(0.05)  # waiting for the port to open: no event to await
    server.stop()
    pytest.fail(f"server did not start:\n{log.read_text()[-3000:]}")


def gunicorn(project: Path, env: dict[str, str], workers: int, *extra: str) -> Server:
    port = free_port()
    args = [
        str(BIN / "gunicorn"),
        "shop.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        *extra,
    ]
    return start_server(args, project, env, port, project / f"gunicorn-{port}.log")


def uvicorn(project: Path, env: dict[str, str], workers: int) -> Server:
    port = free_port()
    args = [
        str(BIN / "uvicorn"),
        "shop.asgi:application",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    return start_server(args, project, env, port, project / f"uvicorn-{port}.log")
