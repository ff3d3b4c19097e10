"""The integration's per-process objects, built once from the settings.

One place owns the registry and the metric families so that the
middleware, the database and cache hooks, the signals and ``/metrics``
agree on them, and so tests can rebuild everything after changing settings.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from watchkeeper.contrib.django.cache import CacheMetrics
from watchkeeper.contrib.django.db import DatabaseMetrics
from watchkeeper.contrib.django.settings import SiteSettings, get_site_settings
from watchkeeper.contrib.http import HttpMetrics
from watchkeeper.contrib.metrics import Counter, Registry
from watchkeeper.contrib.security import FailedLoginTracker

__all__ = ["Instruments", "get_instruments", "reset_instruments"]


@dataclass
class Instruments:
    site: SiteSettings
    registry: Registry
    http: HttpMetrics
    db: DatabaseMetrics
    cache: CacheMetrics
    failed_logins: Counter
    staff_logins: Counter
    logins: FailedLoginTracker


_lock = threading.Lock()
_instruments: Instruments | None = None


def get_instruments() -> Instruments:
    global _instruments
    found = _instruments
    if found is not None:
        return found
    with _lock:
        if _instruments is None:
            site = get_site_settings()
            directory = site.metrics_dir
            registry = Registry(directory)
            opts = site.options
            _instruments = Instruments(
                site=site,
                registry=registry,
                http=HttpMetrics(registry, opts.http.options()),
                db=DatabaseMetrics(registry),
                cache=CacheMetrics(registry),
                failed_logins=registry.counter(
                    "auth_failed_logins_total", "Failed login attempts (user_login_failed)."
                ),
                staff_logins=registry.counter(
                    "auth_staff_logins_total", "Successful logins of staff users."
                ),
                logins=FailedLoginTracker(
                    directory,
                    window=opts.failed_login_window,
                    capacity=opts.failed_login_addresses,
                ),
            )
        return _instruments


def reset_instruments() -> None:
    """Forget everything (tests that change settings)."""
    global _instruments
    with _lock:
        if _instruments is not None:
            _instruments.registry.close()
        _instruments = None
