"""Crash safety (kill -9 mid-ingest) and readers during compaction."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from watchkeeper.model import Labels, Matcher, Sample
from watchkeeper.store import open_store
from watchkeeper.store.tsdb import TSDBStore
from watchkeeper.store.tsdb import engine as engine_mod

BASE = 1_767_225_600_000
SERIES = 50

WRITER = textwrap.dedent(
    """
    import sys
    from watchkeeper.model import Labels, Sample
    from watchkeeper.store import open_store

    base, series = int(sys.argv[2]), int(sys.argv[3])
    # A small head and chunk range, so that cuts and compactions run while we are killed.
    store = open_store(sys.argv[1], max_head_samples=2_000, chunk_range_ms=600_000, ooo_window_ms=0,
                       maintenance_interval_s=0.01)
    labels = [Labels({"instance": f"h{j}"}) for j in range(series)]
    i = 0
    while True:
        batch = [Sample("m", labels[j], base + i * 10_000, float(i * 1000 + j))
                 for j in range(series)]
        store.append(batch)
        print(i, flush=True)  # acknowledged
        i += 1
    """
)


@pytest.mark.slow
def test_kill_9_mid_ingest_loses_no_acknowledged_batch(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(BASE), str(SERIES)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    acked = -1
    for line in proc.stdout:
        acked = int(line)
        if acked >= 600:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert acked >= 600

    store = open_store(path, background=False)  # recovery: WAL replay into the head
    got = {
        int(s.labels.get("instance", "h")[1:]): d
        for s, d in (
            (d.series, d) for d in store.read_range([Matcher.equal("__name__", "m")], 0, 2**62)
        )
    }
    assert sorted(got) == list(range(SERIES))
    lengths = {len(d) for d in got.values()}
    assert len(lengths) == 1, f"a batch is half-written: {lengths}"
    n = lengths.pop()
    assert n >= acked + 1  # every acknowledged batch (one more may have committed unacknowledged)
    for j, d in got.items():
        i = np.arange(n)
        assert np.array_equal(d.timestamps, BASE + i * 10_000)
        assert np.array_equal(d.values, i * 1000.0 + j)
    assert store.stats().extra["counters"].get("wal_damaged", 0) == 0  # type: ignore[union-attr]
    store.close()


def test_reader_sees_consistent_data_during_compaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.db"
    writer = TSDBStore(path, background=False)
    labels = [Labels({"instance": f"h{j}"}) for j in range(600)]
    n = 0
    for _cut in range(8):  # eight cuts: eight chunks per series to merge
        for _ in range(30):
            writer.append([Sample("m", lab, BASE + n * 10_000, float(n)) for lab in labels])
            n += 1
        writer.cut(BASE + n * 10_000)
    for _ in range(10):  # and some head data, which the reader replays from the WAL
        writer.append([Sample("m", lab, BASE + n * 10_000, float(n)) for lab in labels])
        n += 1
    reader = open_store(path, readonly=True)
    matchers = [Matcher.equal("instance", "h7")]
    want = np.arange(n, dtype=float)

    mid = threading.Event()
    read_done = threading.Event()
    real_insert = engine_mod._insert_rows

    def slow_insert(db, rows):  # type: ignore[no-untyped-def]
        if not mid.is_set():
            mid.set()
            read_done.wait(timeout=30)  # hold the compaction open until a read ran inside it
        real_insert(db, rows)

    monkeypatch.setattr(engine_mod, "_insert_rows", slow_insert)
    errors: list[str] = []
    reads = 0

    def read_loop() -> None:
        nonlocal reads
        while not stop.is_set():
            inside = mid.is_set()  # this read starts while the compaction is open
            got = reader.read_range(matchers, 0, 2**62)
            if len(got) != 1 or not np.array_equal(got[0].values, want):
                errors.append(f"read {reads}: {len(got[0]) if got else 0} points")
            reads += 1
            if inside:
                read_done.set()

    stop = threading.Event()
    t = threading.Thread(target=read_loop)
    t.start()
    result = writer.compact()
    stop.set()
    t.join()
    assert result["chunks_merged"] > 0
    assert read_done.is_set()
    assert reads > 0
    assert errors == []
    assert writer.stats().extra["chunks"] < 600 * 8  # merged
    got = reader.read_range(matchers, 0, 2**62)[0]
    assert np.array_equal(got.values, want)
    reader.close()
    writer.close()
