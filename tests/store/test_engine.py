"""The engine behind the Store interface: writes, reads, cuts, rollups, retention, check."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from watchkeeper.model import Labels, Matcher, MatchOp, Sample
from watchkeeper.store import StoreBusyError, open_store
from watchkeeper.store.tsdb import TSDBStore
from watchkeeper.store.tsdb.blocks import parse_dir

BASE = 1_767_225_600_000
DAY = 86_400_000


def _samples(name: str, labels: Labels, ts: np.ndarray, vals: np.ndarray) -> list[Sample]:
    return [Sample(name, labels, int(t), float(v)) for t, v in zip(ts, vals, strict=True)]


def _read(
    store: TSDBStore, inst: str, start: int = 0, end: int = 2**62, step: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    got = store.read_range([Matcher.equal("instance", inst)], start, end, min_step_ms=step)
    assert len(got) <= 1
    if not got:
        return np.zeros(0, np.int64), np.zeros(0)
    return got[0].timestamps, got[0].values


def _fill(
    store: TSDBStore, n_series: int, n: int, seed: int = 1
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    truth = {}
    for i in range(n_series):
        ts = BASE + np.arange(n, dtype=np.int64) * 10_000 + rng.integers(0, 20, n)
        vals = np.round(rng.normal(50, 10, n), 2)
        vals[rng.random(n) < 0.01] = np.nan
        truth[f"h{i}"] = (ts, vals)
    for off in range(0, n, 500):
        batch: list[Sample] = []
        for inst, (ts, vals) in truth.items():
            batch += _samples(
                "cpu", Labels({"instance": inst}), ts[off : off + 500], vals[off : off + 500]
            )
        store.append(batch)
    return truth


def test_round_trip_through_head_cut_and_compaction(store: TSDBStore) -> None:
    truth = _fill(store, 3, 3000)
    for inst, (ts, vals) in truth.items():  # all in the head
        got_ts, got_vals = _read(store, inst)
        assert np.array_equal(got_ts, ts)
        assert np.array_equal(got_vals, vals, equal_nan=True)
    store.cut(BASE + 1000 * 10_000)
    store.cut(BASE + 2000 * 10_000)
    for inst, (ts, vals) in truth.items():  # chunks + head
        got_ts, got_vals = _read(store, inst, BASE + 500 * 10_000, BASE + 2500 * 10_000)
        keep = (ts >= BASE + 500 * 10_000) & (ts <= BASE + 2500 * 10_000)
        assert np.array_equal(got_ts, ts[keep])
        assert np.array_equal(got_vals, vals[keep], equal_nan=True)
    store.compact(flush=True, vacuum=True)
    st = store.stats()
    assert st.samples == 9000
    assert st.series == 3
    assert st.extra["head_samples"] == 0
    assert st.extra["wal_records"] == 0
    for inst, (ts, vals) in truth.items():
        got_ts, got_vals = _read(store, inst)
        assert np.array_equal(got_ts, ts)
        assert np.array_equal(got_vals, vals, equal_nan=True)


def test_duplicates_replace_and_out_of_order_is_accepted_in_head(store: TSDBStore) -> None:
    lab = Labels({"instance": "a"})
    store.append([Sample("m", lab, BASE + 20, 2.0), Sample("m", lab, BASE + 10, 1.0)])
    store.append([Sample("m", lab, BASE + 20, 5.0)])  # replaces
    ts, vals = _read(store, "a")
    assert ts.tolist() == [BASE + 10, BASE + 20]
    assert vals.tolist() == [1.0, 5.0]
    store.flush()
    ts, vals = _read(store, "a")
    assert vals.tolist() == [1.0, 5.0]


def test_samples_older_than_the_cut_are_rejected_and_counted(store: TSDBStore) -> None:
    lab = Labels({"instance": "a"})
    store.append(_samples("m", lab, BASE + np.arange(10) * 1000, np.arange(10.0)))
    store.cut(BASE + 5000)
    assert (
        store.append([Sample("m", lab, BASE + 1, 99.0), Sample("m", lab, BASE + 20_000, 1.0)]) == 1
    )
    assert store.counters["rejected_too_old"] == 1
    ts, vals = _read(store, "a")
    assert 99.0 not in vals.tolist()
    assert ts.size == 11


def test_rollups_equal_aggregates_of_raw(store: TSDBStore) -> None:
    truth = _fill(store, 2, 4000, seed=3)
    store.cut(BASE + 1700 * 10_000 + 7)  # splits a minute and an hour across chunks
    store.compact()
    store.cut(BASE + 3100 * 10_000 + 3)  # and the rest stays in the head
    for res in (60_000, 3_600_000):
        got = {
            s.labels.get("instance"): r
            for s, r in store.read_rollup([Matcher.equal("__name__", "cpu")], 0, 2**62, res)
        }
        for inst, (ts, vals) in truth.items():
            ok = ~np.isnan(vals)
            ts, vals = ts[ok], vals[ok]
            bucket = ts // res * res
            steps = np.unique(bucket)
            r = got[inst]
            assert r.t.tolist() == steps.tolist()
            for j, t in enumerate(steps):
                v = vals[bucket == t]
                assert r.count[j] == v.size
                assert r.min[j] == v.min()
                assert r.max[j] == v.max()
                assert r.last[j] == v[-1]
                assert r.sum[j] == pytest.approx(v.sum(), rel=1e-12)
    # read_range at a 1 h step is served from the hourly rollups' last values.
    ts, vals = _read(store, "h0", step=3_600_000)
    r = got["h0"]
    assert ts.tolist() == r.t.tolist()
    assert vals.tolist() == r.last.tolist()


def test_retention_per_resolution_and_delete_before(tmp_path: Path) -> None:
    store = TSDBStore(
        tmp_path / "r.db",
        background=False,
        retention_ms={0: 2 * DAY, 60_000: 3 * DAY, 3_600_000: 30 * DAY},
    )
    lab = Labels({"instance": "a"})
    ts = BASE + np.arange(0, 10 * DAY, 60_000, dtype=np.int64)
    store.append(_samples("m", lab, ts, np.arange(ts.size, dtype=float)))
    store.compact(flush=True)
    dropped = store.enforce_retention()
    assert dropped["raw"] > 0
    assert dropped["1m"] > 0
    assert dropped["1h"] == 0
    raw_ts, _ = _read(store, "a")
    assert raw_ts.min() >= ts.max() - 3 * DAY  # chunk-granular (1 day) retention
    one_min = store.read_rollup([Matcher.equal("instance", "a")], 0, 2**62, 60_000)[0][1]
    assert one_min.t.min() >= ts.max() - 7 * DAY  # chunk-granular (4 days)
    assert one_min.t.min() > BASE
    hourly = store.read_rollup([Matcher.equal("instance", "a")], 0, 2**62, 3_600_000)[0][1]
    assert hourly.t.min() == BASE
    assert int(hourly.count.sum()) == ts.size
    # delete_before is exact on raw data, including the head.
    store.append([Sample("m", lab, int(ts.max()) + 60_000, 1.0)])
    cut_at = int(ts.max()) - DAY // 2 + 1
    before = _read(store, "a")[0].size
    deleted = store.delete_before(cut_at)
    after_ts = _read(store, "a")[0]
    assert after_ts.min() >= cut_at
    assert deleted == before - after_ts.size
    store.close()


def test_check_quarantines_a_damaged_chunk_and_the_rest_serves(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = TSDBStore(path, background=False)
    rng = np.random.default_rng(5)
    ts = BASE + np.arange(3000, dtype=np.int64) * 10_000
    for inst in ("a", "b", "c"):  # random floats: ~24 KB per series, one frame each
        store.append(_samples("m", Labels({"instance": inst}), ts, rng.normal(0, 1, ts.size)))
    store.compact(flush=True)
    db = sqlite3.connect(path)
    rid, dir_blob, blob = db.execute(
        "SELECT id, dir, data FROM blocks WHERE res = 0 AND max_t >= ?", (int(ts[-1]),)
    ).fetchone()
    blk = parse_dir(dir_blob)
    # A frame holding one series' values and no timestamps: damage stays with that series.
    frames = blk.entry_frame.tolist()
    victim = next(
        i
        for i in range(blk.sids.size)
        if frames.count(frames[blk.n_ts + i]) == 1
        and frames[blk.n_ts + i] not in frames[: blk.n_ts]
    )
    f = frames[blk.n_ts + victim]
    pos = int(blk.frame_off[f]) + 20
    db.execute(
        "UPDATE blocks SET data = ? WHERE id = ?", (blob[:pos] + bytes(8) + blob[pos + 8 :], rid)
    )
    db.commit()
    db.close()
    name = {s.id: s.labels.get("instance") for s in store.select([])}[int(blk.sids[victim])]
    others = [i for i in ("a", "b", "c") if i != name]
    assert _read(store, name)[0].size < 3000  # the damaged day is skipped, not a crash
    assert store.counters["damaged_chunks_skipped"] >= 1
    for inst in others:
        assert _read(store, inst)[0].size == 3000
    report = store.check()
    assert not report.ok
    assert {d["series_id"] for d in report.damaged} == {int(blk.sids[victim])}
    assert report.quarantined
    for inst in others:
        assert _read(store, inst)[0].size == 3000
    assert store.check().ok
    assert store.stats().extra["quarantined_chunks"] == 1
    store.close()


def test_readonly_reader_sees_head_via_wal_and_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    writer = open_store(path, background=False)
    lab = Labels({"instance": "a"})
    writer.append([Sample("m", lab, BASE + i, float(i)) for i in range(100)])
    reader = open_store(path, readonly=True)
    assert _read(reader, "a")[0].size == 100
    writer.append([Sample("m", lab, BASE + 100 + i, 1.0) for i in range(50)])
    writer.append([Sample("new", Labels({"instance": "b"}), BASE, 7.0)])
    assert _read(reader, "a")[0].size == 150  # catches up on new WAL records
    assert [s.name for s in reader.select([Matcher.equal("instance", "b")])] == ["new"]
    writer.cut(BASE + 120)
    ts, _ = _read(reader, "a")
    assert ts.size == 150
    assert np.all(np.diff(ts) > 0)
    with pytest.raises(PermissionError):
        reader.append([Sample("m", lab, BASE + 10**6, 1.0)])
    with pytest.raises(StoreBusyError):
        open_store(path)
    reader.close()
    writer.close()


def test_index_matchers_follow_prometheus_semantics(store: TSDBStore) -> None:
    label_sets = [
        {"job": "a", "env": "prod"},
        {"job": "a"},
        {"job": "b", "env": ""},
        {"job": "b", "env": "dev"},
    ]
    store.append([Sample("m", Labels(ls), BASE, 1.0) for ls in label_sets])
    store.append([Sample("other", Labels({"job": "a"}), BASE, 1.0)])
    cases = [
        [Matcher("env", MatchOp.EQ, "")],
        [Matcher("env", MatchOp.NE, "")],
        [Matcher("env", MatchOp.NE, "prod")],
        [Matcher("env", MatchOp.RE, "pr.*|")],
        [Matcher("env", MatchOp.NRE, "pr.*|")],
        [Matcher("env", MatchOp.RE, "d.v")],
        [Matcher("__name__", MatchOp.EQ, "m"), Matcher("job", MatchOp.NRE, "b")],
        [Matcher("__name__", MatchOp.RE, "o.*")],
    ]
    everything = store.select([])
    for matchers in cases:
        want = [
            s
            for s in everything
            if all(
                m.matches(s.name if m.name == "__name__" else (s.labels.get(m.name) or ""))
                for m in matchers
            )
        ]
        assert store.select(matchers) == want, matchers


def test_bad_input_gets_a_clear_error(store: TSDBStore) -> None:
    with pytest.raises(ValueError, match="append"):
        store.append([Sample("m", Labels(), "yesterday", 1.0)])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown series id"):
        store.append_columns([999], [BASE], [1.0])
    with pytest.raises(ValueError, match="no rollups"):
        store.read_rollup([], 0, 1, 5000)


def test_background_compaction_merges_four_rows_per_level_then_whole_spans(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.db"
    store = TSDBStore(path, background=False)
    lab = [Labels({"instance": f"h{j}"}) for j in range(3)]
    n = 0

    def levels() -> list[int]:
        db = sqlite3.connect(path)
        rows = db.execute("SELECT level FROM blocks WHERE res = 0 ORDER BY level").fetchall()
        db.close()
        return [int(r[0]) for r in rows]

    for cut in range(16):
        for _ in range(10):
            store.append([Sample("m", lb, BASE + n * 10_000, float(n)) for lb in lab])
            n += 1
        store.cut(BASE + n * 10_000)
        store.compact(full=False)
        if cut == 2:
            assert levels() == [0, 0, 0]
        if cut == 3:
            assert levels() == [1]
    assert levels() == [2]  # 16 cuts: 4 level-1 rows merged into one level-2 row
    ts, vals = _read(store, "h1")
    assert ts.size == n
    assert np.array_equal(vals, np.arange(n, dtype=float))
    # A span the head has moved past is merged whole, whatever its rows' levels.
    store.append([Sample("m", lb, BASE + DAY + 5, 1.0) for lb in lab])
    store.cut(BASE + DAY + 10)
    store.compact(full=False)
    assert levels() == [0, 99]
    store.compact()
    assert levels() == [99, 99]
    assert _read(store, "h1")[0].size == n + 1
    store.close()


def test_windows_inside_the_head_do_not_touch_blocks(store: TSDBStore) -> None:
    lab = Labels({"instance": "a"})
    store.append(_samples("m", lab, BASE + np.arange(100) * 10_000, np.arange(100.0)))
    store.cut(BASE + 50 * 10_000)
    calls = []
    real = store._stored_ranges

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = real(*args, **kwargs)
        calls.append(len(out))
        return out

    store._stored_ranges = spy  # type: ignore[method-assign]
    ts, _ = _read(store, "a", BASE + 60 * 10_000, BASE + 99 * 10_000)
    assert ts.size == 40
    assert calls == [0]  # nothing read from blocks
    ts, _ = _read(store, "a", BASE, BASE + 99 * 10_000)
    assert ts.size == 100
    assert calls == [0, 1]
