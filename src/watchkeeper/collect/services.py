"""Builders of the service collectors (issue 6), one small function per kind.

Kept apart from ``registry`` so that the driver imports happen only when a
kind is configured: a host-only setup never imports psycopg or Celery.
"""

from __future__ import annotations

from watchkeeper.collect.base import Collector
from watchkeeper.config.collectors import CollectorsConfig

__all__ = ["build_service_collectors"]


def build_service_collectors(config: CollectorsConfig, interval: float | None) -> list[Collector]:
    """The enabled service collectors; ``interval`` overrides every configured one."""
    out: list[Collector] = []
    for pg in config.postgres:
        if pg.enabled:
            from watchkeeper.collect.postgres import PostgresCollector

            out.append(
                PostgresCollector(
                    f"postgres:{pg.name}",
                    pg,
                    interval=interval or pg.interval,
                    timeout=pg.timeout,
                    databases=pg.databases,
                    long_query_threshold=pg.long_query_threshold,
                    statements_top=pg.statements_top,
                )
            )
    for my in config.mysql:
        if my.enabled:
            from watchkeeper.collect.mysql import MySQLCollector

            out.append(
                MySQLCollector(
                    f"mysql:{my.name}", my, interval=interval or my.interval, timeout=my.timeout
                )
            )
    for rd in config.redis:
        if rd.enabled:
            from watchkeeper.collect.redis import RedisCollector

            out.append(
                RedisCollector(
                    f"redis:{rd.name}", rd, interval=interval or rd.interval, timeout=rd.timeout
                )
            )
    for ce in config.celery:
        if ce.enabled:
            from watchkeeper.collect.celery import CeleryCollector

            out.append(
                CeleryCollector(
                    f"celery:{ce.name}",
                    ce.broker_url.get_secret_value(),
                    queues=ce.queues,
                    inspect_workers=ce.inspect_workers,
                    worker_timeout=ce.worker_timeout,
                    interval=interval or ce.interval,
                    timeout=ce.timeout,
                )
            )
    for rq in config.rabbitmq:
        if rq.enabled:
            from watchkeeper.collect.rabbitmq import RabbitMQCollector

            out.append(
                RabbitMQCollector(
                    f"rabbitmq:{rq.name}",
                    rq.url.get_secret_value(),
                    queues=rq.queues,
                    management_url=rq.management_url.get_secret_value()
                    if rq.management_url
                    else None,
                    max_queues=rq.max_queues,
                    interval=interval or rq.interval,
                    timeout=rq.timeout,
                )
            )
    for pr in config.probes:
        if pr.enabled:
            from watchkeeper.collect.probes import ProbeCollector

            out.append(
                ProbeCollector(
                    f"probe:{pr.name}", pr, interval=interval or pr.interval, timeout=pr.timeout
                )
            )
    for sq in config.sql_metrics:
        if sq.enabled:
            from watchkeeper.collect.sql_metrics import SqlMetricsCollector

            out.append(
                SqlMetricsCollector(
                    f"sql:{sq.name}", sq, interval=interval or sq.interval, timeout=sq.timeout
                )
            )
    for sc in config.scrape:
        if sc.enabled:
            from watchkeeper.collect.scrape import ScrapeCollector

            out.append(ScrapeCollector(sc, interval=interval or sc.interval, timeout=sc.timeout))
    return out
