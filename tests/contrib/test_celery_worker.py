"""A real Celery worker (prefork pool, concurrency 2) on a private Redis broker.

Counts by outcome are exact (succeeded, failed, retried, rejected, revoked),
summed over the pool's child processes and the worker's main process;
queue wait is recorded for every task that ran; the worker's heartbeat is
visible while it runs and gone once it stopped.
"""

from __future__ import annotations

import importlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from watchkeeper.contrib.exposition import render
from watchkeeper.contrib.metrics import Registry

pytestmark = [pytest.mark.services, pytest.mark.slow]

BIN = Path(sys.executable).parent

TASKS = """
import os
import time

from celery import Celery
from celery.exceptions import Reject

from watchkeeper.contrib.celery import install

app = Celery("wk_celery_tasks", broker=os.environ["WK_BROKER"], backend=os.environ["WK_BROKER"])
app.conf.task_default_queue = "wk-test"
app.conf.worker_prefetch_multiplier = 1
app.conf.broker_connection_retry_on_startup = True
install(app, heartbeat=0.5)


@app.task
def add(x, y):
    return x + y


@app.task
def nap(seconds):
    time.sleep(seconds)
    return seconds


@app.task
def fail():
    raise ValueError("card declined")


@app.task(bind=True, max_retries=5)
def flaky(self, times):
    if self.request.retries < times:
        raise self.retry(countdown=0)
    return self.request.retries


@app.task
def refuse():
    raise Reject("not today", requeue=False)
"""

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def read(metrics_dir: Path) -> Samples:
    body, _ = render(Registry(metrics_dir))
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def worker(spare_redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:  # type: ignore[no-untyped-def]
    _, port = spare_redis
    broker = f"redis://127.0.0.1:{port}/0"
    (tmp_path / "wk_celery_tasks.py").write_text(textwrap.dedent(TASKS))
    metrics_dir = tmp_path / "metrics"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WATCHKEEPER_", "PROMETHEUS"))}
    env.update(PYTHONPATH=str(tmp_path), WK_BROKER=broker, WATCHKEEPER_METRICS_DIR=str(metrics_dir))
    name = f"w1@{socket.gethostname()}"
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            str(BIN / "celery"),
            "-A",
            "wk_celery_tasks",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            "2",
            "--hostname",
            name,
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    # The test process publishes: it imports the same module, so its messages carry
    # the publication header (and it must not write metrics into the worker's directory).
    monkeypatch.setenv("WK_BROKER", broker)
    monkeypatch.syspath_prepend(str(tmp_path))
    tasks = importlib.import_module("wk_celery_tasks")
    try:
        deadline = time.monotonic() + 60
        while not tasks.app.control.ping(destination=[name], timeout=1.0):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("worker did not start:\n" + (tmp_path / "worker.log").read_text())
        yield tasks, proc, metrics_dir, name, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        tasks.app.close()
        sys.modules.pop("wk_celery_tasks", None)


def test_task_outcomes_runtime_wait_and_heartbeat(worker) -> None:  # type: ignore[no-untyped-def]
    import redis

    tasks, proc, metrics_dir, name, port = worker
    started = time.time()
    samples = read(metrics_dir)
    beat = value(samples, "celery_worker_heartbeat_timestamp_seconds", worker=name)
    assert beat > started - 60  # set at worker_ready, refreshed every 0.5 s

    # A message for a task the worker does not know, and one that rejects itself.
    unknown = tasks.app.send_task("wk.no_such_task", queue="wk-test")
    refused = tasks.refuse.delay()
    # Revoke an id, then publish a task with it: the worker drops it unrun.
    doomed = str(uuid.uuid4())
    tasks.app.control.revoke(doomed, reply=True, timeout=5, destination=[name])
    revoked = tasks.add.apply_async((0, 0), task_id=doomed)

    sums = [tasks.add.delay(i, i) for i in range(6)]
    failures = [tasks.fail.delay() for _ in range(2)]
    flaky = tasks.flaky.delay(2)
    assert [r.get(timeout=30) for r in sums] == [2 * i for i in range(6)]
    for r in failures:
        assert isinstance(r.get(timeout=30, propagate=False), ValueError)
    assert flaky.get(timeout=30) == 2
    naps = [tasks.nap.delay(0.3) for _ in range(4)]
    assert [r.get(timeout=30) for r in naps] == [0.3] * 4
    assert revoked.get(timeout=30, propagate=False) is not None  # TaskRevokedError
    refused.get(timeout=30, propagate=False)  # Celery stores a Reject as a failure
    unknown.get(timeout=30, propagate=False)  # and an unregistered task as NotRegistered

    # Everything was received and finished: nothing queued, reserved or running.
    broker = redis.Redis(port=port)
    assert broker.llen("wk-test") == 0
    inspect = tasks.app.control.inspect(destination=[name], timeout=5)
    assert inspect.active() == {name: []}
    assert inspect.reserved() == {name: []}

    samples = read(metrics_dir)
    t = "celery_tasks_total"
    add, fail_, flaky_, nap, refuse = (
        f"wk_celery_tasks.{n}" for n in ("add", "fail", "flaky", "nap", "refuse")
    )
    assert value(samples, t, task=add, outcome="succeeded") == 6
    assert value(samples, t, task=fail_, outcome="failed") == 2
    assert value(samples, t, task=flaky_, outcome="retried") == 2
    assert value(samples, t, task=flaky_, outcome="succeeded") == 1
    assert value(samples, t, task=nap, outcome="succeeded") == 4
    assert value(samples, t, task=refuse, outcome="rejected") == 1
    assert value(samples, t, task="<unknown>", outcome="rejected") == 1
    assert value(samples, t, task=add, outcome="revoked") == 1
    assert sum(v for (n, _), v in samples.items() if n == t) == 6 + 2 + 3 + 4 + 1 + 1 + 1

    # Runtime and queue wait: one observation per run (retries are runs), none for the
    # revoked and unknown messages.
    runs = 6 + 2 + 3 + 4 + 1
    rt = "celery_task_runtime_seconds_count"
    wait = "celery_task_queue_wait_seconds_count"
    assert sum(v for (n, _), v in samples.items() if n == rt) == runs
    assert sum(v for (n, _), v in samples.items() if n == wait) == runs
    assert value(samples, "celery_task_runtime_seconds_bucket", task=nap, le="0.25") == 0
    # Four 0.3 s naps on two processes: at least two waited for a free process.
    quick = value(samples, "celery_task_queue_wait_seconds_bucket", task=nap, le="0.1")
    assert value(samples, wait, task=nap) - quick >= 2
    assert sum(v for (n, _), v in samples.items() if n == "celery_tasks_in_progress") == 0
    assert value(samples, "celery_worker_heartbeat_timestamp_seconds", worker=name) >= beat

    # Warm shutdown: the heartbeat goes with the worker, the counts stay.
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    after = read(metrics_dir)
    assert ("celery_worker_heartbeat_timestamp_seconds", (("worker", name),)) not in after
    assert value(after, t, task=add, outcome="succeeded") == 6
