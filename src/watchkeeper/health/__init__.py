"""Health checks for load balancers, Kubernetes, cron and CI."""

from watchkeeper.health.base import CheckResult, HealthCheck, Status, SyncHealthCheck
from watchkeeper.health.build import build_check, build_health_runner
from watchkeeper.health.runner import HealthReport, HealthRunner

__all__ = [
    "CheckResult",
    "HealthCheck",
    "HealthReport",
    "HealthRunner",
    "Status",
    "SyncHealthCheck",
    "build_check",
    "build_health_runner",
]
