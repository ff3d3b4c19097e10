"""Reading many series at once: index ranges into sorted sources, merged in whole-array steps.

Why: a rule evaluation reads thousands of series per selector. Looking each
one up (two binary searches per head run, a slice, an object) costs a few
microseconds of Python per series and per run; here every source (a head
run, a decoded block row) answers for all series with two ``searchsorted``
calls over a packed ``(row << 40) | (ts - t0)`` key, and the sources are
joined by computed positions rather than a sort when they do not overlap in
time (the usual case: block rows hold what is older than the head).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Packed", "Ranges", "gather", "last_at", "merge_parts", "pack", "ranges_index"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

#: The packed key holds the row above this many bits of time offset.
KEY_SHIFT = 40
_MAX_ROW = 1 << 23
_LIMIT = (1 << KEY_SHIFT) - 1


@dataclass(slots=True)
class Packed:
    """The search key of points sorted by (row, ts)."""

    key: I64
    t0: int
    t1: int
    #: No (row, ts) appears twice, so the points need no deduplication.
    clean: bool

    def window(self, rows: I64, start_ms: int, end_ms: int) -> tuple[I64, I64] | None:
        """``[lo, hi)`` of each of ``rows``' points in ``[start_ms, end_ms]``; None if none."""
        a = max(start_ms - self.t0, 0)
        b = min(end_ms - self.t0, _LIMIT)
        if a > b or end_ms < self.t0 or start_ms > self.t1:
            return None
        base = rows.astype(np.int64) << KEY_SHIFT
        lo = np.searchsorted(self.key, base | a, "left").astype(np.int64, copy=False)
        hi = np.searchsorted(self.key, base | b, "right").astype(np.int64, copy=False)
        return lo, hi


def pack(rows: npt.NDArray[np.integer], ts: I64) -> Packed | None:
    """The key of points sorted by (row, ts); None when they are not sorted, or
    rows or times do not fit the key (callers then go one series at a time)."""
    if not ts.size:
        return None
    t0, t1 = int(ts.min()), int(ts.max())
    if t1 - t0 > _LIMIT or int(rows.min()) < 0 or int(rows.max()) >= _MAX_ROW:
        return None
    key = (rows.astype(np.int64) << KEY_SHIFT) | (ts - t0)
    step = key[1:] - key[:-1]
    if bool((step < 0).any()):
        return None
    return Packed(key, t0, t1, bool((step > 0).all()))


@dataclass(slots=True)
class Ranges:
    """One source's points of many series: series ``i`` owns ``ts[lo[i]:hi[i]]``."""

    ts: I64
    vals: F64
    lo: I64
    hi: I64
    #: Bounds of every point the ranges can hold (to tell disjoint sources).
    tmin: int
    tmax: int
    #: Sorted by time within each series, with no timestamp twice.
    clean: bool
    #: The search key over ``ts`` and each series' row in it (-1: none), when
    #: the source has one: ``last_at`` then searches all series at once.
    packed: Packed | None = None
    rows: I64 | None = None

    def last_index(self, which: I64, instants: I64) -> I64:
        """Index of the newest point at or before each instant, for series
        ``which``: shape ``(len(which), k)``; below ``lo`` where there is none."""
        if self.packed is not None and self.rows is not None:
            p = self.packed
            # -1 when an instant precedes t0: the search lands before the row.
            offs = np.clip(instants - p.t0, -1, _LIMIT)
            needles = (self.rows[which] << KEY_SHIFT)[:, None] + offs[None, :]
            found: I64 = np.searchsorted(p.key, needles, "right").astype(np.int64) - 1
            return found
        out = np.empty((which.size, instants.size), np.int64)
        for j, i in enumerate(which.tolist()):
            a, b = int(self.lo[i]), int(self.hi[i])
            out[j] = a + np.searchsorted(self.ts[a:b], instants, "right") - 1
        return out


def ranges_index(lo: I64, lengths: I64) -> I64:
    """Flat indexes of the ranges ``[lo[i], lo[i] + lengths[i])``, back to back."""
    total = int(lengths.sum())
    starts = np.cumsum(lengths) - lengths
    out: I64 = np.arange(total, dtype=np.int64) + np.repeat(lo - starts, lengths)
    return out


def gather(sources: list[Ranges], n: int, start_ms: int, end_ms: int) -> tuple[I64, I64, F64]:
    """``(lengths, ts, vals)`` of ``n`` series from sources given oldest write first.

    Each series' points come out sorted by time; where two sources hold the
    same (series, time), the later source wins, as ``Store.append`` promises.
    """
    lens = [s.hi - s.lo for s in sources]
    keep = [i for i, ln in enumerate(lens) if bool(ln.any())]
    sources, lens = [sources[i] for i in keep], [lens[i] for i in keep]
    if not sources:
        return np.zeros(n, np.int64), np.zeros(0, np.int64), np.zeros(0)
    if len(sources) == 1 and sources[0].clean:
        s = sources[0]
        idx = ranges_index(s.lo, lens[0])
        return lens[0], s.ts[idx], s.vals[idx]
    by_time = sorted(range(len(sources)), key=lambda i: sources[i].tmin)
    if _disjoint([sources[i] for i in by_time], [lens[i] for i in by_time], n):
        # No (series, time) in two sources: place each source's points after
        # the earlier sources' points of the same series, no sort needed.
        lengths = np.sum(lens, axis=0)
        total = int(lengths.sum())
        ts = np.empty(total, np.int64)
        vals = np.empty(total, np.float64)
        at = np.cumsum(lengths) - lengths
        for i in by_time:
            s, ln = sources[i], lens[i]
            src = ranges_index(s.lo, ln)
            dst = ranges_index(at, ln)
            ts[dst] = s.ts[src]
            vals[dst] = s.vals[src]
            at += ln
        return lengths, ts, vals
    series = np.arange(n, dtype=np.int64)
    parts = []
    for s, ln in zip(sources, lens, strict=True):
        idx = ranges_index(s.lo, ln)
        parts.append((np.repeat(series, ln), s.ts[idx], s.vals[idx]))
    rows, ts, vals = merge_parts(parts, start_ms, end_ms)
    return np.bincount(rows, minlength=n).astype(np.int64), ts, vals


