"""Turning the validated collector configuration into collector objects.

The one place that knows which config model builds which collector; the run
loop and ``watchkeeper collect --once`` both start from here.
"""

from __future__ import annotations

from collections.abc import Callable

from watchkeeper.collect.base import Collector
from watchkeeper.config.collectors import CollectorsConfig, HostConfig

__all__ = ["build_collectors"]


def build_collectors(
    config: CollectorsConfig,
    *,
    interval: float | None = None,
    extra: list[Callable[[], Collector]] | None = None,
) -> list[Collector]:
    """The enabled collectors; ``interval`` (``--interval``) overrides every configured one."""
    collectors: list[Collector] = []
    if config.host.enabled:
        collectors.append(_host(config.host, interval))
    # Service collectors (issue 6) are added here, one small builder each.
    from watchkeeper.collect.services import build_service_collectors

    collectors.extend(build_service_collectors(config, interval))
    for make in extra or ():
        collectors.append(make())
    return collectors


def _host(cfg: HostConfig, interval: float | None) -> Collector:
    from watchkeeper.collect.host import (
        DEFAULT_EXCLUDE_DEVICES,
        DEFAULT_EXCLUDE_FSTYPES,
        DEFAULT_EXCLUDE_INTERFACES,
        DEFAULT_EXCLUDE_MOUNTPOINTS,
        HostCollector,
        ProcessMatch,
    )

    processes = [
        ProcessMatch(p, p)
        if isinstance(p, str)
        else ProcessMatch(p.name, p.match or p.name, p.cmdline)
        for p in cfg.processes
    ]
    return HostCollector(
        "host",
        interval=interval or cfg.interval,
        timeout=cfg.timeout,
        per_cpu=cfg.per_cpu,
        processes=processes,
        exclude_fstypes=[*DEFAULT_EXCLUDE_FSTYPES, *(cfg.exclude_fstypes or [])],
        exclude_mountpoints=cfg.exclude_mountpoints
        if cfg.exclude_mountpoints is not None
        else DEFAULT_EXCLUDE_MOUNTPOINTS,
        exclude_devices=cfg.exclude_devices
        if cfg.exclude_devices is not None
        else DEFAULT_EXCLUDE_DEVICES,
        exclude_interfaces=cfg.exclude_interfaces
        if cfg.exclude_interfaces is not None
        else DEFAULT_EXCLUDE_INTERFACES,
    )
