"""Chunk rows: cutting head samples into them, reading and merging them.

A chunk row is (res, series_id, min_t, gen, max_t, n, data): ``res`` 0 holds
raw samples, 60,000 and 3,600,000 hold rollups at 1 min and 1 h. A chunk
never crosses its resolution's *span* (1 day raw, 4 days at 1 min, 64 days
at 1 h), so compaction merges whatever lies in one span into one chunk and
a range read touches one or two chunks per series.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from watchkeeper.store.tsdb.codec import (
    DecimalScale,
    decimal_scale,
    decode_chunk,
    encode_chunk,
)
from watchkeeper.store.tsdb.head import Run, dedupe_series
from watchkeeper.store.tsdb.rollup import Rollup, compute_rollup, merge_rollups

__all__ = [
    "RAW",
    "ROLLUP_RESOLUTIONS",
    "SPAN_MS",
    "ChunkRow",
    "cut_rows",
    "decode_raw",
    "decode_rollup",
    "merge_raw_rows",
    "merge_rollup_rows",
]

log = logging.getLogger("watchkeeper.store")

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

RAW = 0
ROLLUP_RESOLUTIONS = (60_000, 3_600_000)  # the cut derives hours from minutes
DAY = 86_400_000
SPAN_MS = {RAW: DAY, 60_000: 4 * DAY, 3_600_000: 64 * DAY}


@dataclass(frozen=True, slots=True)
class ChunkRow:
    res: int
    series_id: int
    min_t: int
    gen: int
    max_t: int
    n: int
    data: bytes

    def key(self) -> tuple[int, int, int, int]:
        return self.res, self.series_id, self.min_t, self.gen


def _span_slices(t: I64, span: int) -> Iterator[tuple[int, int]]:
    """[start, end) index ranges of sorted ``t`` that share a span."""
    n = int(t.shape[0])
    first, last = int(t[0]) // span, int(t[-1]) // span
    if first == last:
        yield 0, n
        return
    cuts = np.flatnonzero(np.diff(t // span)) + 1
    bounds = [0, *cuts.tolist(), n]
    yield from itertools.pairwise(bounds)


def series_rows(
    sid: int, ts: I64, vals: F64, gen: int, *, level: int, rollups: bool = True
) -> list[ChunkRow]:
    """Raw and rollup chunks for one series' sorted, duplicate-free points."""
    rows: list[ChunkRow] = []
    scale = decimal_scale(vals)
    slices = list(_span_slices(ts, SPAN_MS[RAW]))
    for a, b in slices:
        t, v = ts[a:b], vals[a:b]
        part = scale
        if len(slices) > 1 and scale is not None:
            part = DecimalScale(scale.decimals, scale.ints[a:b])
        blob = encode_chunk(0, [t, v], level=level, value_scale=part)
        rows.append(ChunkRow(RAW, sid, int(t[0]), gen, int(t[-1]), b - a, blob))
    if rollups:
        minute = compute_rollup(ts, vals, 60_000, scale)
        rows.extend(rollup_rows(sid, 60_000, minute, gen, level))
        # Hours from minutes: rollups merge exactly, and there are 6x fewer minutes than samples.
        hours = minute.t // 3_600_000 * 3_600_000
        m = minute
        hour = merge_rollups([Rollup(hours, m.count, m.min, m.max, m.sum, m.last)])
        rows.extend(rollup_rows(sid, 3_600_000, hour, gen, level))
    return rows


def rollup_rows(sid: int, res: int, r: Rollup, gen: int, level: int) -> list[ChunkRow]:
    rows: list[ChunkRow] = []
    if not len(r):
        return rows
    for a, b in _span_slices(r.t, SPAN_MS[res]):
        cols = [c[a:b] for c in r.columns()]
        blob = encode_chunk(1, cols, level=level)
        rows.append(ChunkRow(res, sid, int(r.t[a]), gen, int(r.t[b - 1]), b - a, blob))
    return rows


def cut_rows(run: Run, gen: int, *, level: int) -> list[ChunkRow]:
    """Every chunk row for a frozen head run (sorted by ref, ts; duplicates resolved)."""
    n = len(run)
    if not n:
        return []
    bounds = [0, *(np.flatnonzero(run.refs[1:] != run.refs[:-1]) + 1).tolist(), n]
    rows: list[ChunkRow] = []
    for a, b in itertools.pairwise(bounds):
        rows.extend(series_rows(int(run.refs[a]), run.ts[a:b], run.vals[a:b], gen, level=level))
    return rows


def decode_raw(data: bytes) -> tuple[I64, F64]:
    ts, vals = decode_chunk(data, 0)
    return ts.astype(np.int64, copy=False), vals.astype(np.float64, copy=False)


def decode_rollup(data: bytes) -> Rollup:
    return Rollup.from_columns(decode_chunk(data, 1))


def merge_raw_rows(rows: list[ChunkRow], gen: int, level: int) -> list[ChunkRow]:
    """One chunk from several of one series and span (they may overlap)."""
    # By generation: where chunks overlap, the later write wins.
    parts = [decode_raw(r.data) for r in sorted(rows, key=lambda r: (r.gen, r.min_t))]
    ts, vals = dedupe_series(
        np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    )
    return series_rows(rows[0].series_id, ts, vals, gen, level=level, rollups=False)


def merge_rollup_rows(rows: list[ChunkRow], gen: int, level: int) -> list[ChunkRow]:
    ordered = sorted(rows, key=lambda r: (r.gen, r.min_t))
    merged = merge_rollups([decode_rollup(r.data) for r in ordered])
    return rollup_rows(rows[0].series_id, rows[0].res, merged, gen, level)
