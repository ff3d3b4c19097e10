"""Configuration of the collectors, one model per kind.

Each collector kind adds its model here and a field to ``CollectorsConfig``;
``watchkeeper.collect.registry`` turns the validated models into collectors.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from watchkeeper.config.base import CollectorConfig, Regex, StrictModel, require_unique
from watchkeeper.config.services import (
    CeleryConfig,
    MySQLConfig,
    PostgresConfig,
    ProbeConfig,
    RabbitMQConfig,
    RedisConfig,
    ScrapeConfig,
    SqlMetricsConfig,
)

__all__ = ["CollectorsConfig", "HostConfig", "ProcessConfig", "SelfConfig"]


class ProcessConfig(StrictModel):
    """A process (group) to watch by name: ``{name: web, match: gunicorn}``."""

    #: The ``name`` label of the process series.
    name: str
    #: Process name or basename of argv[0]; defaults to ``name``.
    match: str | None = None
    #: Optional regular expression searched in the full command line.
    cmdline: Regex | None = None


class HostConfig(CollectorConfig):
    """The host collector: CPU, memory, disks, network, processes."""

    per_cpu: bool = True
    #: Names (strings) or ``{name, match, cmdline}`` entries of processes to watch.
    processes: list[str | ProcessConfig] = Field(default_factory=list)
    #: Filesystem types to skip (added to the built-in pseudo filesystems).
    exclude_fstypes: list[str] | None = None
    #: Regular expressions of mount points to skip.
    exclude_mountpoints: list[Regex] | None = None
    #: Regular expressions of block devices to skip for I/O counters.
    exclude_devices: list[Regex] | None = None
    #: Regular expressions of network interfaces to skip.
    exclude_interfaces: list[Regex] | None = None


class SelfConfig(CollectorConfig):
    """watchkeeper's own metrics (loop lag, samples written, RSS)."""


class CollectorsConfig(StrictModel):
    host: HostConfig = Field(default_factory=HostConfig)
    self_: SelfConfig = Field(default_factory=SelfConfig, alias="self")
    # Service collectors (issue 6): a list of instances per kind.
    postgres: list[PostgresConfig] = Field(default_factory=list)
    mysql: list[MySQLConfig] = Field(default_factory=list)
    redis: list[RedisConfig] = Field(default_factory=list)
    celery: list[CeleryConfig] = Field(default_factory=list)
    rabbitmq: list[RabbitMQConfig] = Field(default_factory=list)
    probes: list[ProbeConfig] = Field(default_factory=list)
    sql_metrics: list[SqlMetricsConfig] = Field(default_factory=list)
    scrape: list[ScrapeConfig] = Field(default_factory=list)

    @field_validator("host", "self_", mode="before")
    @classmethod
    def _none_is_default(cls, value: object) -> object:
        # `host:` with nothing under it means "defaults", not "null".
        return {} if value is None else value

    @field_validator(
        "postgres",
        "mysql",
        "redis",
        "celery",
        "rabbitmq",
        "probes",
        "sql_metrics",
        "scrape",
        mode="before",
    )
    @classmethod
    def _list_or_none(cls, value: object) -> object:
        return [] if value is None else value

    @field_validator("postgres", "mysql", "redis", "celery", "rabbitmq", "probes", "sql_metrics")
    @classmethod
    def _unique_names(cls, value: list[Any]) -> list[Any]:
        # Two instances with one name would make one collector name and mixed series.
        require_unique(
            [item.name for item in value],
            (),
            "name",
            "duplicate name {name!r}: another entry of this kind has it "
            "(give each instance its own name)",
        )
        return value

    @field_validator("scrape")
    @classmethod
    def _unique_jobs(cls, value: list[ScrapeConfig]) -> list[ScrapeConfig]:
        # The job names the collector (scrape:<job>): two with one job cannot both run.
        require_unique(
            [item.job for item in value],
            (),
            "job",
            "duplicate job {name!r}: another scrape entry has it "
            "(list every target of a job under one entry, or give each its own job)",
        )
        return value
