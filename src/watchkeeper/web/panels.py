"""The overview's panels: what to chart, from which metrics, in which unit.

A panel is shown only when its metric exists in the store, so the database,
Redis, queue and HTTP panels appear by themselves once those collectors (or
an instrumented app) report. ``live="raw"`` panels take new points straight
from the live stream; the others fetch only the new tail of their query
when the stream says their metric moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["PANELS", "Panel", "PanelSeries"]


@dataclass(frozen=True, slots=True)
class PanelSeries:
    expr: str
    #: Label whose value names a line in the legend ("" = the panel's title).
    legend: str = ""
    live: Literal["raw", "tail"] = "raw"


@dataclass(frozen=True, slots=True)
class Panel:
    id: str
    title: str
    section: str
    unit: Literal["percent", "bytes", "bytes/s", "load", "count", "seconds", "per_s", "ratio"]
    #: The metric whose presence shows the panel and whose alert rules colour it.
    metric: str
    series: tuple[PanelSeries, ...]

    @property
    def metrics(self) -> tuple[str, ...]:
        """Metric names the live stream must deliver for this panel."""
        return (self.metric,)


def _p(pid: str, title: str, section: str, unit: str, metric: str, *series: PanelSeries) -> Panel:
    return Panel(pid, title, section, unit, metric, series)  # type: ignore[arg-type]


PANELS: tuple[Panel, ...] = (
    _p(
        "cpu",
        "CPU",
        "Host",
        "percent",
        "host_cpu_usage_percent",
        PanelSeries("host_cpu_usage_percent", "instance"),
    ),
    _p(
        "memory",
        "Memory",
        "Host",
        "percent",
        "host_memory_usage_percent",
        PanelSeries("host_memory_usage_percent", "instance"),
    ),
    _p(
        "disk",
        "Disk usage",
        "Host",
        "percent",
        "host_disk_usage_percent",
        PanelSeries("host_disk_usage_percent", "mountpoint"),
    ),
    _p("load", "Load (1 min)", "Host", "load", "host_load1", PanelSeries("host_load1", "instance")),
    _p(
        "network",
        "Network",
        "Host",
        "bytes/s",
        "host_network_receive_bytes_total",
        PanelSeries(
            'sum by (instance) (rate(host_network_receive_bytes_total{interface!="lo"}[2m]))',
            "instance",
            "tail",
        ),
        PanelSeries(
            '-sum by (instance) (rate(host_network_transmit_bytes_total{interface!="lo"}[2m]))',
            "instance",
            "tail",
        ),
    ),
    _p(
        "pg_connections",
        "PostgreSQL connections",
        "Databases",
        "ratio",
        "pg_connections_used_ratio",
        PanelSeries("pg_connections_used_ratio", "server"),
    ),
    _p(
        "pg_tx",
        "PostgreSQL transactions",
        "Databases",
        "per_s",
        "pg_database_xact_commit_total",
        PanelSeries("sum by (server) (rate(pg_database_xact_commit_total[2m]))", "server", "tail"),
    ),
    _p(
        "mysql_connections",
        "MySQL connections",
        "Databases",
        "ratio",
        "mysql_connections_used_ratio",
        PanelSeries("mysql_connections_used_ratio", "server"),
    ),
    _p(
        "mysql_queries",
        "MySQL queries",
        "Databases",
        "per_s",
        "mysql_queries_total",
        PanelSeries("sum by (server) (rate(mysql_queries_total[2m]))", "server", "tail"),
    ),
    _p(
        "redis_memory",
        "Redis memory",
        "Redis",
        "bytes",
        "redis_memory_used_bytes",
        PanelSeries("redis_memory_used_bytes", "server"),
    ),
    _p(
        "redis_ops",
        "Redis operations",
        "Redis",
        "per_s",
        "redis_instantaneous_ops_per_second",
        PanelSeries("redis_instantaneous_ops_per_second", "server"),
    ),
    _p(
        "queue_depth",
        "Queue depth",
        "Queues",
        "count",
        "rabbitmq_queue_messages",
        PanelSeries("rabbitmq_queue_messages", "queue"),
    ),
    _p(
        "celery_queue",
        "Celery queues",
        "Queues",
        "count",
        "celery_queue_length",
        PanelSeries("celery_queue_length", "queue"),
    ),
    _p(
        "http_rate",
        "HTTP requests",
        "HTTP",
        "per_s",
        "http_requests_total",
        PanelSeries("sum(rate(http_requests_total[2m]))", "", "tail"),
    ),
    _p(
        "http_errors",
        "HTTP errors (5xx)",
        "HTTP",
        "per_s",
        "http_requests_total",
        PanelSeries('sum(rate(http_requests_total{code=~"5.."}[2m]))', "", "tail"),
    ),
    _p(
        "http_p95",
        "HTTP latency p95",
        "HTTP",
        "seconds",
        "http_request_duration_seconds_bucket",
        PanelSeries(
            "histogram_quantile(0.95, sum by (le) "
            "(rate(http_request_duration_seconds_bucket[5m])))",
            "",
            "tail",
        ),
    ),
)
