"""The run loop survives bad collectors, never loses collected samples, and flushes on stop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from watchkeeper.collect.base import AsyncCollector, SyncCollector
from watchkeeper.model import NAME_LABEL, Labels, Matcher, Sample
from watchkeeper.runtime.runner import Runner
from watchkeeper.store import Store, open_store
from watchkeeper.store.base import Series, SeriesData, StoreStats
from wk_testing import until


class Counting(SyncCollector):
    def __init__(self, name: str = "good", interval: float = 0.05) -> None:
        super().__init__(name, interval=interval, timeout=1.0)
        self.calls = 0

    def collect(self, now_ms: int) -> Iterable[Sample]:
        self.calls += 1
        return [Sample("test_value", Labels({"n": str(self.calls)}), now_ms, float(self.calls))]


class Raising(SyncCollector):
    def collect(self, now_ms: int) -> Iterable[Sample]:
        raise RuntimeError("database on fire")


class Hanging(SyncCollector):
    def __init__(self, release: threading.Event) -> None:
        super().__init__("hang", interval=0.05, timeout=0.1)
        self.release = release
        self.calls = 0

    def collect(self, now_ms: int) -> Iterable[Sample]:
        self.calls += 1
        self.release.wait()
        return []


class Garbage(SyncCollector):
    def collect(self, now_ms: int) -> Iterable[Sample]:
        return [
            1,  # type: ignore[list-item]
            Sample("bad name!", Labels(), now_ms, 1.0),
            Sample("ok_metric", Labels({"__bad": "x"}), now_ms, 1.0),
            Sample("ok_metric", Labels(), now_ms, "7"),  # type: ignore[arg-type]
            Sample("kept_metric", Labels(), now_ms, 3),  # int is fine: becomes float
        ]


class NotIterable(SyncCollector):
    def collect(self, now_ms: int) -> Iterable[Sample]:
        return 42  # type: ignore[return-value]


class AsyncSlow(AsyncCollector):
    async def collect(self, now_ms: int) -> Iterable[Sample]:
        await asyncio.Event().wait()  # never set: always times out
        return []


def latest(store: Store, metric: str, **labels: str) -> float:
    matchers = [Matcher.equal(NAME_LABEL, metric)] + [
        Matcher.equal(k, v) for k, v in labels.items()
    ]
    (data,) = store.read_range(matchers, 0, 2**62)
    return float(data.values[-1])


async def test_loop_survives_raising_hanging_and_garbage_collectors(tmp_path: Path) -> None:
    release = threading.Event()
    good = Counting()
    hang = Hanging(release)
    collectors = [
        good,
        Raising("raise", interval=0.05, timeout=1.0),
        hang,
        Garbage("garbage", interval=0.05, timeout=1.0),
        NotIterable("scalar", interval=0.05, timeout=1.0),
        AsyncSlow("async-slow", interval=0.05, timeout=0.1),
    ]
    runner = Runner(
        collectors, open_store(tmp_path / "wk.db"), labels={"instance": "test"}, flush_interval=0.05
    )
    task = asyncio.create_task(runner.run())
    try:
        st = runner.stats.collectors
        await until(
            lambda: good.calls >= 10 and st["hang"].failures >= 3 and st["async-slow"].failures >= 2
        )
    finally:
        runner.request_stop()
        await task
        release.set()
    # The hung collector was never started twice while its first call was stuck.
    assert hang.calls == 1
    assert "previous collection still running" in (st["hang"].last_error or "")
    assert st["raise"].last_error == "RuntimeError: database on fire"
    assert st["garbage"].rejected >= 4
    assert "invalid item" in (st["garbage"].last_error or "")
    assert "expected samples" in (st["scalar"].last_error or "")
    assert "timed out after 0.1s" in (st["async-slow"].last_error or "")
    with open_store(tmp_path / "wk.db", readonly=True) as store:
        assert latest(store, "watchkeeper_collector_up", collector="good") == 1.0
        for name in ("raise", "hang", "garbage", "scalar", "async-slow"):
            assert latest(store, "watchkeeper_collector_up", collector=name) == 0.0, name
        # Global labels are added; the good parts of a garbage answer are kept.
        assert latest(store, "kept_metric", instance="test") == 3.0
        assert latest(store, "watchkeeper_collection_duration_seconds", collector="good") >= 0
        values = store.read_range([Matcher.equal(NAME_LABEL, "test_value")], 0, 2**62)
        assert len(values) == good.calls


async def test_stop_flushes_everything_collected(tmp_path: Path) -> None:
    good = Counting()
    # Nothing would be written before stop: huge batch, an hour between flushes.
    runner = Runner([good], open_store(tmp_path / "wk.db"), batch_size=10**6, flush_interval=3600)
    task = asyncio.create_task(runner.run())
    await until(lambda: good.calls >= 5)
    assert runner.stats.samples_written == 0
    runner.request_stop()
    await task
    with open_store(tmp_path / "wk.db", readonly=True) as store:
        series = store.read_range([Matcher.equal(NAME_LABEL, "test_value")], 0, 2**62)
    assert len(series) == good.calls
    assert runner.stats.samples_written == 3 * good.calls  # value + up + duration


class FlakyStore(Store):
    """The real store behind a switch that makes writes fail, like a full disk would."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.failing = True
        self.failures = 0

    def append(self, samples: Sequence[Sample]) -> int:
        if self.failing:
            self.failures += 1
            raise OSError("disk full")
        return self.inner.append(samples)

    def select(self, matchers: Sequence[Matcher]) -> list[Series]:
        return self.inner.select(matchers)

    def read_range(
        self, matchers: Sequence[Matcher], start_ms: int, end_ms: int, *, min_step_ms: int = 0
    ) -> list[SeriesData]:
        return self.inner.read_range(matchers, start_ms, end_ms, min_step_ms=min_step_ms)

    def delete_before(self, ts_ms: int) -> int:
        return self.inner.delete_before(ts_ms)

    def stats(self) -> StoreStats:
        return self.inner.stats()

    def close(self) -> None:
        self.inner.close()


