"""The head: recent samples of every series, in memory, as numpy columns.

Why columns and sorted runs rather than one array per series: an append of
10,000 samples for 10,000 series must cost a few array copies, not 10,000
Python operations. Appended batches wait unsorted in ``pending``; the first
read (or cut) sorts them by (series, time) into a *run*, and runs of similar
size are merged (like an LSM tree), so a read looks a series up with two
binary searches per run and there are only O(log n) runs.

Arrival order is kept among equal (series, time) keys, so when duplicates
are dropped the latest write wins, as ``Store.append`` promises.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from watchkeeper.arraysets import unique
from watchkeeper.store.tsdb.ranges import Packed, Ranges, pack

__all__ = ["Head", "Run", "dedupe_series", "sort_order", "sort_run"]

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

#: Bytes one head sample costs (ref + timestamp + value).
SAMPLE_BYTES = 4 + 8 + 8


@dataclass(slots=True)
class Run:
    """Samples sorted by (ref, ts), arrival order kept among equal keys."""

    refs: I32
    ts: I64
    vals: F64
    #: The run's search key for many-series reads, built by the first one
    #: and kept, since a run never changes (None: not packable).
    _packed: Packed | None = field(default=None, repr=False)
    _pack_tried: bool = field(default=False, repr=False)

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def series(self, ref: int, start_ms: int, end_ms: int) -> tuple[I64, F64]:
        # A Python int would make numpy cast the whole int32 array per call.
        key = self.refs.dtype.type(ref)
        lo = int(np.searchsorted(self.refs, key, "left"))
        hi = int(np.searchsorted(self.refs, key, "right"))
        if lo == hi:
            return self.ts[:0], self.vals[:0]
        ts = self.ts[lo:hi]
        a = lo + int(np.searchsorted(ts, start_ms, "left"))
        b = lo + int(np.searchsorted(ts, end_ms, "right"))
        return self.ts[a:b], self.vals[a:b]

    def ranges(self, refs: I64, start_ms: int, end_ms: int) -> Ranges | None:
        """Where each of ``refs``' points in ``[start_ms, end_ms]`` lie in this run.

        Two binary searches for all refs at once over the packed (ref, ts)
        key, instead of four numpy calls per series.
        """
        if not self._pack_tried:
            self._pack_tried = True
            self._packed = pack(self.refs, self.ts)
        packed = self._packed
        if packed is None:  # refs or times out of the packable range: one series at a time
            if not len(self):
                return None
            bounds = [self._bounds(ref, start_ms, end_ms) for ref in refs.tolist()]
            lo = np.array([b[0] for b in bounds], np.int64)
            hi = np.array([b[1] for b in bounds], np.int64)
            tmin, tmax, clean = int(self.ts.min()), int(self.ts.max()), False
        else:
            found = packed.window(refs, start_ms, end_ms)
            if found is None:
                return None
            lo, hi = found
            return Ranges(
                self.ts,
                self.vals,
                lo,
                hi,
                max(packed.t0, start_ms),
                min(packed.t1, end_ms),
                packed.clean,
                packed,
                refs.astype(np.int64, copy=False),
            )
        return Ranges(self.ts, self.vals, lo, hi, max(tmin, start_ms), min(tmax, end_ms), clean)

    def _bounds(self, ref: int, start_ms: int, end_ms: int) -> tuple[int, int]:
        key = self.refs.dtype.type(ref)
        lo = int(np.searchsorted(self.refs, key, "left"))
        hi = int(np.searchsorted(self.refs, key, "right"))
        ts = self.ts[lo:hi]
        return lo + int(np.searchsorted(ts, start_ms, "left")), lo + int(
            np.searchsorted(ts, end_ms, "right")
        )

    def filter(self, keep: npt.NDArray[np.bool_]) -> Run:
        return Run(self.refs[keep], self.ts[keep], self.vals[keep])

    def deduped(self) -> Run:
        """One sample per (ref, ts): the last one written."""
        n = len(self)
        if n < 2:
            return self
        last = np.empty(n, bool)
        last[-1] = True
        np.not_equal(self.ts[1:], self.ts[:-1], out=last[:-1])
        last[:-1] |= self.refs[1:] != self.refs[:-1]
        return self if bool(last.all()) else self.filter(last)


def sort_run(refs: I32, ts: I64, vals: F64) -> Run:
    order = sort_order(refs, ts)
    return Run(refs[order], ts[order], vals[order])


def sort_order(refs: I32, ts: I64) -> npt.NDArray[np.intp]:
    """Stable order by (ref, ts): arrival order survives among equal keys."""
    if ts.size:
        lo, hi = int(ts.min()), int(ts.max())
        if hi - lo < 2**40 and int(refs.min()) >= 0 and int(refs.max()) < 2**23:
            # One int64 key sorts ~4x faster than lexsort's two passes.
            key = (refs.astype(np.int64) << 40) | (ts - lo)
            return np.argsort(key, kind="stable")
    return np.lexsort((ts, refs))


def _concat(runs: list[Run]) -> Run:
    return Run(
        np.concatenate([r.refs for r in runs]),
        np.concatenate([r.ts for r in runs]),
        np.concatenate([r.vals for r in runs]),
    )


def dedupe_series(ts: I64, vals: F64) -> tuple[I64, F64]:
    """Sort one series' points by time (stable) and keep the last of equal timestamps."""
    n = int(ts.shape[0])
    if n < 2:
        return ts, vals
    if not bool(np.all(ts[1:] > ts[:-1])):
        order = np.argsort(ts, kind="stable")
        ts, vals = ts[order], vals[order]
        keep = np.empty(n, bool)
        keep[-1] = True
        np.not_equal(ts[1:], ts[:-1], out=keep[:-1])
        ts, vals = ts[keep], vals[keep]
    return ts, vals


