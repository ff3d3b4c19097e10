"""Turning ``health:`` configuration into check objects and a runner."""

from __future__ import annotations

from watchkeeper.config.health import (
    CallableCheckConfig,
    CeleryCheckConfig,
    CheckConfig,
    DiskCheckConfig,
    HealthConfig,
    MemoryCheckConfig,
    MySQLCheckConfig,
    PostgresCheckConfig,
    ProbeCheckConfig,
    RabbitMQCheckConfig,
    RedisCheckConfig,
)
from watchkeeper.health.base import HealthCheck
from watchkeeper.health.checks import (
    CallableCheck,
    CeleryCheck,
    DiskCheck,
    MemoryCheck,
    MySQLCheck,
    PostgresCheck,
    ProbeCheck,
    RabbitMQCheck,
    RedisCheck,
)
from watchkeeper.health.runner import HealthRunner

__all__ = ["build_check", "build_health_runner"]


def build_check(cfg: CheckConfig, default_timeout: float = 2.0) -> HealthCheck:
    """The check object for one configured component."""
    common = {"critical": cfg.critical, "timeout": cfg.timeout or default_timeout}
    if isinstance(cfg, PostgresCheckConfig):
        return PostgresCheck(cfg.name, cfg, **common)
    if isinstance(cfg, MySQLCheckConfig):
        return MySQLCheck(cfg.name, cfg, **common)
    if isinstance(cfg, RedisCheckConfig):
        return RedisCheck(cfg.name, cfg, **common)
    if isinstance(cfg, CeleryCheckConfig):
        return CeleryCheck(
            cfg.name, cfg.broker_url.get_secret_value(), min_workers=cfg.min_workers, **common
        )
    if isinstance(cfg, RabbitMQCheckConfig):
        return RabbitMQCheck(
            cfg.name,
            cfg.url.get_secret_value(),
            queues=cfg.queues,
            warn_messages=cfg.warn_messages,
            **common,
        )
    if isinstance(cfg, DiskCheckConfig):
        return DiskCheck(cfg.name, cfg.path, warn=cfg.warn_percent, fail=cfg.fail_percent, **common)
    if isinstance(cfg, MemoryCheckConfig):
        return MemoryCheck(cfg.name, warn=cfg.warn_percent, fail=cfg.fail_percent, **common)
    if isinstance(cfg, ProbeCheckConfig):
        # The probe's own timeout counts when the check sets none: it is where
        # a user who copies a probe from `collectors.probes` would have put it.
        common["timeout"] = cfg.timeout or cfg.probe.timeout or default_timeout
        return ProbeCheck(cfg.name, cfg.probe, warn_days=cfg.warn_days, **common)
    assert isinstance(cfg, CallableCheckConfig)
    return CallableCheck.from_target(cfg.name, cfg.target, **common)


def build_health_runner(config: HealthConfig) -> HealthRunner:
    """A runner over every configured check; raises ValueError naming a bad check."""
    checks = [build_check(c, config.timeout) for c in config.checks]
    return HealthRunner(checks, cache_seconds=config.cache)
