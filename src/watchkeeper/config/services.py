"""Configuration of the service collectors: databases, caches, queues, probes, scrapes.

Connection settings live in small ``*Connection`` models that both the
collectors and the health checks reuse, so a database is described the same
way wherever it appears. Passwords and DSNs are ``SecretStr``: pydantic shows
them as ``**********`` in reprs and errors, and code must call
``get_secret_value()`` on purpose to read them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from watchkeeper.config.base import (
    CollectorConfig,
    Interval,
    StrictModel,
    Timeout,
    field_error,
    require_unique,
)
from watchkeeper.config.duration import Duration
from watchkeeper.config.headers import HttpHeaders

__all__ = [
    "CeleryConfig",
    "MySQLConfig",
    "MySQLConnection",
    "PostgresConfig",
    "PostgresConnection",
    "ProbeConfig",
    "RabbitMQConfig",
    "RedisConfig",
    "RedisConnection",
    "ScrapeConfig",
    "SqlMetricsConfig",
    "SqlQueryConfig",
    "redact_url",
]

_INSTANCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_METRIC_PART = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``: safe to log or show."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def _url_problem(url: str) -> str | None:
    """Why ``url`` cannot be requested (no host, a bad port), or None; never shows a password."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"the port must be a number between 1 and 65535, got {redact_url(url)!r}"
    if not parts.hostname:
        return f"the host is missing, got {redact_url(url)!r}"
    if port == 0:
        return f"the port must be between 1 and 65535, got {redact_url(url)!r}"
    return None


def _check_instance_name(value: str) -> str:
    if not _INSTANCE_NAME.match(value):
        raise ValueError(
            f"invalid name {value!r}: use letters, digits, '_', '-' and '.', "
            "starting with a letter or digit"
        )
    return value


class _Named(StrictModel):
    #: The instance name: the collector is called ``<kind>:<name>`` and its series carry it.
    name: str = "main"

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return _check_instance_name(value)


# -- connections -------------------------------------------------------------


class PostgresConnection(StrictModel):
    """Where a PostgreSQL server is: a ``dsn`` or the separate fields (``dsn`` wins)."""

    #: ``postgresql://user:password@host:port/db`` or ``host=... dbname=...``.
    dsn: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = Field(5432, ge=1, le=65535)
    user: str = "postgres"
    password: SecretStr | None = None
    database: str = "postgres"
    connect_timeout: Timeout = 5.0

    def target(self) -> str:
        """Where, for messages: never contains the password."""
        if self.dsn is not None:
            return _dsn_target(self.dsn.get_secret_value())
        return f"{self.host}:{self.port}/{self.database}"


class MySQLConnection(StrictModel):
    """Where a MySQL or MariaDB server is."""

    host: str = "127.0.0.1"
    port: int = Field(3306, ge=1, le=65535)
    user: str = "root"
    password: SecretStr | None = None
    database: str | None = None
    #: A Unix socket path, used instead of host/port when set.
    unix_socket: str | None = None
    connect_timeout: Timeout = 5.0

    def target(self) -> str:
        return self.unix_socket or f"{self.host}:{self.port}"


class SQLiteConnection(StrictModel):
    """A SQLite database file (a small Django site's ``db.sqlite3``), opened read-only."""

    path: Path

    def target(self) -> str:
        return str(self.path)


class RedisConnection(StrictModel):
    """Where a Redis server is: a ``url`` (``redis://:password@host:6379/0``) or fields."""

    url: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = Field(6379, ge=1, le=65535)
    db: int = Field(0, ge=0)
    username: str | None = None
    password: SecretStr | None = None
    connect_timeout: Timeout = 5.0

    @field_validator("url")
    @classmethod
    def _redis_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        # The message names the scheme only: the URL may hold the password.
        if value is not None:
            scheme = urlsplit(value.get_secret_value()).scheme
            if scheme not in {"redis", "rediss", "unix"}:
                raise ValueError(
                    f"expected a redis://, rediss:// or unix:// URL, got scheme {scheme!r}"
                )
        return value

    @model_validator(mode="after")
    def _some_host(self) -> RedisConnection:
        if self.url is None and not self.host.strip():
            raise field_error("host", "the host is empty, got '': give a host name or address")
        return self

    def target(self) -> str:
        if self.url is not None:
            parts = urlsplit(self.url.get_secret_value())
            return f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}"
        return f"{self.host}:{self.port}"


def _dsn_target(dsn: str) -> str:
    if "://" in dsn:
        parts = urlsplit(dsn)
        return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"
    fields = dict(re.findall(r"(\w+)\s*=\s*('[^']*'|\S+)", dsn))
    host = fields.get("host", "localhost").strip("'")
    port = fields.get("port", "5432").strip("'")
    db = fields.get("dbname", "").strip("'")
    return f"{host}:{port}/{db}" if db else f"{host}:{port}"


