"""What every store engine behind ``open_store`` must do (the interface's contract)."""

from __future__ import annotations

import math
import multiprocessing
from pathlib import Path

import pytest

from watchkeeper.model import NAME_LABEL, Labels, Matcher, MatchOp, Sample
from watchkeeper.store import Store, open_store

T0 = 1_700_000_000_000


def name_is(name: str) -> Matcher:
    return Matcher(NAME_LABEL, MatchOp.EQ, name)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_store(tmp_path / "wk.db")
    yield s  # type: ignore[misc]
    s.close()


def disk_samples(ts: int, value: float) -> list[Sample]:
    return [
        Sample("disk_used", Labels({"device": dev, "mount": mount}), ts, value + i)
        for i, (dev, mount) in enumerate([("sda", "/"), ("sdb", "/data"), ("nvme0", "/fast")])
    ]


def test_append_then_read_range(store: Store) -> None:
    for i in range(10):
        store.append(disk_samples(T0 + i * 10_000, float(i)))
    found = store.read_range(
        [name_is("disk_used"), Matcher.equal("device", "sdb")], T0, T0 + 90_000
    )
    assert len(found) == 1
    (data,) = found
    assert data.series.name == "disk_used"
    assert data.series.labels == Labels({"device": "sdb", "mount": "/data"})
    assert data.timestamps.tolist() == [T0 + i * 10_000 for i in range(10)]
    assert data.values.tolist() == [i + 1.0 for i in range(10)]
    # The range is inclusive at both ends.
    (part,) = store.read_range(
        [name_is("disk_used"), Matcher.equal("device", "sdb")], T0 + 10_000, T0 + 30_000
    )
    assert part.timestamps.tolist() == [T0 + 10_000, T0 + 20_000, T0 + 30_000]


def test_all_four_matcher_kinds(store: Store) -> None:
    store.append([*disk_samples(T0, 1.0), Sample("other", Labels({"device": "sda"}), T0, 9.0)])

    def devices(*matchers: Matcher) -> list[str]:
        return sorted(
            s.labels.get("device") or "" for s in store.select([name_is("disk_used"), *matchers])
        )

    assert devices(Matcher("device", MatchOp.EQ, "sda")) == ["sda"]
    assert devices(Matcher("device", MatchOp.NE, "sda")) == ["nvme0", "sdb"]
    assert devices(Matcher("device", MatchOp.RE, "sd.")) == ["sda", "sdb"]
    assert devices(Matcher("device", MatchOp.NRE, "sd.")) == ["nvme0"]
    assert devices(Matcher("missing", MatchOp.EQ, "")) == ["nvme0", "sda", "sdb"]
    assert devices(Matcher("missing", MatchOp.NE, "")) == []
    by_regex_name = store.select([Matcher(NAME_LABEL, MatchOp.RE, "disk_.*|other")])
    assert len(by_regex_name) == 4


def test_special_values_survive(store: Store) -> None:
    values = [0.0, -1.5, 1e308, 5e-324, math.inf, -math.inf, 123456.789]
    store.append([Sample("special", Labels(), T0 + i * 1000, v) for i, v in enumerate(values)])
    store.append([Sample("special", Labels(), T0 + 7000, math.nan)])
    (data,) = store.read_range([name_is("special")], T0, T0 + 10_000)
    assert data.values[:7].tolist() == values
    assert math.isnan(data.values[7])


def test_empty_range_and_unknown_series(store: Store) -> None:
    store.append(disk_samples(T0, 1.0))
    assert store.read_range([name_is("disk_used")], T0 + 1, T0 + 100) == []
    assert store.read_range([name_is("nope")], 0, 2**62) == []
    assert store.select([name_is("nope")]) == []


def test_delete_before_keeps_the_boundary(store: Store) -> None:
    for i in range(10):
        store.append(disk_samples(T0 + i * 1000, float(i)))
    deleted = store.delete_before(T0 + 5000)
    assert deleted == 15
    (data,) = store.read_range([name_is("disk_used"), Matcher.equal("device", "sda")], 0, 2**62)
    assert data.timestamps.tolist() == [T0 + i * 1000 for i in range(5, 10)]


def test_stats_count_series_and_samples(store: Store) -> None:
    for i in range(4):
        store.append(disk_samples(T0 + i * 1000, float(i)))
    stats = store.stats()
    assert stats.series == 3
    assert stats.samples == 12
    assert stats.oldest_ms == T0
    assert stats.newest_ms == T0 + 3000
    assert stats.bytes > 0


def _read_in_child(path: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    with open_store(path, readonly=True) as reader:
        found = reader.read_range([name_is("disk_used")], 0, 2**62)
        queue.put(sorted(len(d) for d in found))


def test_another_process_reads_while_the_writer_is_open(tmp_path: Path) -> None:
    path = tmp_path / "wk.db"
    writer = open_store(path)
    try:
        for i in range(5):
            writer.append(disk_samples(T0 + i * 1000, float(i)))
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        child = ctx.Process(target=_read_in_child, args=(str(path), queue))
        child.start()
        result = queue.get(timeout=60)
        child.join(timeout=60)
        assert result == [5, 5, 5]
    finally:
        writer.close()


def test_reopen_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "wk.db"
    with open_store(path) as first:
        first.append(disk_samples(T0, 1.0))
    with open_store(path) as second:
        second.append(disk_samples(T0 + 1000, 2.0))
        (data,) = second.read_range(
            [name_is("disk_used"), Matcher.equal("device", "sda")], 0, 2**62
        )
        assert data.values.tolist() == [1.0, 2.0]
