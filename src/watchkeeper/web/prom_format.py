"""Prometheus's wire formats: its envelope, timestamps, durations and numbers.

Kept apart from the routes so both the Prometheus API and watchkeeper's own
API parse ``time=2026-01-01T00:00:00Z`` / ``time=1767225600.5`` and
``step=15s`` / ``step=15`` the same way, with the same error messages.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import numpy as np
import orjson
from fastapi import Response

__all__ = [
    "ApiError",
    "error_response",
    "format_number",
    "matrix_chunks",
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


#: Timestamps (ms) below this are written as float seconds directly: their
#: shortest float text is exactly the millisecond decimal (ulp < 0.0002 s).
_FLOAT_TS_LIMIT = 10**15


def _ts_texts(ts: np.ndarray) -> list[str]:
    """Timestamps (int ms) as Prometheus writes them: whole seconds as ints,
    the rest as seconds with up to three decimals (``1.5``, ``1700000000.123``).

    Shortest float text of ``ms / 1000`` is the millisecond decimal itself
    while ``|ms| < 10**15``, so orjson writes them all in C; beyond that
    (never a real time) each is written exactly, one by one.
    """
    if ts.size and int(np.abs(ts).max()) >= _FLOAT_TS_LIMIT:
        return [_ts(t) for t in ts.tolist()]
    rem = ts % 1000
    whole = rem == 0
    if whole.all():
        items: Any = ts // 1000
    elif not whole.any():
        items = ts / 1000
    else:
        items = np.where(whole, (ts // 1000).astype(object), (ts / 1000).astype(object)).tolist()
    texts: list[str] = (
        orjson.dumps(items, option=orjson.OPT_SERIALIZE_NUMPY).decode()[1:-1].split(",")
    )
    return texts


def _value_tokens(values: np.ndarray) -> list[bytes]:
    """Values as Go's ``'f', -1`` writes them: shortest round-trip, no exponent, no ``.0``.

    orjson writes the shortest round-trip digits in C (the same digits as
    ``repr``, checked against it in tests/web); the few values it writes
    differently (integers as ``3.0``, exponents, NaN/Inf, -0) are fixed up
    by index, found with whole-array comparisons.
    """
    # Bytes, not str: splitting and joining them is ~10 % cheaper.
    toks = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].split(b",")
    if not values.size:
        return []
    mag = np.abs(values)
    with np.errstate(invalid="ignore"):
        odd = (
            ~np.isfinite(values)
            | (mag >= 1e16)
            | ((mag < 1e-4) & (values != 0))
            | ((values == 0) & np.signbit(values))
        )
        whole = (values == np.floor(values)) & ~odd
    if whole.all():
        ints: list[bytes] = orjson.dumps(
            values.astype(np.int64), option=orjson.OPT_SERIALIZE_NUMPY
        )[1:-1].split(b",")
        return ints
    if whole.any():
        where = np.flatnonzero(whole)
        texts = orjson.dumps(values[where].astype(np.int64), option=orjson.OPT_SERIALIZE_NUMPY)
        for i, text in zip(where.tolist(), texts[1:-1].split(b","), strict=True):
            toks[i] = text
    if odd.any():
        for i in np.flatnonzero(odd).tolist():
            toks[i] = format_number(float(values[i])).encode()
    return toks


def matrix_json(series: Iterable[tuple[dict[str, str], Any, Any]]) -> str:
    """The ``result`` array of a matrix, built as text: large ranges stay fast.

    ``series``: (labels, timestamps in ms, values) with array-likes (numpy
    arrays are used as they are). See :func:`matrix_chunks` for how.
    """
    return b"".join(matrix_chunks(series, per_chunk=1 << 30)).decode()


def matrix_chunks(
    series: Iterable[tuple[dict[str, str], Any, Any]], per_chunk: int = 16
) -> Iterator[bytes]:
    """:func:`matrix_json`'s text in pieces of ``per_chunk`` series, so a large
    answer can be on its way while the rest is written.

    The values of a piece are written by one ``orjson.dumps``; each series'
    points are then its timestamps' text (shared by the series with the same
    steps) interleaved with its value texts and joined once: 100 series x
    1,441 points in ~15 ms here, against ~60 ms with ``json`` (bench/web.py).
    """
    cache: list[tuple[np.ndarray, list[bytes]]] = []
    rows: list[tuple[dict[str, str], np.ndarray, np.ndarray]] = []
    started = False
    for metric, timestamps, values in series:
        ts = np.asarray(timestamps, dtype=np.int64)
        vs = np.asarray(values, dtype=np.float64)
        if ts.shape != vs.shape:
            raise ValueError("timestamps and values differ in length")
        rows.append((metric, ts, vs))
        if len(rows) == per_chunk:
            yield (b"," if started else b"[") + _matrix_items(rows, cache)
            started, rows = True, []
    if rows:
        yield (b"," if started else b"[") + _matrix_items(rows, cache)
    yield b"]" if started or rows else b"[]"


def _matrix_items(
    rows: list[tuple[dict[str, str], np.ndarray, np.ndarray]],
    cache: list[tuple[np.ndarray, list[bytes]]],
) -> bytes:
    """The comma-separated result objects of ``rows``; ``cache`` keeps the last
    steps' timestamp text between calls."""
    toks = _value_tokens(np.concatenate([r[2] for r in rows]))
    parts = []
    at = 0
    for metric, ts, _ in rows:
        m = int(ts.size)
        points = b"[]"
        if m:
            # A range query's series mostly share their steps: write them once.
            if cache and (
                cache[0][0] is ts
                or (cache[0][0].shape == ts.shape and np.array_equal(cache[0][0], ts))
            ):
                lead = cache[0][1]
            else:
                lead = [f'"],[{t},"'.encode() for t in _ts_texts(ts)]
                lead[0] = b"[" + lead[0][3:]
                cache[:] = [(ts, lead)]
            pieces: list[bytes] = [b""] * (2 * m)
            pieces[0::2] = lead
            pieces[1::2] = toks[at : at + m]
            points = b"".join(pieces) + b'"]]'
            at += m
        parts.append(b'{"metric":%s,"values":%s}' % (json.dumps(metric).encode(), points))
    return b",".join(parts)
