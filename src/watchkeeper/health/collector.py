"""The health checks' results as metrics, recorded by ``watchkeeper run``.

Why: ``/health`` answers whoever asks, now. Recorded every ``health.interval``
the same results get a history (when did the database check start failing?)
and can alert (``HealthCheckFailing`` in the default pack), also when no load
balancer polls. The collector asks the same cached runner as the web, so a
poller and the recording share one round of checks per cache period.
"""

from __future__ import annotations

from collections.abc import Iterable

from watchkeeper.collect.base import AsyncCollector, gauge
from watchkeeper.health.base import Status
from watchkeeper.health.runner import HealthRunner
from watchkeeper.model import Labels, Sample

__all__ = ["HealthCollector"]


class HealthCollector(AsyncCollector):
    """``health_check_status{check,status,critical}`` (a state set) and durations."""

    metrics = (
        gauge(
            "health_check_status",
            "1 for the status each health check has now (pass, warn, fail), 0 for the others.",
            labels=("check", "status", "critical"),
        ),
        gauge(
            "health_check_duration_seconds",
            "How long the health check's last run took.",
            "seconds",
            ("check",),
        ),
    )

    def __init__(self, runner: HealthRunner, *, interval: float, timeout: float) -> None:
        super().__init__("health", interval=interval, timeout=timeout)
        self.runner = runner

    async def collect(self, now_ms: int) -> Iterable[Sample]:
        report = await self.runner.report()
        out: list[Sample] = []
        for name, result in report.results.items():
            critical = "true" if report.checks[name].critical else "false"
            for status in Status:
                labels = Labels({"check": name, "status": status.value, "critical": critical})
                out.append(
                    Sample("health_check_status", labels, now_ms, float(result.status is status))
                )
            out.append(
                Sample(
                    "health_check_duration_seconds",
                    Labels({"check": name}),
                    now_ms,
                    result.duration,
                )
            )
        return out
