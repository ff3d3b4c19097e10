"""Durations as people write them in YAML: ``10s``, ``1m30s``, ``500ms``, or plain seconds.

Prometheus's duration syntax is used so that values read the same in
watchkeeper.yml and in rule files.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

__all__ = ["Duration", "format_duration", "parse_duration"]

_UNITS = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
    "y": 31536000.0,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_FULL = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w|y))+$")


def parse_duration(value: str | float | int) -> float:
    """Seconds in ``value``; raises ValueError with the accepted forms."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 10s, 5m or 1h30m, got {value!r}")
    if isinstance(value, int | float):
        return _not_negative(float(value), value)
    text = str(value).strip()
    try:
        return _not_negative(float(text), value)
    except ValueError as exc:
        if "negative" in str(exc):
            raise
    if not _FULL.match(text):
        raise ValueError(f"expected a duration such as 10s, 5m or 1h30m, got {value!r}")
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))


def _not_negative(seconds: float, given: object) -> float:
    if seconds < 0 or seconds != seconds:  # NaN is not a duration either
        raise ValueError(f"a duration cannot be negative, got {given!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest Prometheus-style text for ``seconds`` (``90`` -> ``1m30s``)."""
    if seconds == 0:
        return "0s"
    ms = round(seconds * 1000)
    out = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        n, ms = divmod(ms, size)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)


def _validate(value: Any) -> float:
    return parse_duration(value)


#: A duration field: accepts "10s" or a number of seconds, holds float seconds.
Duration = Annotated[float, BeforeValidator(_validate), PlainSerializer(format_duration)]
