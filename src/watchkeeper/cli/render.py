"""Small terminal renderings: sparklines, values, times."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

__all__ = ["format_age", "format_time", "format_value", "sparkline"]

_BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int = 60) -> str:
    """Bucket-average ``values`` into ``width`` cells of block characters.

    NaN/Inf points are skipped; a gap in a bucket shows as a space.
    """
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return ""
    n = len(values)
    cells = min(width, n)
    buckets: list[float | None] = []
    for i in range(cells):
        part = [v for v in values[i * n // cells : (i + 1) * n // cells] if math.isfinite(v)]
        buckets.append(sum(part) / len(part) if part else None)
    lo, hi = min(finite), max(finite)
    span = hi - lo
    out = []
    for b in buckets:
        if b is None:
            out.append(" ")
        elif span == 0:
            out.append(_BLOCKS[3])
        else:
            out.append(_BLOCKS[min(7, int((b - lo) / span * 8))])
    return "".join(out)


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def format_time(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))


def format_age(ms: int, now_ms: int | None = None) -> str:
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    seconds = max(0, (now - ms) // 1000)
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    if seconds < 172800:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"
