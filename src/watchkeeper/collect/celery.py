"""Celery: queue lengths on the broker, workers online and their tasks.

Queue lengths are read straight from the broker (``LLEN`` on Redis, passive
declare on RabbitMQ), which works even when every worker is down. Workers
are asked by broadcast (``ping``, then ``active`` and ``reserved`` sent only
to the workers that answered); a broadcast normally waits its whole timeout,
so once the set of workers is known the collector stops waiting as soon as
all of them replied, and does a full wait every few cycles to notice new ones.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

from watchkeeper.collect.amqp_queues import AmqpQueueInspector
from watchkeeper.collect.base import SampleBuilder, SyncCollector, gauge
from watchkeeper.collect.redis import connect_redis
from watchkeeper.collect.service_errors import CollectionError, reason
from watchkeeper.config.services import RedisConnection
from watchkeeper.model import Sample

__all__ = ["CeleryCollector", "celery_workers"]

log = logging.getLogger(__name__)

#: kombu's Redis transport keeps priorities 3, 6 and 9 in keys "<queue>\x06\x16<n>".
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
#: Cycles between full-length broadcasts that can discover new workers.
_FULL_WAIT_EVERY = 6


def _celery_app(broker_url: str, timeout: float) -> Any:
    from celery import Celery

    app = Celery("watchkeeper-monitor", broker=broker_url, set_as_current=False)
    app.conf.broker_connection_timeout = timeout
    app.conf.broker_connection_retry = False
    app.conf.broker_connection_max_retries = 0
    app.conf.broker_transport_options = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
    }
    return app


def celery_workers(app: Any, timeout: float, expect: int | None = None) -> list[str]:
    """Names of the workers answering a ping within ``timeout`` (early when ``expect`` answered)."""
    replies = app.control.ping(timeout=timeout, limit=expect) or []
    return sorted(name for reply in replies for name in reply)


class CeleryCollector(SyncCollector):
    metrics = (
        gauge("celery_queue_length", "Messages waiting in the queue.", labels=("queue",)),
        gauge("celery_queue_consumers", "Consumers of the queue (RabbitMQ brokers only)."),
        gauge("celery_workers_online", "Workers that answered a ping."),
        gauge("celery_worker_up", "1 for each worker that answered a ping.", labels=("worker",)),
        gauge("celery_worker_tasks_active", "Tasks executing on the worker.", labels=("worker",)),
        gauge("celery_worker_tasks_reserved", "Tasks prefetched by the worker, not started."),
        gauge("celery_inspect_duration_seconds", "Time the worker broadcasts took.", "seconds"),
    )

    def __init__(
        self,
        name: str,
        broker_url: str,
        *,
        queues: list[str],
        inspect_workers: bool = True,
        worker_timeout: float = 1.0,
        interval: float = 10.0,
        timeout: float | None = None,
    ) -> None:
        super().__init__(name, interval=interval, timeout=timeout)
        self.queues = queues
        self.inspect_workers = inspect_workers
        self.worker_timeout = worker_timeout
        self._url = broker_url
        parts = urlsplit(broker_url)
        self._redis = parts.scheme in {"redis", "rediss"}
        self.target = (
            f"{parts.hostname or '127.0.0.1'}:{parts.port or (6379 if self._redis else 5672)}"
        )
        self._amqp = None if self._redis else AmqpQueueInspector(broker_url, timeout=self.timeout)
        self._redis_client: Any = None
        self._app: Any = None
        self._known: list[str] = []
        self._cycle = 0
        self._labels = {"server": name.partition(":")[2] or name}

    def collect(self, now_ms: int) -> list[Sample]:
        b = SampleBuilder(now_ms)
        self._queue_lengths(b)
        if self.inspect_workers:
            self._workers(b)
        return b.samples

    def _queue_lengths(self, b: SampleBuilder) -> None:
        if self._amqp is not None:
            for queue, depth in self._amqp.depths(self.queues).items():
                ql = {**self._labels, "queue": queue}
                b.add("celery_queue_length", depth.messages if depth else 0, ql)
                b.add("celery_queue_consumers", depth.consumers if depth else 0, ql)
            return
        if self._redis_client is None:
            from pydantic import SecretStr

            conn = RedisConnection(url=SecretStr(self._url))
            self._redis_client = connect_redis(conn, timeout=self.timeout)
        try:
            pipe = self._redis_client.pipeline(transaction=False)
            for queue in self.queues:
                for suffix in _PRIORITY_SUFFIXES:
                    pipe.llen(queue + suffix)
            lengths = pipe.execute()
        except Exception as exc:
            self._close_redis()
            raise CollectionError(reason(exc, self.target)) from None
        step = len(_PRIORITY_SUFFIXES)
        for i, queue in enumerate(self.queues):
            total = sum(lengths[i * step : (i + 1) * step])
            b.add("celery_queue_length", total, {**self._labels, "queue": queue})

    def _workers(self, b: SampleBuilder) -> None:
        if self._app is None:
            self._app = _celery_app(self._url, self.timeout)
        full = self._cycle % _FULL_WAIT_EVERY == 0 or not self._known
        self._cycle += 1
        started = time.perf_counter()
        try:
            workers = celery_workers(
                self._app, self.worker_timeout, None if full else len(self._known)
            )
            active: dict[str, list[Any]] = {}
            reserved: dict[str, list[Any]] = {}
            if workers:
                inspect = self._app.control.inspect(
                    destination=workers, timeout=self.worker_timeout, limit=len(workers)
                )
                active = inspect.active() or {}
                reserved = inspect.reserved() or {}
        except Exception as exc:
            self._close_app()
            raise CollectionError(reason(exc, self.target)) from None
        self._known = workers
        b.add("celery_inspect_duration_seconds", time.perf_counter() - started, self._labels)
        b.add("celery_workers_online", len(workers), self._labels)
        for worker in workers:
            wl = {**self._labels, "worker": worker}
            b.add("celery_worker_up", 1, wl)
            b.add("celery_worker_tasks_active", len(active.get(worker) or ()), wl)
            b.add("celery_worker_tasks_reserved", len(reserved.get(worker) or ()), wl)

    def _close_redis(self) -> None:
        client, self._redis_client = self._redis_client, None
        if client is not None:
            client.close()

    def _close_app(self) -> None:
        app, self._app = self._app, None
        if app is not None:
            try:
                app.close()
            except Exception:
                log.debug("%s: error closing Celery app", self.name, exc_info=True)

    def close(self) -> None:
        self._close_redis()
        self._close_app()
        if self._amqp is not None:
            self._amqp.close()
