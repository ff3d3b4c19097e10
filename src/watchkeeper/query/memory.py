"""An in-memory Store: the rule unit-test runner's scratch space.

``watchkeeper rules test`` loads each test's ``input_series`` here, exactly as
promtool loads them into its in-memory storage, so a test never touches the
real store. Also handy for query tests. Values are kept bit for bit, so
staleness markers survive.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from watchkeeper.model import NAME_LABEL, Labels, Matcher, MatchOp, Sample
from watchkeeper.store.base import Series, SeriesData, Store, StoreStats

__all__ = ["MemoryStore"]


class _Column:
    __slots__ = ("dirty", "points", "ts", "vs")

    def __init__(self) -> None:
        self.points: dict[int, float] = {}
        self.ts = np.zeros(0, dtype=np.int64)
        self.vs = np.zeros(0)
        self.dirty = False

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self.dirty:
            items = sorted(self.points.items())
            self.ts = np.array([t for t, _ in items], dtype=np.int64)
            self.vs = np.array([v for _, v in items], dtype=np.float64)
            self.dirty = False
        return self.ts, self.vs


class MemoryStore(Store):
    def __init__(self) -> None:
        self._series: dict[tuple[str, Labels], Series] = {}
        self._data: dict[int, _Column] = {}
        self._by_name: dict[str, list[Series]] = {}

    def append(self, samples: Sequence[Sample]) -> int:
        for s in samples:
            key = (s.name, s.labels)
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = Series(len(self._series) + 1, s.name, s.labels)
                self._data[series.id] = _Column()
                self._by_name.setdefault(s.name, []).append(series)
            col = self._data[series.id]
            col.points[s.timestamp_ms] = s.value
            col.dirty = True
        return len(samples)

    def select(self, matchers: Sequence[Matcher]) -> list[Series]:
        names = [m.value for m in matchers if m.name == NAME_LABEL and m.op is MatchOp.EQ]
        pool = self._by_name.get(names[0], []) if names else self._series.values()
        rest = [m for m in matchers if not (m.name == NAME_LABEL and m.op is MatchOp.EQ)]
        matchers = rest
        found = [
            s
            for s in pool
            if all(
                m.matches(s.name if m.name == NAME_LABEL else (s.labels.get(m.name) or ""))
                for m in matchers
            )
        ]
        found.sort(key=lambda s: (s.name, s.labels))
        return found

    def read_range(
        self,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
        *,
        min_step_ms: int = 0,
    ) -> list[SeriesData]:
        out = []
        for series in self.select(matchers):
            ts, vs = self._data[series.id].arrays()
            lo = int(ts.searchsorted(start_ms, "left"))
            hi = int(ts.searchsorted(end_ms, "right"))
            if hi > lo:
                out.append(SeriesData(series, ts[lo:hi], vs[lo:hi]))
        return out

    def delete_before(self, ts_ms: int) -> int:
        deleted = 0
        for col in self._data.values():
            old = [t for t in col.points if t < ts_ms]
            for t in old:
                del col.points[t]
            deleted += len(old)
            col.dirty = True
        return deleted

    def stats(self) -> StoreStats:
        samples = sum(len(c.points) for c in self._data.values())
        all_ts = [t for c in self._data.values() for t in c.points]
        return StoreStats(
            path=":memory:",
            series=len(self._series),
            samples=samples,
            bytes=samples * 16,
            oldest_ms=min(all_ts) if all_ts else None,
            newest_ms=max(all_ts) if all_ts else None,
        )
