"""The health runner: concurrency, timeouts, criticality, caching and single-flight."""

from __future__ import annotations

import asyncio
import time

from watchkeeper.health.base import CheckResult, Status
from watchkeeper.health.checks import CallableCheck, DiskCheck, MemoryCheck
from watchkeeper.health.runner import HealthRunner


class Gate:
    """A check function that counts calls and blocks until released."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.entered = asyncio.Event()

    async def __call__(self) -> bool:
        self.calls += 1
        self.entered.set()
        await self.release.wait()
        return True


async def test_concurrent_requests_share_one_refresh_and_the_cache() -> None:
    gate = Gate()
    runner = HealthRunner([CallableCheck("db", gate, timeout=5)], cache_seconds=60)
    waiters = [asyncio.ensure_future(runner.report()) for _ in range(50)]
    await asyncio.sleep(0)  # let every request reach the in-flight refresh
    gate.release.set()
    reports = await asyncio.gather(*waiters)
    assert gate.calls == 1
    assert all(r is reports[0] for r in reports)
    await runner.report()  # within the cache period: no new run
    assert gate.calls == 1
    runner.close()


async def test_cache_zero_runs_every_time() -> None:
    calls = []
    runner = HealthRunner([CallableCheck("x", lambda: calls.append(1))], cache_seconds=0)
    await runner.report()
    await runner.report()
    assert len(calls) == 2
    runner.close()


async def test_timeout_fails_the_check_without_blocking_others() -> None:
    never = asyncio.Event()

    async def hang() -> None:
        await never.wait()

    runner = HealthRunner(
        [CallableCheck("slow", hang, timeout=0.05), CallableCheck("fast", lambda: True)],
        cache_seconds=0,
    )
    report = await runner.report()
    assert report.results["slow"] == CheckResult(
        Status.FAIL,
        "no answer within 0.05s",
        None,
        None,
        report.results["slow"].time,
        report.results["slow"].duration,
    )
    assert report.results["fast"].status is Status.PASS
    assert report.status is Status.FAIL
    runner.close()


async def test_non_critical_failure_only_warns() -> None:
    def broken() -> None:
        raise RuntimeError("smtp relay unreachable")

    runner = HealthRunner(
        [CallableCheck("mail", broken, critical=False), CallableCheck("ok", lambda: None)],
        cache_seconds=0,
    )
    report = await runner.report()
    assert report.status is Status.WARN
    assert report.results["mail"].output == "smtp relay unreachable (mail)"
    body = report.to_json()
    assert body["status"] == "warn"
    assert body["checks"]["mail:status"][0]["status"] == "fail"
    assert report.to_json(details=False) == {"status": "warn"}
    runner.close()


async def test_disk_and_memory_thresholds() -> None:
    runner = HealthRunner(
        [DiskCheck("disk", "/", warn=0.001, fail=100), MemoryCheck("mem", warn=99.9, fail=100)],
        cache_seconds=0,
    )
    report = await runner.report()
    disk = report.results["disk"]
    assert disk.status is Status.WARN
    assert disk.observed_unit == "%"
    assert isinstance(disk.observed_value, float)
    assert 0 < disk.observed_value < 100
    assert report.results["mem"].status is Status.PASS
    runner.close()


async def test_stale_report_is_served_while_one_refresh_runs() -> None:
    gate = Gate()
    gate.release.set()
    runner = HealthRunner([CallableCheck("db", gate, timeout=5)], cache_seconds=60)
    first = await runner.report()
    gate.release.clear()
    gate.entered.clear()
    runner._expires = time.monotonic() - 1  # stale, but within one more period
    stale = [await runner.report() for _ in range(10)]
    assert all(r is first for r in stale)  # answered at once, from the old report
    inflight = runner._inflight
    assert inflight is not None
    await asyncio.wait_for(gate.entered.wait(), 5)
    assert gate.calls == 2  # one refresh for the ten requests, running in the background
    gate.release.set()
    fresh = await inflight
    assert fresh is not first
    assert await runner.report() is fresh
    runner.close()


def test_a_probe_check_takes_the_probe_timeout_unless_the_check_sets_one() -> None:
    from watchkeeper.config.health import HealthConfig
    from watchkeeper.health.build import build_check

    def check(entry: dict[str, object]) -> float:
        cfg = HealthConfig.model_validate({"checks": [entry]}).checks[0]
        return build_check(cfg, default_timeout=2.0).timeout

    probe = {"type": "tcp", "target": "127.0.0.1:9", "timeout": 7}
    assert check({"name": "api", "type": "probe", "probe": probe}) == 7.0
    assert check({"name": "api", "type": "probe", "probe": probe, "timeout": 3}) == 3.0
    bare = {"type": "tcp", "target": "127.0.0.1:9"}
    assert check({"name": "api", "type": "probe", "probe": bare}) == 2.0
