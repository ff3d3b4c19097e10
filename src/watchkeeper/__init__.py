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
    from watchkeeper.alerts import AlertsDB, AlertService, AlertServiceError, InboundAlert
    from watchkeeper.collect.base import AsyncCollector, Collector, SampleBuilder, SyncCollector
    from watchkeeper.collect.discover import discover_services
    from watchkeeper.collect.host import HostCollector
    from watchkeeper.collect.processes import ProcessMatch
    from watchkeeper.config.load import ConfigError, load_config
    from watchkeeper.config.model import Config
    from watchkeeper.health import (
        CheckResult,
        HealthCheck,
        HealthRunner,
        Status,
        build_health_runner,
    )
    from watchkeeper.model import Labels, Matcher, MatchOp, MetricMeta, MetricType, Sample
    from watchkeeper.notify import Notifier, build_notifier
    from watchkeeper.query import (
        Matrix,
        MemoryStore,
        QueryError,
        Scalar,
        Vector,
        instant_query,
        parse_selector,
        range_query,
    )
    from watchkeeper.rules import RuleFileError, RuleGroupRunner, load_rule_groups
    from watchkeeper.runtime.build import build_runner
    from watchkeeper.runtime.runner import Runner
    from watchkeeper.store import (
        Series,
        SeriesData,
        Store,
        StoreBusyError,
        StoreStats,
        TSDBStore,
        open_store,
    )
    from watchkeeper.web.alert_board import AlertBoard, AlertView, GroupView, RuleView
    from watchkeeper.web.app import create_app
    from watchkeeper.web.health import create_health_app, health_router
    from watchkeeper.web.server import WebServer

_EXPORTS = {
    "AlertBoard": "watchkeeper.web.alert_board",
    "AlertService": "watchkeeper.alerts",
    "AlertServiceError": "watchkeeper.alerts",
    "AlertView": "watchkeeper.web.alert_board",
    "AlertsDB": "watchkeeper.alerts",
    "AsyncCollector": "watchkeeper.collect.base",
    "CheckResult": "watchkeeper.health",
    "Collector": "watchkeeper.collect.base",
    "Config": "watchkeeper.config.model",
    "ConfigError": "watchkeeper.config.load",
    "GroupView": "watchkeeper.web.alert_board",
    "HealthCheck": "watchkeeper.health",
    "HealthRunner": "watchkeeper.health",
    "HostCollector": "watchkeeper.collect.host",
    "InboundAlert": "watchkeeper.alerts",
    "Labels": "watchkeeper.model",
    "MatchOp": "watchkeeper.model",
    "Matcher": "watchkeeper.model",
    "Matrix": "watchkeeper.query",
    "MemoryStore": "watchkeeper.query",
    "MetricMeta": "watchkeeper.model",
    "MetricType": "watchkeeper.model",
    "Notifier": "watchkeeper.notify",
    "ProcessMatch": "watchkeeper.collect.processes",
    "QueryError": "watchkeeper.query",
    "RuleFileError": "watchkeeper.rules",
    "RuleGroupRunner": "watchkeeper.rules",
    "RuleView": "watchkeeper.web.alert_board",
    "Runner": "watchkeeper.runtime.runner",
    "Sample": "watchkeeper.model",
    "SampleBuilder": "watchkeeper.collect.base",
    "Scalar": "watchkeeper.query",
    "Series": "watchkeeper.store",
    "SeriesData": "watchkeeper.store",
    "Status": "watchkeeper.health",
    "Store": "watchkeeper.store",
    "StoreBusyError": "watchkeeper.store",
    "StoreStats": "watchkeeper.store",
    "SyncCollector": "watchkeeper.collect.base",
    "TSDBStore": "watchkeeper.store",
    "Vector": "watchkeeper.query",
    "WebServer": "watchkeeper.web.server",
    "build_health_runner": "watchkeeper.health",
    "build_notifier": "watchkeeper.notify",
    "build_runner": "watchkeeper.runtime.build",
    "create_app": "watchkeeper.web.app",
    "create_health_app": "watchkeeper.web.health",
    "discover_services": "watchkeeper.collect.discover",
    "health_router": "watchkeeper.web.health",
    "instant_query": "watchkeeper.query",
    "load_config": "watchkeeper.config.load",
    "load_rule_groups": "watchkeeper.rules",
    "open_store": "watchkeeper.store",
    "parse_selector": "watchkeeper.query",
    "range_query": "watchkeeper.query",
}

__all__ = [
    "AlertBoard",
    "AlertService",
    "AlertServiceError",
    "AlertView",
    "AlertsDB",
    "AsyncCollector",
    "CheckResult",
    "Collector",
    "Config",
    "ConfigError",
    "GroupView",
    "HealthCheck",
    "HealthRunner",
    "HostCollector",
    "InboundAlert",
    "Labels",
    "MatchOp",
    "Matcher",
    "Matrix",
    "MemoryStore",
    "MetricMeta",
    "MetricType",
    "Notifier",
    "ProcessMatch",
    "QueryError",
    "RuleFileError",
    "RuleGroupRunner",
    "RuleView",
    "Runner",
    "Sample",
    "SampleBuilder",
    "Scalar",
    "Series",
    "SeriesData",
    "Status",
    "Store",
    "StoreBusyError",
    "StoreStats",
    "SyncCollector",
    "TSDBStore",
    "Vector",
    "WebServer",
    "__version__",
    "build_health_runner",
    "build_notifier",
    "build_runner",
    "create_app",
    "create_health_app",
    "discover_services",
    "health_router",
    "instant_query",
    "load_config",
    "load_rule_groups",
    "open_store",
    "parse_selector",
    "range_query",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'watchkeeper' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
