"""The health checks: one small class per kind of component.

Database and cache checks keep their connection between runs (and reopen it
after a failure): a check costs one round trip, not a connection setup,
which is what makes django-health-check slow (a new PostgreSQL connection per
call).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import importlib
import inspect
import shutil
import time
from collections.abc import Callable
from typing import Any, ClassVar

import psutil

from watchkeeper.collect.amqp_queues import AmqpQueueInspector
from watchkeeper.collect.service_errors import CollectionError, reason
from watchkeeper.config.services import (
    MySQLConnection,
    PostgresConnection,
    ProbeConfig,
    RedisConnection,
)
from watchkeeper.health.base import (
    CheckResult,
    HealthCheck,
    Status,
    SyncHealthCheck,
    elapsed_ms,
    threshold_status,
)

__all__ = [
    "CallableCheck",
    "CeleryCheck",
    "DiskCheck",
    "MemoryCheck",
    "MySQLCheck",
    "PostgresCheck",
    "ProbeCheck",
    "RabbitMQCheck",
    "RedisCheck",
]

_Connection = PostgresConnection | MySQLConnection | RedisConnection


class _KeptConnectionCheck(SyncHealthCheck):
    """One round trip on a kept connection, reopened after a failure; observed value: ms.

    Subclasses name the driver (imported at construction, not inside the first
    timed run) and say how to open, test and ping their connection.
    """

    component_type = "datastore"
    driver: ClassVar[str]

    def __init__(self, name: str, connection: _Connection, **kw: Any) -> None:
        super().__init__(name, **kw)
        importlib.import_module(self.driver)
        self.connection = connection
        self._conn: Any = None

    @abc.abstractmethod
    def _connect(self) -> Any:
        """A new connection, raising CollectionError with a clear reason."""

    @abc.abstractmethod
    def _round_trip(self, conn: Any) -> None:
        """The cheapest request that proves the server answers."""

    def _is_open(self, conn: Any) -> bool:
        return True

    def run_sync(self) -> CheckResult:
        if self._conn is None or not self._is_open(self._conn):
            self._conn = self._connect()
        started = time.perf_counter()
        try:
            self._round_trip(self._conn)
        except Exception as exc:
            self.close()
            raise CollectionError(reason(exc, self.connection.target())) from None
        return CheckResult.passed(elapsed_ms(started), "ms")

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # already closed by the server
                conn.close()


class PostgresCheck(_KeptConnectionCheck):
    """``SELECT 1`` on a kept connection."""

    driver = "psycopg"
    connection: PostgresConnection

    def _connect(self) -> Any:
        from watchkeeper.collect.postgres import connect_postgres

        return connect_postgres(
            self.connection, statement_timeout=self.timeout, application_name="watchkeeper-health"
        )

    def _is_open(self, conn: Any) -> bool:
        return not conn.closed

    def _round_trip(self, conn: Any) -> None:
        conn.execute("SELECT 1").fetchone()


class MySQLCheck(_KeptConnectionCheck):
    """``COM_PING`` on a kept connection."""

    driver = "pymysql"
    connection: MySQLConnection

    def _connect(self) -> Any:
        from watchkeeper.collect.mysql import connect_mysql

        return connect_mysql(self.connection, read_timeout=self.timeout)

    def _is_open(self, conn: Any) -> bool:
        return bool(conn.open)

    def _round_trip(self, conn: Any) -> None:
        conn.ping(reconnect=False)


class RedisCheck(_KeptConnectionCheck):
    """``PING`` on a kept connection."""

    driver = "redis"
    connection: RedisConnection

    def _connect(self) -> Any:
        from watchkeeper.collect.redis import connect_redis

        return connect_redis(self.connection, timeout=self.timeout)

    def _round_trip(self, conn: Any) -> None:
        conn.ping()


class CeleryCheck(SyncHealthCheck):
    """Workers answering a ping; stops waiting as soon as ``min_workers`` answered."""

    component_type = "component"

    def __init__(self, name: str, broker_url: str, *, min_workers: int = 1, **kw: Any) -> None:
        super().__init__(name, **kw)
        importlib.import_module("celery")  # import now, not inside the first timed run
        self.broker_url = broker_url
        self.min_workers = min_workers
        self._app: Any = None

    def run_sync(self) -> CheckResult:
        from watchkeeper.collect.celery import _celery_app, celery_workers

        if self._app is None:
            self._app = _celery_app(self.broker_url, self.timeout)
        try:
            workers = celery_workers(self._app, self.timeout * 0.5, self.min_workers)
        except Exception as exc:
            self.close()
            from watchkeeper.collect.amqp_queues import amqp_target

            raise CollectionError(reason(exc, amqp_target(self.broker_url))) from None
        if len(workers) < self.min_workers:
            return CheckResult(
                Status.FAIL,
                f"{len(workers)} worker(s) answered, {self.min_workers} required",
                len(workers),
                "workers",
            )
        return CheckResult.passed(len(workers), "workers")

    def close(self) -> None:
        app, self._app = self._app, None
        if app is not None:
            app.close()


class RabbitMQCheck(SyncHealthCheck):
    """Broker reachable and the listed queues exist; observed value: their total depth."""

    component_type = "component"

    def __init__(
        self, name: str, url: str, *, queues: list[str], warn_messages: int | None, **kw: Any
    ) -> None:
        super().__init__(name, **kw)
        self.queues = queues
        self.warn_messages = warn_messages
        self._inspector = AmqpQueueInspector(url, timeout=self.timeout)

    def run_sync(self) -> CheckResult:
        if not self.queues:
            self._inspector._connect()
            return CheckResult.passed()
        depths = self._inspector.depths(self.queues)
        missing = [q for q, d in depths.items() if d is None]
        total = sum(d.messages for d in depths.values() if d is not None)
        if missing:
            return CheckResult(
                Status.FAIL, f"missing queues: {', '.join(missing)}", total, "messages"
            )
        if self.warn_messages is not None and total > self.warn_messages:
            return CheckResult(
                Status.WARN, f"{total} messages waiting (> {self.warn_messages})", total, "messages"
            )
        return CheckResult.passed(total, "messages")

    def close(self) -> None:
        self._inspector.close()


class DiskCheck(SyncHealthCheck):
    component_type = "system"

    def __init__(self, name: str, path: str, *, warn: float, fail: float, **kw: Any) -> None:
        super().__init__(name, **kw)
        self.path, self.warn, self.fail = path, warn, fail

    def run_sync(self) -> CheckResult:
        usage = shutil.disk_usage(self.path)
        percent = round(usage.used / usage.total * 100, 2) if usage.total else 0.0
        status = threshold_status(percent, self.warn, self.fail)
        output = "" if status is Status.PASS else f"{self.path} is {percent:.1f}% full"
        return CheckResult(status, output, percent, "%")


class MemoryCheck(SyncHealthCheck):
    component_type = "system"

    def __init__(self, name: str, *, warn: float, fail: float, **kw: Any) -> None:
        super().__init__(name, **kw)
        self.warn, self.fail = warn, fail

    def run_sync(self) -> CheckResult:
        percent = float(psutil.virtual_memory().percent)
        status = threshold_status(percent, self.warn, self.fail)
        output = "" if status is Status.PASS else f"memory {percent:.1f}% used"
        return CheckResult(status, output, percent, "%")


class ProbeCheck(HealthCheck):
    """A blackbox probe as a check; TLS probes observe the days left on the certificate."""

    def __init__(self, name: str, probe: ProbeConfig, *, warn_days: float = 14.0, **kw: Any):
        super().__init__(name, **kw)
        from watchkeeper.collect.probes import Prober

        self.prober = Prober(probe, timeout=self.timeout * 0.9)
        self.warn_days = warn_days
        self.component_type = "component" if probe.type in {"http", "tcp"} else "system"

    async def run(self) -> CheckResult:
        result = await self.prober.run()
        if not result.success:
            return CheckResult.failed(result.reason)
        expiry = result.values.get("probe_ssl_earliest_cert_expiry")
        if self.prober.cfg.type == "tls" and expiry is not None:
            days = round((expiry - time.time()) / 86400, 1)
            if days < self.warn_days:
                return CheckResult(Status.WARN, f"certificate expires in {days} days", days, "d")
            return CheckResult.passed(days, "d")
        return CheckResult.passed(round(result.duration * 1000, 3), "ms")


class CallableCheck(HealthCheck):
    """A user function: returns None/True (pass), False (fail), "warn"/"fail"/"pass", or raises."""

    def __init__(self, name: str, func: Callable[[], Any], **kw: Any) -> None:
        super().__init__(name, **kw)
        self.func = func

    @classmethod
    def from_target(cls, name: str, target: str, **kw: Any) -> CallableCheck:
        module_name, _, attr = target.partition(":")
        try:
            func = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"health check {name!r}: cannot load {target!r}: {exc}") from None
        if not callable(func):
            raise ValueError(f"health check {name!r}: {target!r} is not callable")
        return cls(name, func, **kw)

    async def run(self) -> CheckResult:
        call = getattr(self.func, "__call__", None)  # noqa: B004 - async callables
        if inspect.iscoroutinefunction(self.func) or inspect.iscoroutinefunction(call):
            value = await self.func()
        else:
            value = await asyncio.to_thread(self.func)
        if isinstance(value, CheckResult):
            return value
        if value is None or value is True:
            return CheckResult.passed()
        if value is False:
            return CheckResult.failed("returned False")
        if isinstance(value, str) and value in {s.value for s in Status}:
            return CheckResult(Status(value))
        if isinstance(value, int | float):
            return CheckResult.passed(float(value))
        return CheckResult.failed(f"unexpected return value {value!r}")
