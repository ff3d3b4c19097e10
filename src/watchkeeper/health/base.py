"""What a health check is and what it answers.

A check is a small object with a name, a component type, a timeout and a
criticality. Its answer (``CheckResult``) carries the fields of the IETF
health-check draft: status, observed value and unit, time and output.
Checks that block (database drivers) subclass ``SyncHealthCheck``; the
runner calls them in a thread and never runs one twice at the same time.
"""

from __future__ import annotations

import abc
import enum
import threading
import time
from dataclasses import dataclass

__all__ = ["CheckResult", "HealthCheck", "Status", "SyncHealthCheck"]


class Status(enum.StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class CheckResult:
    status: Status
    output: str = ""
    observed_value: float | str | None = None
    observed_unit: str | None = None
    #: When the check ran (Unix time) and how long it took (seconds).
    time: float = 0.0
    duration: float = 0.0

    @classmethod
    def passed(cls, value: float | str | None = None, unit: str | None = None) -> CheckResult:
        return cls(Status.PASS, "", value, unit)

    @classmethod
    def failed(cls, output: str) -> CheckResult:
        return cls(Status.FAIL, output)


def threshold_status(value: float, warn: float | None, fail: float | None) -> Status:
    """FAIL at or above ``fail``, WARN at or above ``warn``, else PASS."""
    if fail is not None and value >= fail:
        return Status.FAIL
    if warn is not None and value >= warn:
        return Status.WARN
    return Status.PASS


class HealthCheck(abc.ABC):
    """A component to check. ``component_type`` follows the draft: datastore, component, system."""

    component_type = "component"

    def __init__(self, name: str, *, critical: bool = True, timeout: float = 2.0) -> None:
        self.name = name
        self.critical = critical
        self.timeout = timeout

    @abc.abstractmethod
    async def run(self) -> CheckResult:
        """Check now; raise or return a failed result when the component is unhealthy."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; called once at shutdown."""


class SyncHealthCheck(HealthCheck):
    """A check whose work blocks; ``run_sync`` is called in a worker thread.

    The lock makes a check that is still stuck (after its timeout fired, the
    thread cannot be killed) answer "still running" instead of piling up
    threads and connections.
    """

    def __init__(self, name: str, *, critical: bool = True, timeout: float = 2.0) -> None:
        super().__init__(name, critical=critical, timeout=timeout)
        self._lock = threading.Lock()
        #: Round trips to the component so far: lets tests and the benchmark
        #: prove the cache bounds the load on the database.
        self.round_trips = 0

    @abc.abstractmethod
    def run_sync(self) -> CheckResult:
        """Check now, blocking."""

    def guarded_run(self) -> CheckResult:
        if not self._lock.acquire(blocking=False):
            return CheckResult.failed("previous check still running (stuck past its timeout)")
        try:
            self.round_trips += 1
            return self.run_sync()
        finally:
            self._lock.release()

    async def run(self) -> CheckResult:  # pragma: no cover - the runner calls guarded_run
        return self.guarded_run()


def elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
