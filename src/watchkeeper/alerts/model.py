"""The alert as the notifier receives it: Alertmanager's API v2 ``postableAlert``.

Keeping Alertmanager's shape (labels, annotations, startsAt, endsAt,
generatorURL) means anything that can post to Alertmanager can post to
watchkeeper, and the fingerprint is computed exactly as Alertmanager does
(FNV-1a 64 over the sorted label pairs), so the same alert has the same id in
both systems.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from watchkeeper.model import Labels, is_valid_label_name

__all__ = [
    "AlertStatus",
    "InboundAlert",
    "InvalidAlert",
    "fingerprint",
    "format_time",
    "parse_time",
]

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1
_SEP = 0xFF
ALERTNAME = "alertname"


class InvalidAlert(ValueError):
    """A posted alert that cannot be used; the message names the field."""


class AlertStatus(enum.StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


def fingerprint(labels: Mapping[str, str] | Labels) -> str:
    """Alertmanager's fingerprint: 16 hex digits of FNV-1a 64 over sorted name/value pairs."""
    pairs = sorted(labels.items()) if isinstance(labels, Mapping) else list(labels)
    h = _FNV_OFFSET
    for name, value in pairs:
        for part in (name, value):
            for b in part.encode():
                h = ((h ^ b) * _FNV_PRIME) & _MASK
            h = ((h ^ _SEP) * _FNV_PRIME) & _MASK
    return f"{h:016x}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def format_time(ms: int) -> str:
    """RFC 3339 with milliseconds, UTC (``2024-01-02T03:04:05.678Z``)."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_time(value: str, what: str) -> int:
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidAlert(f"{what}: expected an RFC 3339 time, got {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class InboundAlert:
    """One alert as posted: firing while ``ends_at_ms`` is 0 or in the future."""

    labels: Labels
    annotations: Mapping[str, str] = field(default_factory=dict)
    starts_at_ms: int = 0
    #: 0: no end announced (firing). A past end means resolved.
    ends_at_ms: int = 0
    generator_url: str = ""

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)

    @property
    def alertname(self) -> str:
        return self.labels.get(ALERTNAME) or ""

    def status(self, at_ms: int | None = None) -> AlertStatus:
        at = now_ms() if at_ms is None else at_ms
        if self.ends_at_ms and self.ends_at_ms <= at:
            return AlertStatus.RESOLVED
        return AlertStatus.FIRING

    def resolved(self, at_ms: int | None = None) -> bool:
        return self.status(at_ms) is AlertStatus.RESOLVED

    # -- Alertmanager's JSON ------------------------------------------------------
    @classmethod
    def from_api(cls, data: Any, *, where: str = "alert") -> InboundAlert:
        """Parse one ``postableAlert``; raises InvalidAlert naming the bad field."""
        if not isinstance(data, Mapping):
            raise InvalidAlert(f"{where}: expected an object, got {type(data).__name__}")
        unknown = set(data) - {"labels", "annotations", "startsAt", "endsAt", "generatorURL"}
        if unknown:
            raise InvalidAlert(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        labels = _string_map(data.get("labels"), f"{where}.labels")
        if not labels:
            raise InvalidAlert(f"{where}.labels: at least one label is required")
        for name in labels:
            if not is_valid_label_name(name):
                raise InvalidAlert(f"{where}.labels: invalid label name {name!r}")
        annotations = _string_map(data.get("annotations") or {}, f"{where}.annotations")
        starts = data.get("startsAt")
        ends = data.get("endsAt")
        gen = data.get("generatorURL") or ""
        if not isinstance(gen, str):
            raise InvalidAlert(f"{where}.generatorURL: expected a string")
        starts_ms = parse_time(starts, f"{where}.startsAt") if starts else 0
        ends_ms = parse_time(ends, f"{where}.endsAt") if ends else 0
        if starts_ms and ends_ms and ends_ms < starts_ms:
            raise InvalidAlert(f"{where}: endsAt is before startsAt")
        return cls(Labels(labels), annotations, starts_ms, ends_ms, gen)

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"labels": dict(self.labels), "annotations": dict(self.annotations)}
        if self.starts_at_ms:
            out["startsAt"] = format_time(self.starts_at_ms)
        if self.ends_at_ms:
            out["endsAt"] = format_time(self.ends_at_ms)
        if self.generator_url:
            out["generatorURL"] = self.generator_url
        return out


def _string_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidAlert(f"{where}: expected an object of strings")
    out = {}
    for k, v in value.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise InvalidAlert(f"{where}: {k!r} must map to a string")
        out[k] = v
    return out
