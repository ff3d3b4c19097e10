"""The app config: validates ``settings.WATCHKEEPER`` at start and installs the hooks."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks

__all__ = ["WatchkeeperConfig"]


class WatchkeeperConfig(AppConfig):
    name = "watchkeeper.contrib.django"
    label = "watchkeeper"
    verbose_name = "watchkeeper monitoring"

    def ready(self) -> None:
        from watchkeeper.contrib.django import cache, db, signals
        from watchkeeper.contrib.django.state import get_instruments

        inst = get_instruments()  # a bad WATCHKEEPER setting fails here, at start
        opts = inst.site.options
        if opts.instrument_databases:
            db.install(inst.db)
        if opts.instrument_caches:
            cache.install(inst.cache)
        if opts.auth_signals and self.apps.is_installed("django.contrib.auth"):
            signals.install()
        checks.register(check_deployment, checks.Tags.compatibility)


def check_deployment(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn when the middleware is missing or several workers would not share metrics."""
    from django.conf import settings

    from watchkeeper.contrib.django.state import get_instruments

    found: list[checks.CheckMessage] = []
    path = "watchkeeper.contrib.django.middleware.WatchkeeperMiddleware"
    middleware = list(getattr(settings, "MIDDLEWARE", []))
    if path not in middleware:
        found.append(
            checks.Warning(
                "WatchkeeperMiddleware is not in MIDDLEWARE: no request metrics.",
                hint=f"Add {path!r} first in MIDDLEWARE.",
                id="watchkeeper.W001",
            )
        )
    elif middleware.index(path) != 0:
        found.append(
            checks.Info(
                "WatchkeeperMiddleware is not first in MIDDLEWARE: time spent in the "
                "middleware before it is not measured.",
                id="watchkeeper.I002",
            )
        )
    if get_instruments().registry.directory is None and not settings.DEBUG:
        found.append(
            checks.Warning(
                "No metrics directory: with several worker processes (gunicorn, uWSGI) "
                "each /metrics shows one worker's counts only.",
                hint="Set WATCHKEEPER_METRICS_DIR (or PROMETHEUS_MULTIPROC_DIR, or "
                'WATCHKEEPER["django"]["metrics_dir"]) to a directory the workers share.',
                id="watchkeeper.W003",
            )
        )
    return found
