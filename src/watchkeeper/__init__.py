"""watchkeeper: production monitoring and alerting for Python web applications.

The public API is re-exported here. Names are resolved on first use (PEP 562)
so that ``import watchkeeper`` inside a web worker (the Django middleware)
costs nothing for the parts it does not touch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from watchkeeper._version import __version__

if TYPE_CHECKING:
    from watchkeeper.collect.base import AsyncCollector, Collector, SampleBuilder, SyncCollector
    from watchkeeper.collect.host import HostCollector
    from watchkeeper.collect.processes import ProcessMatch
    from watchkeeper.config.load import ConfigError, load_config
    from watchkeeper.config.model import Config
    from watchkeeper.model import Labels, MatchOp, Matcher, MetricMeta, MetricType, Sample
    from watchkeeper.runtime.build import build_runner
    from watchkeeper.runtime.runner import Runner
    from watchkeeper.store import Series, SeriesData, Store, StoreStats, open_store

_EXPORTS = {
    "AsyncCollector": "watchkeeper.collect.base",
    "Collector": "watchkeeper.collect.base",
    "SampleBuilder": "watchkeeper.collect.base",
    "SyncCollector": "watchkeeper.collect.base",
    "HostCollector": "watchkeeper.collect.host",
    "ProcessMatch": "watchkeeper.collect.processes",
    "Config": "watchkeeper.config.model",
    "ConfigError": "watchkeeper.config.load",
    "load_config": "watchkeeper.config.load",
    "Labels": "watchkeeper.model",
    "MatchOp": "watchkeeper.model",
    "Matcher": "watchkeeper.model",
    "MetricMeta": "watchkeeper.model",
    "MetricType": "watchkeeper.model",
    "Sample": "watchkeeper.model",
    "Runner": "watchkeeper.runtime.runner",
    "build_runner": "watchkeeper.runtime.build",
    "Series": "watchkeeper.store",
    "SeriesData": "watchkeeper.store",
    "Store": "watchkeeper.store",
    "StoreStats": "watchkeeper.store",
    "open_store": "watchkeeper.store",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'watchkeeper' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
