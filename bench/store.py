"""Benchmark of the embedded store against a plain SQLite row table and the seeds' Django model.

Usage: python bench/store.py [--quick] [--keep DIR]

Two data sets from bench/store_data.py (fixed seed):
* *wide*: all 10,000 series, one 10,000-sample batch per 10 s cycle: ingest
  rate (``append`` of ``Sample`` batches with the WAL on and the maintenance
  thread cutting the head in the background), bytes per sample after
  compaction, and ``select_ms`` (a matcher picking the 100 series of one host).
* *long*: a few series over 31 days: ``range_24h_ms`` (one series' 8,640 raw
  points of one day) and ``range_30d_ms`` (one series over 30 days at a 1 h
  step, served from rollups; the baselines aggregate in SQL).

Prints progress to stderr and the figures as one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# The bench folder goes last: bench/django.py (another benchmark) must not shadow Django.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]

from store_baselines import DjangoStore, RowStore  # noqa: E402
from store_data import DAY_MS, START_MS, Generator, make_dataset  # noqa: E402
from watchkeeper.model import Matcher, Sample  # noqa: E402
from watchkeeper.store.tsdb import TSDBStore  # noqa: E402


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def p50_ms(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 3)


def batches(ds: Any, gen: Generator, cycles: int) -> Any:
    idx = gen.idx
    names = [ds.names[i] for i in idx]
    labels = [ds.labels[i] for i in idx]
    for ts, vals in gen.cycles(cycles):
        yield list(map(Sample, names, labels, ts.tolist(), vals.tolist()))


def bench_wide(work: Path, quick: bool) -> dict[str, Any]:
    ds = make_dataset(10_000)
    cycles = 90 if quick else 2160  # 15 min / 6 h of 10,000 series
    row_cycles = 20 if quick else 60
    dj_cycles = 4 if quick else 20
    out: dict[str, Any] = {"wide_series": ds.n_series}

    # -- engine ----------------------------------------------------------
    store = TSDBStore(work / "wide.db", max_head_samples=1_000_000)
    spent = 0.0
    n = 0
    for batch in batches(ds, Generator(ds), cycles):
        t0 = time.perf_counter()
        n += store.append(batch)
        spent += time.perf_counter() - t0
    out["samples"] = n
    out["ingest_samples_per_s"] = round(n / spent)
    t0 = time.perf_counter()
    store.compact(flush=True, vacuum=True)
    out["flush_compact_s"] = round(time.perf_counter() - t0, 3)
    out["ingest_incl_cut_compact_samples_per_s"] = round(n / (spent + out["flush_compact_s"]))
    st = store.stats()
    out["bytes_per_sample"] = round(st.bytes / st.samples, 3)
    out["raw_chunk_bytes_per_sample"] = round(float(st.extra["raw_chunk_bytes_per_sample"]), 3)  # type: ignore[arg-type]
    res = st.extra["resolutions"]
    out["rollup_bytes_per_sample"] = round(
        (res["1m"]["chunk_bytes"] + res["1h"]["chunk_bytes"]) / st.samples,
        3,  # type: ignore[index]
    )
    log(
        f"engine wide: {n} samples, {out['ingest_samples_per_s']}/s,"
        f" {out['bytes_per_sample']} B/sample"
    )
    host = [Matcher.equal("instance", "host-042")]
    assert len(store.select(host)) == 100
    out["select_ms"] = p50_ms(lambda: store.select(host), 200)
    regex = [Matcher.equal("job", "node"), Matcher("instance", "=~", "host-04[2]")]  # type: ignore[arg-type]
    out["select_regex_ms"] = p50_ms(lambda: store.select(regex), 200)
    store.close()

    # columnar fast path, same data, fresh store
    store = TSDBStore(work / "wide-col.db", max_head_samples=1_000_000)
    refs = np.array(
        [store.series_id(ds.names[i], ds.labels[i]) for i in range(ds.n_series)], np.int32
    )
    spent = 0.0
    m = 0
    for ts, vals in Generator(ds).cycles(cycles):
        t0 = time.perf_counter()
        m += store.append_columns(refs, ts, vals)
        spent += time.perf_counter() - t0
    out["ingest_columnar_samples_per_s"] = round(m / spent)
    store.close()

    # -- plain SQLite rows -------------------------------------------------------
    rows = RowStore(work / "wide-rows.db")
    spent = 0.0
    k = 0
    for batch in batches(ds, Generator(ds), row_cycles):
        t0 = time.perf_counter()
        k += rows.append(batch)
        spent += time.perf_counter() - t0
    out["sqlite_rows"] = {
        "samples": k,
        "ingest_samples_per_s": round(k / spent),
        "bytes_per_sample": round(rows.bytes() / k, 3),
        "select_ms": p50_ms(lambda: rows.select("host-042"), 20),
    }
    rows.close()
    log(f"rows wide: {out['sqlite_rows']}")

    # -- Django --------------------------------------------------------------------
    dj = DjangoStore(work / "django.db")
    spent = 0.0
    k = 0
    for batch in batches(ds, Generator(ds), dj_cycles):
        objs = dj.objects(batch)
        t0 = time.perf_counter()
        k += dj.append(objs)
        spent += time.perf_counter() - t0
    out["django"] = {
        "samples": k,
        "ingest_samples_per_s": round(k / spent),
        "bytes_per_sample": round(dj.bytes() / k, 3),
        "select_ms": p50_ms(lambda: dj.select("host-042"), 20),
    }
    log(f"django wide: {out['django']}")
    out["_django"] = dj
    return out


def bench_long(work: Path, quick: bool, dj: DjangoStore) -> dict[str, Any]:
    ds = make_dataset(10_000)
    # A few series of each kind; the queried one is a noisy gauge.
    picks = np.concatenate([np.flatnonzero(ds.kinds == k)[: (1 if quick else 2)] for k in range(4)])
    days = 31
    cycles = days * 8640
    target = int(picks[0])
    name, labels = ds.names[target], ds.labels[target]
    matchers = [Matcher.equal("__name__", name), *(Matcher.equal(k, v) for k, v in labels)]
    day_start = START_MS + 20 * DAY_MS
    day_end = day_start + DAY_MS - 1
    m_start, m_end = START_MS + DAY_MS, START_MS + 31 * DAY_MS - 1
    out: dict[str, Any] = {"long_series": int(picks.size), "long_days": days}

    store = TSDBStore(work / "long.db", background=False)
    refs = np.array([store.series_id(ds.names[i], ds.labels[i]) for i in picks], np.int32)
    gen = Generator(ds, picks)
    per_block = max(1, 10_000 // picks.size)  # batches of 10,000 samples
    done = 0
    while done < cycles:
        c = min(per_block, cycles - done)
        ts, vals = gen.block(c)
        store.append_columns(np.tile(refs, c), ts.ravel(), vals.ravel())
        done += c
        store.run_maintenance()
    store.compact(flush=True, vacuum=True)
    st = store.stats()
    out["long_bytes_per_sample"] = round(st.bytes / st.samples, 3)
    out["long_raw_chunk_bytes_per_sample"] = round(float(st.extra["raw_chunk_bytes_per_sample"]), 3)  # type: ignore[arg-type]
    got = store.read_range(matchers, day_start, day_end)
    assert len(got) == 1
    assert len(got[0]) == 8640, len(got[0])
    out["range_24h_ms"] = p50_ms(lambda: store.read_range(matchers, day_start, day_end), 200)
    got = store.read_range(matchers, m_start, m_end, min_step_ms=3_600_000)
    assert len(got[0]) == 720, len(got[0])
    out["range_30d_ms"] = p50_ms(
        lambda: store.read_range(matchers, m_start, m_end, min_step_ms=3_600_000), 200
    )
    store.close()
    # Another process's view: a read-only store replays nothing (all cut) and reads chunks.
    ro = TSDBStore(work / "long.db", readonly=True)
    out["range_24h_readonly_ms"] = p50_ms(lambda: ro.read_range(matchers, day_start, day_end), 100)
    ro.close()
    log(f"engine long: {out}")

    # Baselines get the queried series only (the row count per series is what matters).
    rows = RowStore(work / "long-rows.db")
    dj.truncate()
    gen = Generator(ds, picks[:1])
    done = 0
    block = 8640
    while done < cycles:
        ts, vals = gen.block(block)
        batch = [
            Sample(name, labels, int(t), float(v))
            for t, v in zip(ts[:, 0], vals[:, 0], strict=True)
        ]
        rows.append(batch)
        dj.append(dj.objects(batch))
        done += block
    sid = rows.sid_of(name, labels)
    text = name + str(labels)
    assert rows.range(sid, day_start, day_end)[0].size == 8640
    assert dj.range(text, day_start, day_end)[0].size == 8640
    out["sqlite_rows"] = {
        "range_24h_ms": p50_ms(lambda: rows.range(sid, day_start, day_end), 30),
        "range_30d_ms": p50_ms(lambda: rows.range_hourly(sid, m_start, m_end), 5),
    }
    out["django"] = {
        "range_24h_ms": p50_ms(lambda: dj.range(text, day_start, day_end), 10),
        "range_30d_ms": p50_ms(lambda: dj.range_hourly(text, m_start, m_end), 3),
    }
    rows.close()
    log(f"baselines long: {out['sqlite_rows']} {out['django']}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data sets, under a minute")
    parser.add_argument("--keep", type=Path, help="work directory to keep (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wk-bench-store-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        wide = bench_wide(work, args.quick)
        dj = wide.pop("_django")
        long = bench_long(work, args.quick, dj)
        result: dict[str, Any] = {"mode": "quick" if args.quick else "full"}
        for key in ("ingest_samples_per_s", "bytes_per_sample", "select_ms"):
            result[key] = wide[key]
        for key in ("range_24h_ms", "range_30d_ms"):
            result[key] = long[key]
        for key, value in {**wide, **long}.items():
            if key not in ("sqlite_rows", "django") and key not in result:
                result[key] = value
        for base in ("sqlite_rows", "django"):
            result[base] = {**wide[base], **long[base]}
        result["elapsed_s"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(result))


if __name__ == "__main__":
    main()
