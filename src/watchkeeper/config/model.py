"""The root of watchkeeper.yml. Every setting has a default: no file is needed."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from watchkeeper.config.base import PositiveDuration, StrictModel
from watchkeeper.config.collectors import CollectorsConfig
from watchkeeper.config.duration import Duration, format_duration
from watchkeeper.config.health import HealthConfig
from watchkeeper.config.notify import NotifyConfig
from watchkeeper.config.rules import RulesConfig
from watchkeeper.config.web import WebConfig
from watchkeeper.model import is_valid_label_name

__all__ = ["Config", "GlobalConfig", "LogConfig", "StorageConfig", "default_data_dir"]

LogLevel = Literal["debug", "info", "warning", "error", "critical"]


def default_data_dir() -> Path:
    """``$WATCHKEEPER_DATA_DIR``, else ``$XDG_DATA_HOME/watchkeeper``, else the XDG default.

    Fixed rather than relative to the working directory so that
    ``watchkeeper query`` in any shell finds what ``watchkeeper run`` stores.
    """
    env = os.environ.get("WATCHKEEPER_DATA_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "watchkeeper"


def _default_labels() -> dict[str, str]:
    return {"instance": socket.gethostname()}


class GlobalConfig(StrictModel):
    #: Labels added to every collected sample unless the collector sets them.
    #: ``instance`` is always there (the host name) unless set, or set to "" to drop it.
    labels: dict[str, str] = Field(default_factory=_default_labels)

    @field_validator("labels", mode="before")
    @classmethod
    def _keep_instance(cls, labels: object) -> object:
        if isinstance(labels, dict):
            merged = {**_default_labels(), **labels}
            return {k: v for k, v in merged.items() if v != ""}
        return labels

    @field_validator("labels")
    @classmethod
    def _valid_names(cls, labels: dict[str, str]) -> dict[str, str]:
        for name in labels:
            if not is_valid_label_name(name):
                raise ValueError(f"invalid label name {name!r}: use letters, digits and _")
        return labels


class LogConfig(StrictModel):
    level: LogLevel = "info"
    format: Literal["console", "json"] = "console"
    #: Level per logger, e.g. ``{watchkeeper.store: debug}``.
    loggers: dict[str, LogLevel] = Field(default_factory=dict)


class StorageConfig(StrictModel):
    #: The store file; defaults to ``<data dir>/watchkeeper.db``.
    path: Path = Field(default_factory=lambda: default_data_dir() / "watchkeeper.db")
    #: How long raw samples are kept.
    retention: Duration = 15 * 86400.0
    #: How long the 1-minute and 1-hour rollups (min, max, sum, count, last) are kept.
    retention_1m: Duration = 90 * 86400.0
    retention_1h: Duration = 2 * 365 * 86400.0
    #: Recent samples kept uncompressed in memory (about 20 bytes each) before
    #: they are cut into compressed chunks.
    head_samples: int = Field(250_000, ge=10_000, le=100_000_000)
    #: Memory for decompressed blocks that queries and rules read again (MiB).
    decode_cache_mb: int = Field(32, ge=0, le=65_536)
    #: Samples written per batch at most.
    batch_size: int = Field(5000, ge=1, le=1_000_000)
    #: Buffered samples are written at least this often.
    flush_interval: PositiveDuration = 1.0
    #: Samples held in memory while the store is failing, before the oldest are dropped.
    max_buffered_samples: int = Field(1_000_000, ge=1000)

    @field_validator("path")
    @classmethod
    def _expand(cls, path: Path) -> Path:
        return path.expanduser()

    @field_validator("retention", "retention_1m", "retention_1h")
    @classmethod
    def _retention_floor(cls, value: float) -> float:
        if value < 3600:
            raise ValueError(f"must be at least 1h, got {format_duration(value)}")
        return value

    def retention_ms(self) -> dict[int, int]:
        """Retention per resolution (0 = raw, 60000 = 1 min, 3600000 = 1 h), in ms."""
        return {
            0: int(self.retention * 1000),
            60_000: int(self.retention_1m * 1000),
            3_600_000: int(self.retention_1h * 1000),
        }


class Config(StrictModel):
    """The whole configuration (``watchkeeper.yml``)."""

    global_: GlobalConfig = Field(default_factory=GlobalConfig, alias="global")
    log: LogConfig = Field(default_factory=LogConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    collectors: CollectorsConfig = Field(default_factory=CollectorsConfig)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)

    @field_validator(
        "global_", "log", "storage", "collectors", "rules", "health", "web", "notify", mode="before"
    )
    @classmethod
    def _none_is_default(cls, value: object) -> object:
        return {} if value is None else value