class Head:
    """Recent samples, not yet cut into chunks. Not thread-safe: the engine locks."""

    def __init__(self) -> None:
        self._pending: list[Run] = []
        self._runs: list[Run] = []
        #: Samples being cut into chunks: still served until the chunks are committed.
        self.frozen: Run | None = None
        self.samples = 0
        self.min_t: int | None = None
        self.max_t: int | None = None

    @property
    def bytes(self) -> int:
        frozen = len(self.frozen) if self.frozen is not None else 0
        return (self.samples + frozen) * SAMPLE_BYTES

    def add(self, refs: I32, ts: I64, vals: F64) -> None:
        n = int(ts.shape[0])
        if not n:
            return
        self._pending.append(Run(refs, ts, vals))
        self.samples += n
        lo, hi = int(ts.min()), int(ts.max())
        self.min_t = lo if self.min_t is None else min(self.min_t, lo)
        self.max_t = hi if self.max_t is None else max(self.max_t, hi)

    def _consolidate(self) -> None:
        if self._pending:
            self._runs.append(sort_run(*_fields(_concat(self._pending))))
            self._pending = []
        # Merge runs of similar size: O(log n) runs, each sample re-sorted O(log n) times.
        while len(self._runs) >= 2 and len(self._runs[-2]) <= 2 * len(self._runs[-1]):
            newer = self._runs.pop()
            older = self._runs.pop()
            self._runs.append(sort_run(*_fields(_concat([older, newer]))))

    def read(self, ref: int, start_ms: int, end_ms: int) -> tuple[I64, F64]:
        """One series' head points in ``[start_ms, end_ms]``, sorted, duplicates resolved."""
        self._consolidate()
        runs = ([self.frozen] if self.frozen is not None else []) + self._runs
        parts = [r.series(ref, start_ms, end_ms) for r in runs]
        parts = [p for p in parts if p[0].size]
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        if len(parts) == 1:
            return dedupe_series(*parts[0])
        return dedupe_series(
            np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        )

    def read_many(self, refs: I64, start_ms: int, end_ms: int) -> list[Ranges]:
        """Where the head points of many series in ``[start_ms, end_ms]`` lie, per run.

        Runs come oldest write first, duplicates not yet resolved: the caller
        joins them with any stored points (``ranges.gather``).
        """
        self._consolidate()
        runs = ([self.frozen] if self.frozen is not None else []) + self._runs
        found = [run.ranges(refs, start_ms, end_ms) for run in runs]
        return [r for r in found if r is not None]

    def refs(self) -> I32:
        """Distinct series refs with samples in the head."""
        self._consolidate()
        runs = ([self.frozen] if self.frozen is not None else []) + self._runs
        if not runs:
            return np.zeros(0, np.int32)
        return unique(np.concatenate([r.refs for r in runs]))

    def freeze(self, before_ms: int) -> Run:
        """Move every sample older than ``before_ms`` into ``frozen`` and return them.

        Sorted by (ref, ts) with duplicates resolved: ready to be cut into chunks.
        """
        if self.frozen is not None:
            raise RuntimeError("a cut is already in progress")
        self._consolidate()
        if not self._runs:
            self.frozen = Run(np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0))
            return self.frozen
        whole = self._runs[0] if len(self._runs) == 1 else sort_run(*_fields(_concat(self._runs)))
        old = whole.ts < before_ms
        self.frozen = whole.filter(old).deduped()
        rest = whole.filter(~old)
        self._runs = [rest] if len(rest) else []
        self._recount()
        return self.frozen

    def release_frozen(self) -> None:
        self.frozen = None

    def thaw(self) -> None:
        """Undo ``freeze`` after a failed cut: the frozen samples rejoin the head."""
        if self.frozen is not None and len(self.frozen):
            self._runs.insert(0, self.frozen)
        self.frozen = None
        self._recount()

    def drop_before(self, ts_ms: int) -> int:
        """Forget samples older than ``ts_ms``; return how many."""
        dropped = 0
        for group in (self._pending, self._runs):
            for i, run in enumerate(group):
                keep = run.ts >= ts_ms
                if not bool(keep.all()):
                    dropped += int((~keep).sum())
                    group[i] = run.filter(keep)
        self._pending = [r for r in self._pending if len(r)]
        self._runs = [r for r in self._runs if len(r)]
        self._recount()
        return dropped

    def _recount(self) -> None:
        runs = self._pending + self._runs
        self.samples = sum(len(r) for r in runs)
        if self.samples:
            self.min_t = min(int(r.ts.min()) for r in runs if len(r))
            self.max_t = max(int(r.ts.max()) for r in runs if len(r))
        else:
            self.min_t = self.max_t = None


def _fields(run: Run) -> tuple[I32, I64, F64]:
    return run.refs, run.ts, run.vals