# -- collectors ----------------------------------------------------------------


class PostgresConfig(CollectorConfig, PostgresConnection, _Named):
    """A PostgreSQL server: activity, databases, locks, replication, slow statements."""

    #: Databases to report (``pg_database_*``); empty means every non-template database.
    databases: list[str] = Field(default_factory=list)
    #: Queries running longer than this count as long-running.
    long_query_threshold: Duration = 60.0
    #: How many statements of ``pg_stat_statements`` to report (top by mean time); 0 disables.
    statements_top: int = Field(10, ge=0, le=100)


class MySQLConfig(CollectorConfig, MySQLConnection, _Named):
    """A MySQL or MariaDB server: connections, threads, queries, InnoDB, replication."""


class RedisConfig(CollectorConfig, RedisConnection, _Named):
    """A Redis server: memory, ops, hit rate, clients, keys, persistence, replication."""


class CeleryConfig(CollectorConfig, _Named):
    """Celery queues and workers of one broker (Redis or RabbitMQ)."""

    #: ``redis://host:6379/0`` or ``amqp://user:pass@host:5672//``.
    broker_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    #: Queues whose length to report.
    queues: list[str] = Field(default_factory=lambda: ["celery"])
    #: Ask the workers (ping, active and reserved tasks); costs a broadcast per cycle.
    inspect_workers: bool = True
    #: How long to wait for worker replies.
    worker_timeout: Timeout = 1.0

    @field_validator("broker_url")
    @classmethod
    def _supported_broker(cls, value: SecretStr) -> SecretStr:
        scheme = urlsplit(value.get_secret_value()).scheme
        if scheme not in {"redis", "rediss", "amqp", "amqps", "pyamqp"}:
            raise ValueError(
                f"unsupported broker scheme {scheme!r}: use redis://, rediss:// or amqp://"
            )
        return value


class RabbitMQConfig(CollectorConfig, _Named):
    """RabbitMQ queue depth and consumers.

    With ``management_url`` every queue comes from the management API;
    without it the listed ``queues`` are inspected over AMQP (passive declare).
    """

    url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672//")
    queues: list[str] = Field(default_factory=list)
    #: ``http://user:password@host:15672``: enables every-queue listing.
    management_url: SecretStr | None = None
    #: Report at most this many queues (the deepest) through the management API.
    max_queues: int = Field(200, ge=1, le=10_000)


class ProbeConfig(CollectorConfig, _Named):
    """A blackbox probe: HTTP(S), TCP connect, DNS resolution or TLS certificate.

    The seeds' synthetic checks map one-to-one: ``{name: homepage_load, url:
    https://..., expected_status: 200, timeout: 5s, interval: 60s}``.
    """

    type: Literal["http", "tcp", "dns", "tls"] = "http"
    #: URL for ``http``; ``host:port`` for ``tcp``/``tls``; a host name for ``dns``.
    target: str = Field(validation_alias="url")
    method: str = "GET"
    #: Request headers; values are secret (they may hold tokens).
    headers: HttpHeaders = Field(default_factory=dict)
    body: str | None = None
    #: Accepted status codes; empty means any 2xx.
    expected_status: list[int] = Field(default_factory=list)
    #: The response body must contain this text.
    body_contains: str | None = None
    #: The response body must match this regular expression (searched).
    body_regex: str | None = None
    follow_redirects: bool = True
    #: Verify TLS certificates (HTTP and TLS probes).
    verify_tls: bool = True
    #: A CA bundle to verify against instead of the system store.
    ca_file: str | None = None
    #: DNS: the address family to resolve.
    record_type: Literal["A", "AAAA"] = "A"
    #: Probes default to every 30 s.
    interval: Interval = 30.0

    @model_validator(mode="before")
    @classmethod
    def _target_or_url(cls, data: object) -> object:
        # Accept `target:` as well as the seeds' `url:`.
        if isinstance(data, dict) and "target" in data and "url" not in data:
            data = {**data, "url": data["target"]}
            del data["target"]
        if isinstance(data, dict) and isinstance(data.get("expected_status"), int):
            data = {**data, "expected_status": [data["expected_status"]]}
        return data

    @field_validator("body_regex")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {value!r}: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _target_fits_type(self) -> ProbeConfig:
        # Reported at `url` or `target`, whichever the file has.
        where = "url|target"
        if self.type == "http":
            parts = urlsplit(self.target)
            if parts.scheme not in {"http", "https"}:
                raise field_error(
                    where, f"http probe {self.name!r}: url must start with http:// or https://"
                )
            problem = _url_problem(self.target)
            if problem:
                raise field_error(where, f"http probe {self.name!r}: {problem}")
        elif self.type in {"tcp", "tls"}:
            host, _, port = self.target.rpartition(":")
            if not host or not port.isdigit():
                raise field_error(
                    where, f"{self.type} probe {self.name!r}: target must be host:port"
                )
            if not 1 <= int(port) <= 65535:
                raise field_error(
                    where,
                    f"{self.type} probe {self.name!r}: the port must be between 1 and 65535, "
                    f"got {self.target!r}",
                )
        return self


