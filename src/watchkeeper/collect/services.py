"""Builders of the service collectors (issue 6), one small function per kind.

Kept apart from ``registry`` so that the driver imports happen only when a
kind is configured: a host-only setup never imports psycopg or Celery.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from watchkeeper.collect.base import Collector
from watchkeeper.config.base import CollectorConfig
from watchkeeper.config.collectors import CollectorsConfig
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

__all__ = ["build_service_collectors"]

_C = TypeVar("_C", bound=CollectorConfig)


def build_service_collectors(config: CollectorsConfig, interval: float | None) -> list[Collector]:
    """The enabled service collectors; ``interval`` overrides every configured one."""

    def enabled(configs: list[_C], build: Callable[[_C, float], Collector]) -> list[Collector]:
        return [build(cfg, interval or cfg.interval) for cfg in configs if cfg.enabled]

    return [
        *enabled(config.postgres, _postgres),
        *enabled(config.mysql, _mysql),
        *enabled(config.redis, _redis),
        *enabled(config.celery, _celery),
        *enabled(config.rabbitmq, _rabbitmq),
        *enabled(config.probes, _probe),
        *enabled(config.sql_metrics, _sql_metrics),
        *enabled(config.scrape, _scrape),
    ]


def _postgres(cfg: PostgresConfig, interval: float) -> Collector:
    from watchkeeper.collect.postgres import PostgresCollector

    return PostgresCollector(
        f"postgres:{cfg.name}",
        cfg,
        interval=interval,
        timeout=cfg.timeout,
        databases=cfg.databases,
        long_query_threshold=cfg.long_query_threshold,
        statements_top=cfg.statements_top,
    )


def _mysql(cfg: MySQLConfig, interval: float) -> Collector:
    from watchkeeper.collect.mysql import MySQLCollector

    return MySQLCollector(f"mysql:{cfg.name}", cfg, interval=interval, timeout=cfg.timeout)


def _redis(cfg: RedisConfig, interval: float) -> Collector:
    from watchkeeper.collect.redis import RedisCollector

    return RedisCollector(f"redis:{cfg.name}", cfg, interval=interval, timeout=cfg.timeout)


def _celery(cfg: CeleryConfig, interval: float) -> Collector:
    from watchkeeper.collect.celery import CeleryCollector

    return CeleryCollector(
        f"celery:{cfg.name}",
        cfg.broker_url.get_secret_value(),
        queues=cfg.queues,
        inspect_workers=cfg.inspect_workers,
        worker_timeout=cfg.worker_timeout,
        interval=interval,
        timeout=cfg.timeout,
    )


def _rabbitmq(cfg: RabbitMQConfig, interval: float) -> Collector:
    from watchkeeper.collect.rabbitmq import RabbitMQCollector

    management_url = cfg.management_url.get_secret_value() if cfg.management_url else None
    return RabbitMQCollector(
        f"rabbitmq:{cfg.name}",
        cfg.url.get_secret_value(),
        queues=cfg.queues,
        management_url=management_url,
        max_queues=cfg.max_queues,
        interval=interval,
        timeout=cfg.timeout,
    )


def _probe(cfg: ProbeConfig, interval: float) -> Collector:
    from watchkeeper.collect.probes import ProbeCollector

    return ProbeCollector(f"probe:{cfg.name}", cfg, interval=interval, timeout=cfg.timeout)


def _sql_metrics(cfg: SqlMetricsConfig, interval: float) -> Collector:
    from watchkeeper.collect.sql_metrics import SqlMetricsCollector

    return SqlMetricsCollector(f"sql:{cfg.name}", cfg, interval=interval, timeout=cfg.timeout)


def _scrape(cfg: ScrapeConfig, interval: float) -> Collector:
    from watchkeeper.collect.scrape import ScrapeCollector

    return ScrapeCollector(cfg, interval=interval, timeout=cfg.timeout)
