"""Running the checks: concurrently, under timeouts, cached, single-flight.

A report is reused for ``cache_seconds``. When it is stale, the first
request starts one refresh and concurrent requests share it, so the
components see one round of checks per period however many requests arrive
(a load balancer polling every second, or 200 requests/s). During the
refresh, requests get the previous report if it is less than one more period
old (stale-while-revalidate), so no request waits on the database then; a
report older than that (or none yet) is awaited.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from watchkeeper.collect.service_errors import reason
from watchkeeper.health.base import CheckResult, HealthCheck, Status, SyncHealthCheck

__all__ = ["HealthReport", "HealthRunner"]


@dataclass(frozen=True)
class HealthReport:
    status: Status
    results: dict[str, CheckResult]
    checks: dict[str, HealthCheck]
    time: float
    #: Pre-rendered public body: the hot path serves bytes, not a serialization.
    public_body: bytes = field(repr=False, default=b"")

    def component_status(self, name: str) -> Status:
        return self.results[name].status

    def to_json(self, *, details: bool = True, only: str | None = None) -> dict[str, Any]:
        """The IETF health-check draft body (``application/health+json``)."""
        status = self.results[only].status if only is not None else self.status
        body: dict[str, Any] = {"status": status.value}
        if not details:
            return body
        body["serviceId"] = "watchkeeper"
        body["description"] = "health of the components watchkeeper checks"
        checks: dict[str, list[dict[str, Any]]] = {}
        for name, result in self.results.items():
            if only is not None and name != only:
                continue
            check = self.checks[name]
            measurement = _measurement(result.observed_unit)
            entry: dict[str, Any] = {
                "componentId": name,
                "componentType": check.component_type,
                "status": result.status.value,
                "time": _iso(result.time),
                "critical": check.critical,
                "durationMs": round(result.duration * 1000, 3),
            }
            if result.observed_value is not None:
                entry["observedValue"] = result.observed_value
            if result.observed_unit:
                entry["observedUnit"] = result.observed_unit
            if result.output:
                entry["output"] = result.output
            checks[f"{name}:{measurement}"] = [entry]
        body["checks"] = checks
        return body


def _measurement(unit: str | None) -> str:
    return {"ms": "responseTime", "%": "utilization", "d": "certificateExpiry"}.get(
        unit or "", "status"
    )


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def overall(checks: dict[str, HealthCheck], results: dict[str, CheckResult]) -> Status:
    """FAIL if a critical check failed; WARN if anything else is not passing; else PASS."""
    status = Status.PASS
    for name, result in results.items():
        if result.status is Status.FAIL and checks[name].critical:
            return Status.FAIL
        if result.status is not Status.PASS:
            status = Status.WARN
    return status


class HealthRunner:
    """Owns the checks; ``report()`` is what the endpoints and the CLI call."""

    def __init__(self, checks: Sequence[HealthCheck], *, cache_seconds: float = 5.0) -> None:
        names = [c.name for c in checks]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate health check names in {names}")
        self.checks = {c.name: c for c in checks}
        self.cache_seconds = cache_seconds
        self._report: HealthReport | None = None
        self._expires = 0.0
        self._inflight: asyncio.Future[HealthReport] | None = None
        sync = sum(isinstance(c, SyncHealthCheck) for c in checks)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, sync + 2), thread_name_prefix="health"
        )
        #: Rounds of checks run so far (each round runs every check once).
        self.rounds = 0

    async def report(self) -> HealthReport:
        """The cached report, refreshed (once, however many callers) when stale."""
        now = time.monotonic()
        report = self._report
        if report is not None and now < self._expires:
            return report
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._refresh())
            self._inflight.add_done_callback(self._clear_inflight)
        if report is not None and now < self._expires + self.cache_seconds:
            # Stale-while-revalidate: one period late at most, and no request
            # waits for the database while the refresh runs.
            return report
        return await asyncio.shield(self._inflight)

    def _clear_inflight(self, _: object) -> None:
        self._inflight = None

    async def _refresh(self) -> HealthReport:
        self.rounds += 1
        results = await asyncio.gather(*(self._run(c) for c in self.checks.values()))
        by_name = dict(zip(self.checks, results, strict=True))
        status = overall(self.checks, by_name)
        report = HealthReport(
            status,
            by_name,
            self.checks,
            time.time(),
            json.dumps({"status": status.value}).encode(),
        )
        self._report = report
        self._expires = time.monotonic() + self.cache_seconds
        return report

    async def _run(self, check: HealthCheck) -> CheckResult:
        started_wall = time.time()
        started = time.perf_counter()
        try:
            if isinstance(check, SyncHealthCheck):
                loop = asyncio.get_running_loop()
                coro: Any = loop.run_in_executor(self._pool, check.guarded_run)
            else:
                coro = check.run()
            result = await asyncio.wait_for(coro, check.timeout)
        except TimeoutError:
            result = CheckResult.failed(f"no answer within {check.timeout:g}s")
        except Exception as exc:
            result = CheckResult.failed(reason(exc, check.name))
        duration = time.perf_counter() - started
        return CheckResult(
            result.status,
            result.output,
            result.observed_value,
            result.observed_unit,
            started_wall,
            duration,
        )

    def close(self) -> None:
        for check in self.checks.values():
            with contextlib.suppress(Exception):  # closing is best effort at shutdown
                check.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