class SqlQueryConfig(StrictModel):
    """One business query: its rows become series.

    Each row gives one sample per ``values`` column, named
    ``sql_<name>`` (one value column) or ``sql_<name>_<column>``, labelled by
    the ``labels`` columns.
    """

    name: str
    sql: str
    labels: list[str] = Field(default_factory=list)
    #: Value columns; empty means every column not listed in ``labels``.
    values: list[str] = Field(default_factory=list)
    help: str = ""
    #: Run this query at most this often (defaults to the collector's interval).
    interval: Duration | None = None
    timeout: Timeout = 5.0

    @field_validator("name")
    @classmethod
    def _metric_safe(cls, value: str) -> str:
        if not _METRIC_PART.match(value):
            raise ValueError(f"invalid query name {value!r}: use letters, digits and _")
        return value

    @field_validator("labels", "values")
    @classmethod
    def _column_names(cls, value: list[str]) -> list[str]:
        for column in value:
            if not _METRIC_PART.match(column) or column.startswith("__"):
                raise ValueError(f"invalid column name {column!r}: use letters, digits and _")
        return value


class SqlMetricsConfig(CollectorConfig, _Named):
    """Business metrics: user queries against one database, run read-only."""

    driver: Literal["postgres", "mysql", "sqlite"] = "postgres"
    postgres: PostgresConnection | None = None
    mysql: MySQLConnection | None = None
    sqlite: SQLiteConnection | None = None
    queries: list[SqlQueryConfig] = Field(default_factory=list)
    interval: Interval = 60.0

    @model_validator(mode="after")
    def _unique_queries(self) -> SqlMetricsConfig:
        require_unique(
            [q.name for q in self.queries],
            ("queries",),
            "name",
            "duplicate query name {name!r}: both queries would write the series "
            "sql_{name}* (give each query its own name)",
        )
        return self

    @model_validator(mode="after")
    def _sqlite_needs_a_file(self) -> SqlMetricsConfig:
        if self.driver == "sqlite" and self.sqlite is None:
            raise field_error("sqlite", "driver sqlite needs sqlite: {path: <the database file>}")
        if self.sqlite is not None and self.driver != "sqlite":
            raise field_error(
                "driver",
                f"sqlite: is set but driver is {self.driver!r}: set driver: sqlite "
                "(or remove the sqlite: block)",
            )
        return self

    def connection(self) -> PostgresConnection | MySQLConnection | SQLiteConnection:
        if self.driver == "postgres":
            return self.postgres or PostgresConnection()
        if self.driver == "sqlite":
            assert self.sqlite is not None
            return self.sqlite
        return self.mysql or MySQLConnection()


class ScrapeConfig(CollectorConfig):
    """A Prometheus ``/metrics`` scrape job: one or more targets."""

    job: str
    #: ``host:port`` (with ``scheme`` and ``metrics_path``) or full URLs.
    targets: list[str]
    scheme: Literal["http", "https"] = "http"
    metrics_path: str = "/metrics"
    #: Request headers; values are secret (they may hold tokens).
    headers: HttpHeaders = Field(default_factory=dict)
    #: Labels added to every scraped sample.
    labels: dict[str, str] = Field(default_factory=dict)
    #: Keep the target's own ``job``/``instance`` labels instead of renaming them ``exported_*``.
    honor_labels: bool = False
    verify_tls: bool = True
    #: At most this many samples per target; more fails the scrape (protects the store).
    sample_limit: int = Field(50_000, ge=1)

    @field_validator("job")
    @classmethod
    def _valid_job(cls, value: str) -> str:
        return _check_instance_name(value)

    @field_validator("targets")
    @classmethod
    def _some_targets(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("list at least one target")
        for i, target in enumerate(value):
            if "://" in target:
                if urlsplit(target).scheme not in {"http", "https"}:
                    raise field_error(
                        i,
                        "a target URL must start with http:// or https://, "
                        f"got {redact_url(target)!r}",
                    )
                problem = _url_problem(target)
            else:
                problem = _url_problem(f"http://{target}")
                if not problem and any(c in target for c in "/?#"):
                    problem = (
                        "expected host:port (set the path with metrics_path) or a full URL, "
                        f"got {redact_url(target)!r}"
                    )
            if problem:
                raise field_error(i, problem)
        return value

    @field_validator("metrics_path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"the path must start with '/', got {value!r}")
        return value

    def urls(self) -> list[str]:
        out = []
        for target in self.targets:
            if "://" in target:
                out.append(target)
            else:
                out.append(f"{self.scheme}://{target}{self.metrics_path}")
        return out
