"""Rollups: min, max, sum, count and last per fixed step, and their merging.

Why these five: together they answer every downsampled question a dashboard
or a rule asks (avg = sum / count, peaks, counter rates from ``last``) and
they merge exactly, so a step split across two chunks (a head cut in the
middle of an hour) is combined at compaction or read time with no loss.
NaN samples (e.g. Prometheus stale markers) are not aggregated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from watchkeeper.store.tsdb.codec import DecimalScale

__all__ = ["Rollup", "compute_rollup", "merge_rollups"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass(slots=True)
class Rollup:
    """Aggregates per step; ``t`` is each step's start, oldest first."""

    t: I64
    count: I64
    min: F64
    max: F64
    sum: F64
    last: F64

    def __len__(self) -> int:
        return int(self.t.shape[0])

    def columns(self) -> list[I64 | F64]:
        return [self.t, self.count, self.min, self.max, self.sum, self.last]

    @classmethod
    def from_columns(cls, cols: list[I64 | F64]) -> Rollup:
        t, count, mn, mx, sm, last = cols
        return cls(
            t.astype(np.int64, copy=False),
            count.astype(np.int64, copy=False),
            mn.astype(np.float64, copy=False),
            mx.astype(np.float64, copy=False),
            sm.astype(np.float64, copy=False),
            last.astype(np.float64, copy=False),
        )

    def slice(self, start_ms: int, end_ms: int) -> Rollup:
        lo = int(np.searchsorted(self.t, start_ms, "left"))
        hi = int(np.searchsorted(self.t, end_ms, "right"))
        return Rollup(*(c[lo:hi] for c in self.columns()))  # type: ignore[arg-type]

    @classmethod
    def empty(cls) -> Rollup:
        z = np.zeros(0, np.float64)
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), z, z, z, z)


def compute_rollup(ts: I64, values: F64, step_ms: int, scale: DecimalScale | None = None) -> Rollup:
    """Aggregate sorted, duplicate-free ``(ts, values)`` per ``step_ms``.

    ``scale`` (the values as exact decimal integers) makes the sums exact
    decimals rather than float additions, which both is more accurate and
    keeps rollup chunks compact.
    """
    keep = ~np.isnan(values)
    if not keep.all():
        ts, values = ts[keep], values[keep]
        scale = None
    n = int(ts.shape[0])
    if n == 0:
        return Rollup.empty()
    bucket = ts // step_ms
    starts = np.flatnonzero(np.concatenate(([True], bucket[1:] != bucket[:-1])))
    ends = np.append(starts[1:], n)
    count = (ends - starts).astype(np.int64)
    if scale is not None and int(np.abs(scale.ints).max(initial=0)) * n < 2**62:
        sums = np.add.reduceat(scale.ints, starts).astype(np.float64)
        if scale.decimals:
            sums /= 10.0**scale.decimals
    else:
        sums = np.add.reduceat(values, starts)
    return Rollup(
        t=(bucket[starts] * step_ms).astype(np.int64),
        count=count,
        min=np.minimum.reduceat(values, starts),
        max=np.maximum.reduceat(values, starts),
        sum=sums,
        last=values[ends - 1],
    )


def merge_rollups(parts: list[Rollup]) -> Rollup:
    """Combine rollups given oldest first; equal steps merge, the later ``last`` wins."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return Rollup.empty()
    only = parts[0]
    if len(parts) == 1 and (len(only) < 2 or bool(np.all(only.t[1:] > only.t[:-1]))):
        return only
    t = np.concatenate([p.t for p in parts])
    order = np.argsort(t, kind="stable")
    t = t[order]
    count = np.concatenate([p.count for p in parts])[order]
    mn = np.concatenate([p.min for p in parts])[order]
    mx = np.concatenate([p.max for p in parts])[order]
    sm = np.concatenate([p.sum for p in parts])[order]
    last = np.concatenate([p.last for p in parts])[order]
    if t.size < 2 or bool(np.all(t[1:] > t[:-1])):
        return Rollup(t, count, mn, mx, sm, last)
    starts = np.flatnonzero(np.concatenate(([True], t[1:] != t[:-1])))
    ends = np.append(starts[1:], t.size)
    return Rollup(
        t=t[starts],
        count=np.add.reduceat(count, starts),
        min=np.minimum.reduceat(mn, starts),
        max=np.maximum.reduceat(mx, starts),
        sum=np.add.reduceat(sm, starts),
        last=last[ends - 1],
    )
