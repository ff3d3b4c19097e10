"""Celery queues and workers: a real worker on a throwaway Redis broker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from watchkeeper.collect.celery import CeleryCollector, _celery_app, celery_workers
from watchkeeper.health.base import Status
from watchkeeper.health.checks import CeleryCheck
from watchkeeper.health.runner import HealthRunner

pytest.importorskip("celery")
pytestmark = [pytest.mark.services, pytest.mark.slow]

TASKS = """
import os
from celery import Celery
app = Celery("wk_test", broker=os.environ["WK_BROKER"])
@app.task
def add(x, y):
    return x + y
"""


@pytest.fixture
def broker(spare_redis: tuple[subprocess.Popen[bytes], int]) -> str:
    return f"redis://127.0.0.1:{spare_redis[1]}/0"


@pytest.fixture
def worker(broker: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    (tmp_path / "wk_tasks.py").write_text(TASKS)
    env = {**os.environ, "WK_BROKER": broker, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "wk_tasks",
            "worker",
            "--pool=solo",
            "-n",
            "wk1@localhost",
            "-Q",
            "work",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "warning",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    app = _celery_app(broker, 2.0)
    try:
        deadline = time.monotonic() + 60
        while not celery_workers(app, 0.5, 1):  # the ping itself waits: no sleep needed
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("celery worker did not start")
        yield proc
    finally:
        app.close()
        proc.kill()
        proc.wait()


def test_queue_length_and_workers(broker: str, worker: subprocess.Popen[bytes]) -> None:
    app = _celery_app(broker, 2.0)
    try:
        for i in range(4):  # a queue no worker consumes keeps its messages
            app.send_task("wk_tasks.add", (i, i), queue="backlog")
    finally:
        app.close()
    c = CeleryCollector("celery:main", broker, queues=["backlog", "work"], worker_timeout=1.0)
    try:
        samples = c.collect(0)
    finally:
        c.close()
    lengths = {s.labels.get("queue"): s.value for s in samples if s.name == "celery_queue_length"}
    assert lengths == {"backlog": 4.0, "work": 0.0}
    online = [s.value for s in samples if s.name == "celery_workers_online"]
    assert online == [1.0]
    up = {s.labels.get("worker") for s in samples if s.name == "celery_worker_up"}
    assert up == {"wk1@localhost"}
    active = [s for s in samples if s.name == "celery_worker_tasks_active"]
    assert active
    assert active[0].value == 0


def test_health_check_passes_then_fails_when_the_worker_dies(
    broker: str, worker: subprocess.Popen[bytes]
) -> None:
    check = CeleryCheck("celery", broker, min_workers=1, timeout=2.0)
    runner = HealthRunner([check], cache_seconds=0)
    try:
        first = asyncio.run(runner.report())
        assert first.status is Status.PASS
        assert first.results["celery"].observed_value == 1
        worker.kill()
        worker.wait()
        second = asyncio.run(runner.report())
        assert second.status is Status.FAIL
        assert second.results["celery"].output == "0 worker(s) answered, 1 required"
    finally:
        runner.close()