async def test_store_outage_keeps_samples_and_retries(tmp_path: Path) -> None:
    good = Counting()
    store = FlakyStore(open_store(tmp_path / "wk.db"))
    runner = Runner([good], store, flush_interval=0.02)
    task = asyncio.create_task(runner.run())
    await until(lambda: store.failures >= 1 and good.calls >= 5)
    assert runner.stats.write_errors >= 1
    store.failing = False
    runner.request_stop()
    await task
    with open_store(tmp_path / "wk.db", readonly=True) as reader:
        series = reader.read_range([Matcher.equal(NAME_LABEL, "test_value")], 0, 2**62)
    assert len(series) == good.calls
    assert runner.stats.samples_dropped == 0


async def test_backlog_over_the_limit_drops_oldest_and_counts(tmp_path: Path) -> None:
    good = Counting()
    store = FlakyStore(open_store(tmp_path / "wk.db"))
    runner = Runner([good], store, flush_interval=0.02, max_buffered=1000)
    big = [Sample("bulk", Labels({"i": str(i)}), 1_000, 1.0) for i in range(900)]
    runner.writer.add(big)
    runner.writer.add(list(big))
    assert runner.stats.samples_dropped == 900
    assert runner.writer.buffered == 900
    store.failing = False
    task = asyncio.create_task(runner.run())
    await until(lambda: good.calls >= 1)
    runner.request_stop()
    await task


async def test_retention_deletes_only_older_samples(tmp_path: Path) -> None:
    path = tmp_path / "wk.db"
    now = int(time.time() * 1000)
    hour = 3600_000
    with open_store(path) as store:
        store.append(
            [
                Sample("old_metric", Labels(), now - 3 * hour, 1.0),
                Sample("mixed_metric", Labels(), now - 2 * hour - 1, 2.0),
                Sample("mixed_metric", Labels(), now - hour // 2, 3.0),
            ]
        )
    good = Counting(interval=0.05)
    runner = Runner([good], open_store(path), retention_s=2 * 3600, flush_interval=0.05)
    task = asyncio.create_task(runner.run())
    await until(lambda: runner.stats.retention_deleted >= 2 and good.calls >= 2)
    runner.request_stop()
    await task
    with open_store(path, readonly=True) as store:
        assert store.read_range([Matcher.equal(NAME_LABEL, "old_metric")], 0, 2**62) == []
        (mixed,) = store.read_range([Matcher.equal(NAME_LABEL, "mixed_metric")], 0, 2**62)
        assert mixed.values.tolist() == [3.0]
        assert store.read_range([Matcher.equal(NAME_LABEL, "test_value")], 0, 2**62)
    assert runner.stats.retention_deleted == 2


def test_duplicate_collector_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="share the name"):
        Runner([Counting("a"), Counting("a")], open_store(tmp_path / "wk.db"))
