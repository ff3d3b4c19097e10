"""A ``logging.Handler`` counting records by level and logger: ``log_messages_total{level,logger}``.

For log-based alerts (``increase(log_messages_total{level="ERROR"}[5m]) > 50``)
without shipping logs anywhere. It formats nothing and stores nothing: one
counter increment per record, multiprocess-exact like the HTTP metrics.
Logger names are capped (``max_loggers``, past it: ``other``); records of
levels below the handler's level are not counted.

In a Django site it writes to the integration's registry (the same
``/metrics``); elsewhere to ``default_registry()`` (``$WATCHKEEPER_METRICS_DIR``).
"""

from __future__ import annotations

import logging

from watchkeeper.contrib.app_metrics import shared_registry
from watchkeeper.contrib.metrics import Counter, Registry

__all__ = ["LogCountHandler"]


class LogCountHandler(logging.Handler):
    def __init__(
        self,
        level: int | str = logging.NOTSET,
        *,
        registry: Registry | None = None,
        max_loggers: int = 200,
    ) -> None:
        super().__init__(level)
        self._registry = registry
        self._max = max_loggers
        self._family: Counter | None = None

    def _counter(self) -> Counter:
        if self._family is None:
            registry = self._registry or shared_registry()
            self._family = registry.counter(
                "log_messages_total",
                "Log records emitted, by level and logger.",
                ("level", "logger"),
                max_series=self._max,
            )
        return self._family

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._counter().inc(record.levelname, record.name)
        except Exception:
            self.handleError(record)
