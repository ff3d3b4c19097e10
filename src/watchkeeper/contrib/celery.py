"""Celery tasks from the inside: counts by outcome, runtime, queue wait, worker heartbeats.

::

    # celery_app.py (imported by the publishers and by the workers)
    from watchkeeper.contrib.celery import install
    install(app)

Metrics (multiprocess-exact like the HTTP ones: the prefork pool's children
each write their own files in ``$WATCHKEEPER_METRICS_DIR``, and a child that
is recycled or killed loses nothing it counted):

- ``celery_tasks_total{task,outcome}``: counter; ``outcome`` is
  ``succeeded``, ``failed``, ``retried`` (each retry), ``rejected``
  (``Reject``, or a message for a task the worker does not know or cannot
  decode: ``task`` is then ``<unknown>``, never the name the message
  claims), ``ignored`` (``Ignore``) or ``revoked``.
- ``celery_task_runtime_seconds{task}``: histogram, ``RUNTIME_BUCKETS``.
- ``celery_task_queue_wait_seconds{task}``: histogram, ``WAIT_BUCKETS``: from
  publication (a timestamp the publisher's ``before_task_publish`` puts in
  the message headers) or from the ETA of a delayed task, to the start in
  the worker. Publishers and workers on different hosts need synchronised
  clocks; a message without the header (published by a process that did
  not call ``install``) is not measured.
- ``celery_tasks_in_progress{task}``: gauge over live processes.
- ``celery_worker_heartbeat_timestamp_seconds{worker}``: gauge, set every
  ``heartbeat`` seconds by each worker's main process; a stopped or killed
  worker's series disappears, a hung one stops advancing
  (``time() - celery_worker_heartbeat_timestamp_seconds > 60``).

Queue lengths and workers answering pings come from the broker, not from
here: the ``celery`` collector of ``watchkeeper run``
(``watchkeeper.collect.celery.CeleryCollector``; ``collector_config(app)``
gives its watchkeeper.yml entry for an app).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Any

from watchkeeper.contrib.app_metrics import shared_registry
from watchkeeper.contrib.metrics import Counter, Gauge, Histogram, Registry

__all__ = [
    "PUBLISHED_HEADER",
    "RUNTIME_BUCKETS",
    "WAIT_BUCKETS",
    "CeleryMetrics",
    "collector_config",
    "install",
]

log = logging.getLogger("watchkeeper.celery")

#: Seconds: 10 ms to 1 h.
RUNTIME_BUCKETS = (
    0.01,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
)
#: Seconds a task waited in the queue: 10 ms to 1 h.
WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
#: The message header carrying the publication time (Unix seconds).
PUBLISHED_HEADER = "watchkeeper_published"
UNKNOWN_TASK = "<unknown>"

_OUTCOMES = {
    "SUCCESS": "succeeded",
    "FAILURE": "failed",
    "RETRY": "retried",
    "REJECTED": "rejected",
    "IGNORED": "ignored",
}


class CeleryMetrics:
    """The families, created on first use in each process (after Django is set up)."""

    def __init__(self, registry: Registry, max_tasks: int = 500) -> None:
        self.registry = registry
        self.tasks: Counter = registry.counter(
            "celery_tasks_total",
            "Tasks finished, by task name and outcome.",
            ("task", "outcome"),
            max_series=max_tasks * 3,
        )
        self.runtime: Histogram = registry.histogram(
            "celery_task_runtime_seconds",
            "Time a task ran in the worker.",
            ("task",),
            RUNTIME_BUCKETS,
            max_series=max_tasks,
        )
        self.wait: Histogram = registry.histogram(
            "celery_task_queue_wait_seconds",
            "Time from publication (or ETA) to the start of the task in a worker.",
            ("task",),
            WAIT_BUCKETS,
            max_series=max_tasks,
        )
        self.in_progress: Gauge = registry.gauge(
            "celery_tasks_in_progress",
            "Tasks running now, over live worker processes.",
            ("task",),
            max_series=max_tasks,
        )
        self.heartbeat: Gauge = registry.gauge(
            "celery_worker_heartbeat_timestamp_seconds",
            "Last heartbeat of each live worker (Unix time).",
            ("worker",),
        )


class _Hooks:
    """The signal receivers of one ``install``; ``started`` maps task id to start time."""

    def __init__(self, registry: Registry | None, heartbeat: float) -> None:
        self._registry = registry
        self._metrics: CeleryMetrics | None = None
        self._lock = threading.Lock()
        self.heartbeat_every = heartbeat
        self.started: dict[str, float] = {}
        self._stop = threading.Event()

    @property
    def metrics(self) -> CeleryMetrics:
        found = self._metrics
        if found is None:
            with self._lock:
                if self._metrics is None:
                    self._metrics = CeleryMetrics(self._registry or shared_registry())
                found = self._metrics
        return found

    # -- publisher side ------------------------------------------------------

    def before_publish(self, sender: Any = None, headers: Any = None, **kw: Any) -> None:
        if isinstance(headers, dict):
            headers[PUBLISHED_HEADER] = time.time()

    # -- in the pool process running the task -----------------------------

    def prerun(self, task_id: str = "", task: Any = None, **kw: Any) -> None:
        now = time.time()
        self.started[task_id] = time.perf_counter()
        name = getattr(task, "name", None) or UNKNOWN_TASK
        m = self.metrics
        m.in_progress.inc(name)
        request = getattr(task, "request", None)
        since = _wait_start(request)
        if since is not None:
            m.wait.observe(name, value=max(0.0, now - since))

    def postrun(self, task_id: str = "", task: Any = None, state: Any = None, **kw: Any) -> None:
        start = self.started.pop(task_id, None)
        name = getattr(task, "name", None) or UNKNOWN_TASK
        m = self.metrics
        if start is not None:
            m.runtime.observe(name, value=time.perf_counter() - start)
            m.in_progress.inc(name, amount=-1.0)
        m.tasks.inc(name, _OUTCOMES.get(str(state), str(state).lower() or "unknown"))

    # -- in the worker's main process ---------------------------------------

    def revoked(self, sender: Any = None, request: Any = None, **kw: Any) -> None:
        name = getattr(request, "task", None) or getattr(request, "name", None)
        self.metrics.tasks.inc(str(name or UNKNOWN_TASK), "revoked")

    def rejected(self, sender: Any = None, **kw: Any) -> None:
        # An unregistered or undecodable message: its task name is whatever a publisher
        # wrote, so it is not a label (junk names would fill the family's cap).
        self.metrics.tasks.inc(UNKNOWN_TASK, "rejected")

    def worker_ready(self, sender: Any = None, **kw: Any) -> None:
        worker = str(getattr(sender, "hostname", None) or "unknown")
        self._stop.clear()
        self._beat(worker)  # at once: the worker is visible before the first period passes
        threading.Thread(
            target=self._heartbeats, args=(worker,), name="watchkeeper-heartbeat", daemon=True
        ).start()

    def worker_shutdown(self, sender: Any = None, **kw: Any) -> None:
        self._stop.set()

    def _beat(self, worker: str) -> None:
        self.metrics.heartbeat.set(worker, value=time.time())

    def _heartbeats(self, worker: str) -> None:
        while not self._stop.wait(self.heartbeat_every):
            try:
                self._beat(worker)
            except Exception:  # a full disk must not kill the thread for good
                log.exception("watchkeeper: heartbeat failed")


def _wait_start(request: Any) -> float | None:
    """When the task could have started: its ETA if it has one, else its publication."""
    if request is None:
        return None
    eta = getattr(request, "eta", None)
    if eta:
        try:
            parsed = eta if isinstance(eta, datetime) else datetime.fromisoformat(str(eta))
            if parsed.tzinfo is not None:
                return parsed.timestamp()
        except ValueError:
            pass
    published = getattr(request, PUBLISHED_HEADER, None)
    if published is None:
        headers = getattr(request, "headers", None)
        if isinstance(headers, dict):
            published = headers.get(PUBLISHED_HEADER)
    try:
        return float(published) if published is not None else None
    except (TypeError, ValueError):
        return None


_installed: _Hooks | None = None


def install(app: Any = None, *, registry: Registry | None = None, heartbeat: float = 15.0) -> None:
    """Connect the signal receivers (once per process; later calls are no-ops).

    Call it where both publishers and workers import it (the module defining
    the Celery app). ``app`` is accepted for symmetry and future per-app
    options; Celery's signals are process-wide. The metrics are created on
    first use, in the process that uses them, in the Django site's registry
    when ``watchkeeper.contrib.django`` is installed, else in
    ``$WATCHKEEPER_METRICS_DIR``'s.
    """
    global _installed
    if _installed is not None:
        return
    if heartbeat <= 0:
        raise ValueError(f"heartbeat must be positive, got {heartbeat!r}")
    from celery import signals

    hooks = _installed = _Hooks(registry, heartbeat)
    uid = "watchkeeper."
    signals.before_task_publish.connect(hooks.before_publish, weak=False, dispatch_uid=uid + "pub")
    signals.task_prerun.connect(hooks.prerun, weak=False, dispatch_uid=uid + "prerun")
    signals.task_postrun.connect(hooks.postrun, weak=False, dispatch_uid=uid + "postrun")
    signals.task_revoked.connect(hooks.revoked, weak=False, dispatch_uid=uid + "revoked")
    signals.task_rejected.connect(hooks.rejected, weak=False, dispatch_uid=uid + "rejected")
    signals.task_unknown.connect(hooks.rejected, weak=False, dispatch_uid=uid + "unknown")
    signals.worker_ready.connect(hooks.worker_ready, weak=False, dispatch_uid=uid + "ready")
    signals.worker_shutdown.connect(hooks.worker_shutdown, weak=False, dispatch_uid=uid + "down")


def collector_config(app: Any, name: str = "celery") -> dict[str, Any]:
    """The ``collectors.celery`` entry of watchkeeper.yml for ``app``'s broker and queues.

    Queue lengths come from the broker (``CeleryCollector``), which works
    even when every worker is down; this only reads the app's settings.
    """
    url = app.conf.broker_url or "redis://127.0.0.1:6379/0"
    queues = sorted({q.name for q in (app.conf.task_queues or ())}) or [
        app.conf.task_default_queue or "celery"
    ]
    return {"name": name, "broker_url": str(url), "queues": queues}