def last_at(sources: list[Ranges], n: int, instants: I64) -> tuple[I64, F64] | None:
    """``(ts, vals)`` of shape ``(n, k)``: each series' newest point at or before
    each instant (``ts`` is the int64 minimum where there is none), from sources
    given oldest write first (the later one wins a tie, as in ``gather``).
    None unless every source is clean.

    Why: a range query at a 60 s step over 10 s data needs a sixth of the
    points; picking them where they lie skips copying the rest (``gather``).
    Only the instants within a source's time span are searched; past its
    span, its answer is each series' last point.
    """
    if not all(s.clean for s in sources):
        return None
    k = int(instants.size)
    best_ts = np.full((n, k), np.iinfo(np.int64).min, np.int64)
    best_v = np.zeros((n, k))
    for s in sources:
        live = s.hi > s.lo
        j0 = int(np.searchsorted(instants, s.tmin, "left"))
        if j0 >= k or not bool(live.any()):
            continue
        j1 = int(np.searchsorted(instants, s.tmax, "right"))
        which = np.flatnonzero(live)
        rows: slice | I64 = slice(None) if which.size == n else which
        if j1 > j0:
            idx = s.last_index(which, instants[j0:j1])
            ok = idx >= s.lo[which, None]  # a point of this series' window, not an earlier one
            safe = np.where(ok, idx, 0)
            _keep_newer(best_ts, best_v, rows, slice(j0, j1), ok, s.ts[safe], s.vals[safe])
        if j1 < k:  # past the source's span: its last point of each series
            last = s.hi[which] - 1
            t = np.broadcast_to(s.ts[last][:, None], (which.size, k - j1))
            v = np.broadcast_to(s.vals[last][:, None], (which.size, k - j1))
            _keep_newer(best_ts, best_v, rows, slice(j1, k), True, t, v)
    return best_ts, best_v


def _keep_newer(
    best_ts: I64,
    best_v: F64,
    rows: slice | I64,
    cols: slice,
    ok: Bool | bool,
    t: I64,
    v: F64,
) -> None:
    """Where ``ok`` and ``t`` is at least as new, take ``(t, v)`` into the bests."""
    take = ok & (t >= best_ts[rows, cols])
    if isinstance(rows, slice):  # views: copy in place, no temporaries
        np.copyto(best_ts[rows, cols], t, where=take)
        np.copyto(best_v[rows, cols], v, where=take)
        return
    best_ts[rows, cols] = np.where(take, t, best_ts[rows, cols])
    best_v[rows, cols] = np.where(take, v, best_v[rows, cols])


def _disjoint(by_time: list[Ranges], lens: list[I64], n: int) -> bool:
    """Whether, for every series, the sources holding its points (given by
    ``tmin``) are each clean and follow one another in time without overlap.

    Per series, not per source: the block rows of different series groups
    cover the same time, yet never the same series.
    """
    if not all(s.clean for s in by_time):
        return False
    if all(a.tmax < b.tmin for a, b in itertools.pairwise(by_time)):
        return True
    newest = np.full(n, np.iinfo(np.int64).min, np.int64)  # per series: newest time placed
    for s, ln in zip(by_time, lens, strict=True):
        has = ln > 0
        if bool((newest[has] >= s.tmin).any()):
            return False
        newest[has] = s.tmax
    return True


def merge_parts(
    parts: list[tuple[I64, I64, F64]], start_ms: int, end_ms: int
) -> tuple[I64, I64, F64]:
    """``(rows, ts, vals)`` parts, oldest write first, every ``ts`` in
    ``[start_ms, end_ms]``, as one sorted by (row, ts) keeping the last write of
    each (row, ts): the many-series form of ``head.dedupe_series``."""
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    rows = np.concatenate([p[0] for p in parts])
    ts = np.concatenate([p[1] for p in parts])
    vals = np.concatenate([p[2] for p in parts])
    if ts.size < 2:
        return rows, ts, vals
    span = end_ms - start_ms + 1
    if (int(rows.max()) + 1) * span < 2**62:
        key = rows * span + (ts - start_ms)
        order = np.argsort(key, kind="stable")
        key = key[order]
        last = np.empty(key.size, bool)
        np.not_equal(key[1:], key[:-1], out=last[:-1])
    else:
        order = np.lexsort((ts, rows))
        r, t = rows[order], ts[order]
        last = np.empty(t.size, bool)
        np.not_equal(t[1:], t[:-1], out=last[:-1])
        last[:-1] |= r[1:] != r[:-1]
    last[-1] = True
    if not bool(last.all()):
        order = order[last]
    return rows[order], ts[order], vals[order]
