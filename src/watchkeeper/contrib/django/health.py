"""Health checks of the site's own databases and caches, run the way Django runs them.

The checks go through Django's ``connections`` and ``caches`` with the
site's settings, so they test exactly what the views use. Each check
thread keeps its database connection open (reconnecting only once it is
unusable) instead of opening one per check as django-health-check does; the
runner's cache (``health.cache``, 5 s) bounds the load to one query per
period per worker however often a load balancer polls.

The runner is asyncio-based; Django views may be sync, so it lives on one
event loop in a daemon thread per process and views submit to it.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

from watchkeeper.health.base import CheckResult, SyncHealthCheck, elapsed_ms
from watchkeeper.health.build import build_check
from watchkeeper.health.runner import HealthReport, HealthRunner

__all__ = ["DjangoCacheCheck", "DjangoDatabaseCheck", "get_report", "get_runner"]


class DjangoDatabaseCheck(SyncHealthCheck):
    component_type = "datastore"

    def __init__(self, alias: str, **kw: Any) -> None:
        super().__init__(f"db-{alias}", **kw)
        self.alias = alias

    def run_sync(self) -> CheckResult:
        from django.db import connections

        conn = connections[self.alias]
        if conn.connection is not None and not conn.is_usable():
            conn.close()
        started = time.perf_counter()
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return CheckResult.passed(elapsed_ms(started), "ms")

    def close(self) -> None:
        from django.db import connections

        connections[self.alias].close()


class DjangoCacheCheck(SyncHealthCheck):
    component_type = "datastore"

    def __init__(self, alias: str, **kw: Any) -> None:
        super().__init__(f"cache-{alias}", **kw)
        self.alias = alias
        self.key = f"watchkeeper:health:{uuid.uuid4().hex}"

    def run_sync(self) -> CheckResult:
        from django.core.cache import caches

        cache = caches[self.alias]
        token = uuid.uuid4().hex
        started = time.perf_counter()
        cache.set(self.key, token, 30)
        # The site's hit/miss counters are for its traffic, not for this probe.
        get = getattr(cache, "_watchkeeper_uncounted_get", cache.get)
        if get(self.key) != token:
            return CheckResult.failed("a value written was not read back")
        return CheckResult.passed(elapsed_ms(started), "ms")


_lock = threading.Lock()
_runner: HealthRunner | None = None
_loop: asyncio.AbstractEventLoop | None = None


def _build_runner() -> HealthRunner:
    from django.conf import settings

    from watchkeeper.contrib.django.settings import get_site_settings

    site = get_site_settings()
    health = site.config.health
    checks = [build_check(c, health.timeout) for c in health.checks]
    if site.options.discover:
        for alias in getattr(settings, "DATABASES", {}):
            checks.append(DjangoDatabaseCheck(alias, timeout=health.timeout, critical=True))
        for alias, cfg in getattr(settings, "CACHES", {}).items():
            if "DummyCache" not in str(cfg.get("BACKEND", "")):
                checks.append(DjangoCacheCheck(alias, timeout=health.timeout, critical=False))
    return HealthRunner(checks, cache_seconds=health.cache)


def get_runner() -> tuple[HealthRunner, asyncio.AbstractEventLoop]:
    global _runner, _loop
    with _lock:
        if _runner is None or _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(
                target=loop.run_forever, name="watchkeeper-health", daemon=True
            ).start()
            _runner, _loop = _build_runner(), loop
        return _runner, _loop


def get_report(timeout: float = 30.0) -> HealthReport:
    """The current report (cached by the runner), from a sync view."""
    runner, loop = get_runner()
    return asyncio.run_coroutine_threadsafe(runner.report(), loop).result(timeout)


async def get_report_async() -> HealthReport:
    runner, loop = get_runner()
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(runner.report(), loop))


def reset_runner() -> None:
    """Stop the runner (tests)."""
    global _runner, _loop
    with _lock:
        if _runner is not None:
            _runner.close()
        if _loop is not None:
            _loop.call_soon_threadsafe(_loop.stop)
        _runner = _loop = None
