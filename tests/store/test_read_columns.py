"""Many-series reads (``read_columns``): the same points as a per-series reference,
whatever mix of head runs, block rows, duplicates and out-of-order writes holds them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from watchkeeper.model import Labels, Matcher, MatchOp, Sample
from watchkeeper.query import MemoryStore, instant_query, range_query
from watchkeeper.query.values import Vector
from watchkeeper.store.base import SeriesColumns
from watchkeeper.store.tsdb import TSDBStore
from watchkeeper.store.tsdb.ranges import Ranges, gather, pack

BASE = 1_767_225_600_000
STEP = 10_000
#: More series than one block row group holds (1,024), so reads span groups.
N_SERIES = 1_100
NAME = Matcher(NAME_LABEL := "__name__", MatchOp.EQ, "m")


Points = dict[Labels, list[tuple[int, float]]]


def _labels(i: int) -> Labels:
    return Labels({"instance": f"h{i:04d}", "parity": "odd" if i % 2 else "even"})


class Reference:
    """What a store must return: per series, the last value written at each time."""

    def __init__(self) -> None:
        self.points: dict[Labels, dict[int, float]] = {}

    def write(self, store: TSDBStore | MemoryStore, samples: list[Sample]) -> None:
        store.append(samples)
        for s in samples:
            self.points.setdefault(s.labels, {})[s.timestamp_ms] = s.value

    def window(self, start: int, end: int, keep: set[Labels]) -> Points:
        out = {}
        for lab, pts in self.points.items():
            got = sorted((t, v) for t, v in pts.items() if start <= t <= end)
            if got and lab in keep:
                out[lab] = got
        return out


def _as_dict(cols: SeriesColumns) -> Points:
    out = {}
    for i, s in enumerate(cols.series):
        a, b = int(cols.offsets[i]), int(cols.offsets[i + 1])
        out[s.labels] = list(
            zip(cols.timestamps[a:b].tolist(), cols.values[a:b].tolist(), strict=True)
        )
    return out


def _batch(rng: np.random.Generator, series: np.ndarray, t: int) -> list[Sample]:
    jitter = rng.integers(-300, 300, series.size)
    vals = np.round(rng.normal(50, 10, series.size), 2)
    return [
        Sample("m", _labels(int(i)), int(t + j), float(v))
        for i, j, v in zip(series.tolist(), jitter.tolist(), vals.tolist(), strict=True)
    ]


def _load(store: TSDBStore, ref: Reference, seed: int = 3) -> int:
    """Scrapes of 1,100 series with jitter, rewrites of old points, late
    (out-of-order) points and cuts in between: rows of several groups and
    levels, and several head runs. Returns the newest scrape time."""
    rng = np.random.default_rng(seed)
    everyone = np.arange(N_SERIES)
    t = BASE
    for k in range(60):
        some = everyone if k % 7 else rng.choice(everyone, 300, replace=False)
        batch = _batch(rng, some, t)
        ref.write(store, batch)
        if k % 5 == 4:  # new values at the times of a scrape already written (duplicates)
            again = rng.choice(len(batch), 50, replace=False).tolist()
            ref.write(store, [batch[i]._replace(value=batch[i].value + 1) for i in again])
        if k % 3 == 2:  # a read keeps the runs written so far apart from the next ones
            store.read_columns([NAME], t, t)
        if k % 9 == 8:  # late points, older than the newest but inside the head
            late = [
                Sample("m", _labels(int(i)), t - 3 * STEP + 1, float(i))
                for i in rng.choice(everyone, 40, replace=False).tolist()
            ]
            ref.write(store, late)
        if k in (20, 35, 45):
            store.cut(t - 2 * STEP)
        t += STEP
    return t - STEP


@pytest.fixture
def loaded(tmp_path: Path) -> Iterator[tuple[TSDBStore, Reference, int]]:
    store = TSDBStore(tmp_path / "wk.db", background=False)
    ref = Reference()
    newest = _load(store, ref)
    yield store, ref, newest
    store.close()


def test_columns_equal_the_reference_in_every_window(
    loaded: tuple[TSDBStore, Reference, int],
) -> None:
    store, ref, newest = loaded
    assert store.head.samples
    assert store._rdb.execute("SELECT count(*) FROM blocks").fetchone()[0]
    everyone = set(ref.points)
    odd = {lab for lab in everyone if lab.get("parity") == "odd"}
    windows = [
        (newest - 5 * STEP, newest),  # inside the head
        (newest - 30 * STEP, newest),  # block rows and head
        (BASE, BASE + 15 * STEP),  # block rows only
        (BASE - 10 * STEP, newest + STEP),  # everything
        (newest + STEP, newest + 9 * STEP),  # nothing
    ]
    for start, end in windows:
        for matchers, keep in (([NAME], everyone), ([NAME, Matcher.equal("parity", "odd")], odd)):
            want = ref.window(start, end, keep)
            for _ in range(2):  # the second read comes from the decoded-row cache
                cols = store.read_columns(matchers, start, end)
                assert _as_dict(cols) == want
                assert list(cols.series) == sorted(cols.series, key=lambda s: (s.name, s.labels))
            by_series = {sd.series.labels: sd for sd in store.read_range(matchers, start, end)}
            assert {k: list(zip(v.timestamps.tolist(), v.values.tolist(), strict=True))
                    for k, v in by_series.items()} == want  # fmt: skip


def test_reads_stay_right_when_the_decode_cache_is_too_small(tmp_path: Path) -> None:
    store = TSDBStore(tmp_path / "wk.db", background=False, decode_cache_bytes=64 * 1024)
    ref = Reference()
    newest = _load(store, ref, seed=5)
    want = ref.window(BASE, newest, set(ref.points))
    for _ in range(3):
        assert _as_dict(store.read_columns([NAME], BASE, newest)) == want
        assert store._decoded_bytes <= 64 * 1024
    store.close()


def test_a_row_too_wide_for_one_cache_entry_is_cached_in_pieces(tmp_path: Path) -> None:
    """A dashboard's many series over a long block row: decoded once, kept in
    pieces that each fit an entry (a quarter of the cache), read back right."""
    store = TSDBStore(tmp_path / "wk.db", background=False)
    ref = Reference()
    newest = _load(store, ref, seed=7)
    store.read_columns([NAME], BASE, newest)
    sizes = {k: d.ts.nbytes + d.vals.nbytes + d.packed.key.nbytes
             for k, d in store._decoded_cache.items()}  # fmt: skip
    widest = max(sizes, key=sizes.__getitem__)
    rid = widest[0]
    with store._snapshot() as db:
        lo, hi = db.execute("SELECT min_t, max_t FROM blocks WHERE id = ?", (rid,)).fetchone()
    store._decoded_cache.clear()
    store._decoded_bytes = 0
    cap = 2 * sizes[widest]  # the row's decoded series: twice an entry's limit
    store._decode_cache_bytes = cap
    want = ref.window(lo, hi, set(ref.points))
    assert _as_dict(store.read_columns([NAME], lo, hi)) == want
    pieces = [k for k in store._decoded_cache if k[0] == rid]
    assert len(pieces) >= 2
    assert all(sizes_ <= cap // 4 for sizes_ in (
        d.ts.nbytes + d.vals.nbytes + d.packed.key.nbytes
        for k, d in store._decoded_cache.items() if k[0] == rid))  # fmt: skip
    assert _as_dict(store.read_columns([NAME], lo, hi)) == want
    store.close()


def test_cached_block_points_cannot_be_changed_through_a_read(
    loaded: tuple[TSDBStore, Reference, int],
) -> None:
    store, _, newest = loaded
    store.read_columns([NAME], BASE, newest)
    assert store._decoded_cache
    for decoded in store._decoded_cache.values():
        with pytest.raises(ValueError, match="read-only"):
            decoded.ts[0] = 0
        with pytest.raises(ValueError, match="read-only"):
            decoded.vals[0] = 0.0


def test_a_new_series_shows_up_in_the_next_read(store: TSDBStore) -> None:
    store.append([Sample("m", _labels(1), BASE, 1.0)])
    assert len(store.read_columns([NAME], BASE, BASE)) == 1  # selection now remembered
    store.append([Sample("m", _labels(2), BASE, 2.0), Sample("other", _labels(3), BASE, 3.0)])
    cols = store.read_columns([NAME], BASE, BASE)
    assert [s.labels for s in cols.series] == [_labels(1), _labels(2)]
    assert cols.values.tolist() == [1.0, 2.0]
    # ``select`` hands out copies: changing one does not change the next answer.
    store.select([NAME]).clear()
    assert len(store.select([NAME])) == 2


def test_times_too_far_apart_for_the_packed_key_are_searched_series_by_series(
    store: TSDBStore,
) -> None:
    ref = Reference()
    # 1970 and 2026 in one head run: more than 2**40 ms apart.
    ref.write(
        store, [Sample("m", _labels(i), t, float(i)) for i in range(3) for t in (1_000, BASE)]
    )
    ref.write(store, [Sample("m", _labels(1), BASE, 9.0)])  # a duplicate, in a second run
    store.read_columns([NAME], 0, 2**62)
    ref.write(store, [Sample("m", _labels(2), BASE + 1, 7.0)])
    assert store.head._runs[0]._pack_tried
    assert store.head._runs[0]._packed is None
    for start, end in ((0, 2**62), (0, 5_000), (BASE, BASE + 1)):
        assert _as_dict(store.read_columns([NAME], start, end)) == ref.window(
            start, end, set(ref.points)
        )


def test_default_read_columns_concatenates_read_range() -> None:
    mem = MemoryStore()
    mem.append([Sample("m", _labels(i), BASE + k * STEP, float(i * k))
                for i in range(3) for k in range(4)])  # fmt: skip
    cols = mem.read_columns([NAME], BASE + STEP, BASE + 2 * STEP)
    assert cols.offsets.tolist() == [0, 2, 4, 6]
    assert cols.values.tolist() == [0.0, 0.0, 1.0, 2.0, 2.0, 4.0]
    back = cols.to_series_data()
    assert [sd.series for sd in back] == [sd.series for sd in mem.read_range([NAME], 0, 2**62)]


def test_promql_over_the_tsdb_equals_promql_over_memory(
    loaded: tuple[TSDBStore, Reference, int],
) -> None:
    store, ref, newest = loaded
    mem = MemoryStore()
    mem.append([Sample("m", lab, t, v) for lab, pts in ref.points.items() for t, v in pts.items()])
    for expr in (
        "m",
        'sum by (parity) (rate(m{parity="odd"}[3m]))',
        "max_over_time(m[8m]) - min_over_time(m[2m])",
        "count_over_time(m[20m])",
    ):
        a = instant_query(store, expr, newest)
        b = instant_query(mem, expr, newest)
        assert isinstance(a, Vector)
        assert isinstance(b, Vector)
        assert len(a)
        assert [(s.labels, s.value) for s in a] == [(s.labels, s.value) for s in b], expr
    a_range = range_query(store, "avg(m)", BASE, newest, 60_000)
    b_range = range_query(mem, "avg(m)", BASE, newest, 60_000)
    assert np.array_equal(a_range.series[0].values, b_range.series[0].values)


def _source(ts: list[int], vals: list[float], lo: list[int], hi: list[int]) -> Ranges:
    t = np.array(ts, np.int64)
    rows = np.repeat(np.arange(len(lo)), np.array(hi) - np.array(lo))
    packed = pack(rows, t)
    assert packed is not None
    return Ranges(t, np.array(vals), np.array(lo), np.array(hi), packed.t0, packed.t1,
                  packed.clean)  # fmt: skip


def test_gather_lets_the_later_source_win_where_sources_overlap() -> None:
    older = _source([10, 20, 30, 10], [1.0, 2.0, 3.0, 4.0], [0, 3], [3, 4])
    newer = _source([20, 25, 10], [20.0, 25.0, 40.0], [0, 2], [2, 3])
    lengths, ts, vals = gather([older, newer], 2, 0, 100)
    assert lengths.tolist() == [4, 1]
    assert ts.tolist() == [10, 20, 25, 30, 10]
    assert vals.tolist() == [1.0, 20.0, 25.0, 3.0, 40.0]


def test_gather_joins_sources_disjoint_per_series_without_mixing_them() -> None:
    # Two block rows of different series groups cover the same time; the head is newer.
    group_a = _source([10, 20], [1.0, 2.0], [0, 0, 0], [2, 0, 0])
    group_b = _source([11, 21], [3.0, 4.0], [0, 0, 0], [0, 2, 0])
    head = _source([30, 31, 32], [5.0, 6.0, 7.0], [0, 1, 2], [1, 2, 3])
    lengths, ts, vals = gather([group_a, group_b, head], 3, 0, 100)
    assert lengths.tolist() == [3, 3, 1]
    assert ts.tolist() == [10, 20, 30, 11, 21, 31, 32]
    assert vals.tolist() == [1.0, 2.0, 5.0, 3.0, 4.0, 6.0, 7.0]


def test_gather_resolves_duplicates_inside_one_source() -> None:
    dup = _source([10, 10, 20], [1.0, 2.0, 3.0], [0], [3])
    assert not dup.clean
    lengths, ts, vals = gather([dup], 1, 0, 100)
    assert (lengths.tolist(), ts.tolist(), vals.tolist()) == ([2], [10, 20], [2.0, 3.0])


def _instants_reference(
    ref: Reference, instants: list[int], lookback: int
) -> dict[Labels, list[tuple[int, float] | None]]:
    """Per series and instant: the newest point at or before it within ``lookback``."""
    out = {}
    for lab, pts in ref.points.items():
        row: list[tuple[int, float] | None] = []
        for r in instants:
            inside = [t for t in pts if r - lookback <= t <= r]
            row.append((max(inside), pts[max(inside)]) if inside else None)
        if any(row):
            out[lab] = row
    return out


def _instants_dict(store: TSDBStore, instants: list[int], lookback: int) -> dict[Labels, list]:  # type: ignore[type-arg]
    got = store.read_instants([NAME], np.array(instants, np.int64), lookback)
    out = {}
    for i, s in enumerate(got.series):
        out[s.labels] = [
            (int(got.timestamps[i, j]), float(got.values[i, j])) if got.found[i, j] else None
            for j in range(len(instants))
        ]
    return out


@pytest.mark.parametrize("clean", [True, False])
def test_instants_equal_the_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean: bool
) -> None:
    """A range query's per-step points, picked where they lie (``last_at``) when
    every source is clean, through ``gather`` when duplicates are unresolved:
    both equal the newest point at or before each step within the lookback."""
    import watchkeeper.store.tsdb.engine as engine

    picked: list[bool] = []
    real_last_at = engine.last_at

    def spy(*args: object) -> object:
        out = real_last_at(*args)  # type: ignore[arg-type]
        picked.append(out is not None)
        return out

    monkeypatch.setattr(engine, "last_at", spy)
    store = TSDBStore(tmp_path / "wk.db", background=False)
    ref = Reference()
    rng = np.random.default_rng(11)
    if clean:  # in order, no rewrites; a series stops, one starts late; cuts in between
        t = BASE
        for k in range(60):
            some = np.arange(N_SERIES if k < 40 else N_SERIES - 100)[(0 if k > 10 else 1) :]
            ref.write(store, _batch(rng, some, t))
            if k in (20, 35):
                store.cut(t - 2 * STEP)
            t += STEP
        newest = t - STEP
    else:
        newest = _load(store, ref, seed=11)
    grids = [
        list(range(BASE - 5 * STEP, newest + 5 * STEP, 60_000)),  # across everything
        list(range(BASE + 7_777, newest, 25_000)),  # steps off the scrape times
        list(range(newest - 4 * STEP, newest + 1, 1_000)),  # the head, finer than the data
        [BASE - 10 * STEP, BASE - 9 * STEP],  # before any data
    ]
    for instants in grids:
        for lookback in (300_000, 15_000):
            want = _instants_reference(ref, instants, lookback)
            assert _instants_dict(store, instants, lookback) == want
    assert all(picked) == clean  # unclean: the fallback answered at least once
    store.close()
