"""Prometheus's wire formats: its envelope, timestamps, durations and numbers.

Kept apart from the routes so both the Prometheus API and watchkeeper's own
API parse ``time=2026-01-01T00:00:00Z`` / ``time=1767225600.5`` and
``step=15s`` / ``step=15`` the same way, with the same error messages.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from fastapi import Response

__all__ = [
    "ApiError",
    "error_response",
    "format_number",
    "matrix_json",
    "parse_duration_param",
    "parse_time_param",
    "success",
]

#: Prometheus's own "no limit" times, which Grafana and client libraries send.
_MIN_TIME = "-292273086-05-16T16:47:06Z"
_MAX_TIME = "292277025-08-18T07:12:54.999999999Z"
_MIN_MS = -9223372036854775
_MAX_MS = 9223372036854775
_STATUS = {
    "bad_data": 400,
    "execution": 422,
    "canceled": 499,
    "timeout": 503,
    "internal": 500,
    "unavailable": 501,
    "not_found": 404,
    "unauthorized": 401,
    "forbidden": 403,
    "too_large": 413,
}


class ApiError(Exception):
    """An error answered in Prometheus's envelope: ``{"status":"error","errorType":...}``."""

    def __init__(self, error_type: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.status = status or _STATUS.get(error_type, 400)


def error_response(exc: ApiError, headers: dict[str, str] | None = None) -> Response:
    body = {"status": "error", "errorType": exc.error_type, "error": str(exc)}
    return Response(json.dumps(body), exc.status, media_type="application/json", headers=headers)


def success(data: Any, warnings: list[str] | None = None) -> Response:
    body: dict[str, Any] = {"status": "success", "data": data}
    if warnings:
        body["warnings"] = warnings
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")


def parse_time_param(name: str, text: str | None, default_ms: int | None = None) -> int:
    """Milliseconds from a Unix timestamp (float seconds) or RFC 3339 text."""
    if text is None or text == "":
        if default_ms is None:
            raise ApiError("bad_data", f'invalid parameter "{name}": missing')
        return default_ms
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or abs(seconds) > _MAX_MS / 1000:
            raise ApiError("bad_data", f'invalid parameter "{name}": {text!r} is out of range')
        return round(seconds * 1000)
    if text == _MIN_TIME:
        return _MIN_MS
    if text == _MAX_TIME:
        return _MAX_MS
    try:
        value = text.replace("Z", "+00:00").replace("z", "+00:00")
        # Python reads at most microseconds; RFC 3339 allows nanoseconds.
        if "." in value:
            head, _, frac = value.partition(".")
            digits = frac[: len(frac) - len(frac.lstrip("0123456789"))]
            value = head + "." + digits[:6].ljust(6, "0") + frac[len(digits) :]
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None or "T" not in value.upper():
            raise ValueError
    except ValueError:
        raise ApiError(
            "bad_data",
            f'invalid parameter "{name}": cannot parse {text!r} to a valid timestamp',
        ) from None
    return round(parsed.timestamp() * 1000)


def parse_duration_param(name: str, text: str | None, default_s: float | None = None) -> float:
    """Seconds from float seconds (``15``, ``0.5``) or a Prometheus duration (``1m30s``)."""
    if text is None or text == "":
        if default_s is None:
            raise ApiError("bad_data", f'invalid parameter "{name}": missing')
        return default_s
    try:
        seconds = float(text)
    except ValueError:
        import promql_parser

        try:
            seconds = float(promql_parser.parse_duration(text).total_seconds())
        except (ValueError, OverflowError):
            raise ApiError(
                "bad_data", f'invalid parameter "{name}": cannot parse {text!r} to a valid duration'
            ) from None
    if not math.isfinite(seconds) or seconds > 10 * 365 * 86400:
        raise ApiError("bad_data", f'invalid parameter "{name}": {text!r} is out of range')
    return seconds


def format_number(value: float) -> str:
    """A float as Prometheus writes it (Go's ``'f', -1``): shortest, no exponent."""
    text = repr(value)
    if "e" in text or "n" in text:
        from watchkeeper.query.values import format_value

        return format_value(value)
    return text[:-2] if text.endswith(".0") else text


def _ts(ms: int) -> str:
    # Seconds with up to millisecond precision, as Prometheus writes them.
    if ms < 0:
        return "-" + _ts(-ms)
    sec, rem = divmod(ms, 1000)
    if rem == 0:
        return str(sec)
    return f"{sec}.{rem:03d}".rstrip("0")


def matrix_json(series: Iterable[tuple[dict[str, str], Iterable[int], Iterable[float]]]) -> str:
    """The ``result`` array of a matrix, built as text: large ranges stay fast."""
    parts = []
    for metric, timestamps, values in series:
        points = ",".join(
            f'[{_ts(t)},"{format_number(v)}"]' for t, v in zip(timestamps, values, strict=True)
        )
        parts.append(f'{{"metric":{json.dumps(metric)},"values":[{points}]}}')
    return "[" + ",".join(parts) + "]"
