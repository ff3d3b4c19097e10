"""Block rows: cutting the head into them, merging and trimming them, all series at once.

A row is (res, grp, min_t, max_t, gen, level, n, nseries, dir, data): ``res``
0 holds raw samples, 60,000 and 3,600,000 rollups at 1 min and 1 h; ``grp``
is ``series_id >> GROUP_BITS``. A row never crosses its resolution's *span*
(1 day raw, 4 days at 1 min, 64 days at 1 h), so compaction merges what lies
in one span into one row and a range read touches one or two rows per
series. ``level`` counts merges (0 = straight from a cut), for tiered
compaction: rows of a span are merged four at a time, level by level, until
the span closes.

Every function here works on the concatenated columns of all series (sorted
by series, then time), never series by series.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from watchkeeper.store.tsdb.blocks import (
    GROUP_BITS,
    RAW_KIND,
    Block,
    FrameReader,
    decode_flat,
    encode_raw_block,
    encode_rollup_block,
    gather,
    segment_decimals,
)
from watchkeeper.store.tsdb.head import Run, sort_order

__all__ = [
    "FINAL_LEVEL",
    "RAW",
    "ROLLUP_RESOLUTIONS",
    "SPAN_MS",
    "BlockRow",
    "RollupCols",
    "cut_rows",
    "decode_row",
    "merge_rows",
]

log = logging.getLogger("watchkeeper.store")

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

RAW = 0
ROLLUP_RESOLUTIONS = (60_000, 3_600_000)  # the cut derives hours from minutes
DAY = 86_400_000
SPAN_MS = {RAW: DAY, 60_000: 4 * DAY, 3_600_000: 64 * DAY}
#: Level of a row merged from a whole span (nothing more to merge into it).
FINAL_LEVEL = 99
#: Payload per frame in merged rows: a reader decompresses about this much per series.
FRAME_BYTES = 16_384


@dataclass(frozen=True, slots=True)
class BlockRow:
    res: int
    grp: int
    min_t: int
    max_t: int
    gen: int
    level: int
    n: int
    nseries: int
    dir: bytes
    data: bytes

    def params(self) -> tuple[int, int, int, int, int, int, int, int, bytes, bytes]:
        return (
            self.res,
            self.grp,
            self.min_t,
            self.max_t,
            self.gen,
            self.level,
            self.n,
            self.nseries,
            self.dir,
            self.data,
        )


@dataclass(slots=True)
class RollupCols:
    """Rollup rows of many series, sorted by (ref, t)."""

    refs: I32
    t: I64
    count: I64
    min: F64
    max: F64
    sum: F64
    last: F64
    #: Likely decimal scale of each row's values (-1: unknown), a hint for the encoder.
    hint: npt.NDArray[np.int8] | None = None

    def __len__(self) -> int:
        return int(self.t.shape[0])

    def take(self, idx: npt.NDArray[np.intp] | slice) -> RollupCols:
        return RollupCols(
            self.refs[idx],
            self.t[idx],
            self.count[idx],
            self.min[idx],
            self.max[idx],
            self.sum[idx],
            self.last[idx],
            None if self.hint is None else self.hint[idx],
        )

    @staticmethod
    def concat(parts: list[RollupCols]) -> RollupCols:
        return RollupCols(*(np.concatenate([getattr(p, f) for p in parts]) for f in _ROLLUP_FIELDS))


_ROLLUP_FIELDS = ("refs", "t", "count", "min", "max", "sum", "last")


def _starts(*keys: npt.NDArray[np.int64] | I32) -> I64:
    n = keys[0].shape[0]
    change = np.zeros(n, bool)
    if n:
        change[0] = True
        for k in keys:
            change[1:] |= k[1:] != k[:-1]
    return np.flatnonzero(change).astype(np.int64)


def rollup_many(refs: I32, ts: I64, vals: F64, step_ms: int) -> RollupCols:
    """Aggregate samples sorted by (ref, ts) per ``step_ms``; NaN samples are not aggregated.

    A series whose values are exact decimals gets exact decimal sums (integer
    sums, scaled once), which are both more accurate and more compact.
    """
    keep = ~np.isnan(vals)
    if not keep.all():
        refs, ts, vals = refs[keep], ts[keep], vals[keep]
    if not ts.size:
        z = np.zeros(0)
        return RollupCols(
            np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.int64), z, z, z, z
        )
    s_starts = _starts(refs)
    s_len = np.diff(np.append(s_starts, ts.size))
    k, ints = segment_decimals(vals, s_starts, s_len)
    bucket = ts // step_ms
    starts = _starts(refs, bucket)
    ends = np.append(starts[1:], ts.size)
    count = ends - starts
    fsum = np.add.reduceat(vals, starts)
    # Exact decimal sums where the series has a scale and the sums cannot overflow.
    seg_k = np.repeat(k, s_len)[starts]
    peak = np.maximum.reduceat(np.abs(ints), starts) if ints.size else ints
    exact = (seg_k >= 0) & (peak.astype(np.float64) * count < 2.0**62)
    if exact.any():
        isum = np.add.reduceat(np.where(np.repeat(exact, count), ints, 0), starts)
        scale = 10.0 ** np.maximum(seg_k, 0)
        dsum = isum.astype(np.float64)
        dsum = np.where(seg_k > 0, dsum / scale, dsum)
        fsum = np.where(exact, dsum, fsum)
    return RollupCols(
        refs=refs[starts],
        t=bucket[starts] * step_ms,
        count=count.astype(np.int64),
        min=np.minimum.reduceat(vals, starts),
        max=np.maximum.reduceat(vals, starts),
        sum=fsum,
        last=vals[ends - 1],
        hint=seg_k,
    )


def merge_rollup_cols(r: RollupCols, step_ms: int | None = None) -> RollupCols:
    """Combine rows of equal (ref, step), later rows' ``last`` winning (input in write order).

    With ``step_ms``, steps are first coarsened to it (hours from minutes).
    """
    if not len(r):
        return r
    t = r.t if step_ms is None else r.t // step_ms * step_ms
    if t.size > 1 and not (
        np.all(r.refs[1:] >= r.refs[:-1]) and np.all((t[1:] > t[:-1]) | (r.refs[1:] != r.refs[:-1]))
    ):
        order = sort_order(r.refs, t)
        r = r.take(order)
        t = t[order]
    starts = _starts(r.refs, t)
    if starts.size == t.size:
        return RollupCols(r.refs, t, r.count, r.min, r.max, r.sum, r.last, r.hint)
    ends = np.append(starts[1:], t.size)
    return RollupCols(
        refs=r.refs[starts],
        t=t[starts],
        count=np.add.reduceat(r.count, starts),
        min=np.minimum.reduceat(r.min, starts),
        max=np.maximum.reduceat(r.max, starts),
        sum=np.add.reduceat(r.sum, starts),
        last=r.last[ends - 1],
        hint=None if r.hint is None else r.hint[starts],
    )


def _partition(refs: I32, t: I64, span: int) -> list[tuple[int, int, npt.NDArray[np.intp] | slice]]:
    """(grp, span index, selection) of data sorted by (ref, t), order kept inside each part."""
    grp = refs.astype(np.int64) >> GROUP_BITS
    sp = t // span
    if int(grp[0]) == int(grp[-1]) and int(sp.min()) == int(sp.max()):
        return [(int(grp[0]), int(sp[0]), slice(None))]
    key = grp * (1 << 40) + (sp - int(sp.min()))
    order = np.argsort(key, kind="stable")
    k = key[order]
    starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
    ends = np.append(starts[1:], k.size)
    return [
        (int(grp[order[a]]), int(sp[order[a]]), order[a:b])
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
    ]


def raw_rows(
    refs: I32,
    ts: I64,
    vals: F64,
    gen: int,
    level: int,
    *,
    zlevel: int,
    frame_bytes: int | None,
    hint: npt.NDArray[np.int8] | None = None,
) -> list[BlockRow]:
    """Raw rows for samples sorted by (ref, ts), without duplicates."""
    if not ts.size:
        return []
    rows = []
    for grp, _span, sel in _partition(refs, ts, SPAN_MS[RAW]):
        r, t, v = refs[sel], ts[sel], vals[sel]
        h = None if hint is None else hint[sel]
        d, data = encode_raw_block(r, t, v, level=zlevel, frame_bytes=frame_bytes, hint=h)
        nseries = int(np.count_nonzero(np.diff(r))) + 1
        rows.append(
            BlockRow(
                RAW, grp, int(t.min()), int(t.max()), gen, level, int(t.size), nseries, d, data
            )
        )
    return rows


def rollup_rows(
    r: RollupCols, res: int, gen: int, level: int, *, zlevel: int, frame_bytes: int | None
) -> list[BlockRow]:
    if not len(r):
        return []
    rows = []
    for grp, _span, sel in _partition(r.refs, r.t, SPAN_MS[res]):
        p = r.take(sel)
        d, data = encode_rollup_block(
            p.refs,
            p.t,
            p.count,
            p.min,
            p.max,
            p.sum,
            p.last,
            level=zlevel,
            frame_bytes=frame_bytes,
            hint=p.hint,
        )
        nseries = int(np.count_nonzero(np.diff(p.refs))) + 1
        rows.append(
            BlockRow(res, grp, int(p.t.min()), int(p.t.max()), gen, level, len(p), nseries, d, data)
        )
    return rows


def cut_rows(run: Run, gen: int, *, zlevel: int) -> list[BlockRow]:
    """Raw, 1 min and 1 h rows for a frozen head run (sorted by ref, ts; no duplicates)."""
    if not len(run):
        return []
    minute = rollup_many(run.refs, run.ts, run.vals, 60_000)
    # The rollup found each series' decimal scale: the raw encoder tries it first.
    hint = None
    if len(minute) and minute.hint is not None:
        first = _starts(minute.refs)
        pos = np.searchsorted(minute.refs[first], run.refs).clip(0, first.size - 1)
        known = minute.refs[first][pos] == run.refs
        hint = np.where(known, minute.hint[first][pos], -1).astype(np.int8)
    rows = raw_rows(run.refs, run.ts, run.vals, gen, 0, zlevel=zlevel, frame_bytes=None, hint=hint)
    rows += rollup_rows(minute, 60_000, gen, 0, zlevel=zlevel, frame_bytes=None)
    # Hours from minutes: rollups merge exactly, and there are 6x fewer minutes than samples.
    hour = merge_rollup_cols(minute, 3_600_000)
    rows += rollup_rows(hour, 3_600_000, gen, 0, zlevel=zlevel, frame_bytes=None)
    return rows


def decode_row(block: Block, data: object) -> tuple[I32, list[np.ndarray]]:
    """Every series of a row: (refs, columns) concatenated, sorted by (ref, t).

    The last column is a hint for re-encoding: each point's decimal scale (-1: none).
    """
    reader = FrameReader(block, data)
    nts = block.n_ts
    s = block.sids.size
    refs = np.repeat(block.sids, block.entry_n[nts:]).astype(np.int32)
    if block.kind == RAW_KIND:
        flat = decode_flat(reader, np.arange(block.entry_n.size, dtype=np.int64))
        ts = flat.ints[gather(flat.n, block.tsref.astype(np.int64))]
        idx = gather(flat.n, np.arange(nts, nts + s, dtype=np.int64))
        return refs, [ts, flat.floats[idx], flat.hint[idx]]
    flat = decode_flat(reader, np.arange(nts, nts + s, dtype=np.int64))
    out: list[np.ndarray] = []
    hint = np.zeros(0, np.int8)
    for k in range(6):
        idx = gather(flat.n, np.arange(s, dtype=np.int64) * 6 + k)
        out.append(flat.ints[idx] if k < 2 else flat.floats[idx])
        if k == 2:
            hint = flat.hint[idx]
    return refs, [*out, hint]


def _hint(part: tuple[I32, list[np.ndarray]], k: int) -> npt.NDArray[np.int8]:
    cols = part[1]
    return cols[k] if len(cols) > k else np.full(part[0].size, -1, np.int8)


def _raw_from(
    parts: list[tuple[I32, list[np.ndarray]]],
) -> tuple[I32, I64, F64, npt.NDArray[np.int8]]:
    refs = np.concatenate([p[0] for p in parts])
    ts = np.concatenate([p[1][0] for p in parts]).astype(np.int64)
    vals = np.concatenate([p[1][1] for p in parts]).astype(np.float64)
    hint = np.concatenate([_hint(p, 2) for p in parts]).astype(np.int8)
    order = sort_order(refs, ts)  # stable: the later write wins among equal keys
    refs, ts, vals, hint = refs[order], ts[order], vals[order], hint[order]
    if ts.size > 1:
        last = np.empty(ts.size, bool)
        last[-1] = True
        np.not_equal(ts[1:], ts[:-1], out=last[:-1])
        last[:-1] |= refs[1:] != refs[:-1]
        if not last.all():
            refs, ts, vals, hint = refs[last], ts[last], vals[last], hint[last]
    return refs, ts, vals, hint


def _rollup_from(parts: list[tuple[I32, list[np.ndarray]]]) -> RollupCols:
    r = RollupCols.concat(
        [
            RollupCols(
                p[0],
                p[1][0].astype(np.int64),
                p[1][1].astype(np.int64),
                p[1][2].astype(np.float64),
                p[1][3].astype(np.float64),
                p[1][4].astype(np.float64),
                p[1][5].astype(np.float64),
            )
            for p in parts
        ]
    )
    r.hint = np.concatenate([_hint(p, 6) for p in parts]).astype(np.int8)
    return merge_rollup_cols(r)


def merge_rows(
    res: int,
    decoded: list[tuple[I32, list[np.ndarray]]],
    gen: int,
    level: int,
    *,
    zlevel: int,
    keep_from: int | None = None,
) -> list[BlockRow]:
    """New rows from decoded rows given in write order (later rows win on equal keys).

    ``keep_from`` drops raw samples older than it (``delete_before``).
    """
    if res == RAW:
        refs, ts, vals, hint = _raw_from(decoded)
        if keep_from is not None:
            keep = ts >= keep_from
            refs, ts, vals, hint = refs[keep], ts[keep], vals[keep], hint[keep]
        return raw_rows(
            refs, ts, vals, gen, level, zlevel=zlevel, frame_bytes=FRAME_BYTES, hint=hint
        )
    r = _rollup_from(decoded)
    return rollup_rows(r, res, gen, level, zlevel=zlevel, frame_bytes=FRAME_BYTES)
