"""The multiprocess core: exact sums over processes, compaction that cannot lose or double."""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from watchkeeper.contrib.exposition import _compact_kind, collect, render
from watchkeeper.contrib.metrics import OVERFLOW, Registry
from watchkeeper.contrib.security import FailedLoginTracker
from watchkeeper.contrib.table import Table, read_entries


def _values(registry: Registry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, _ = render(registry)
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(body.decode())
        for s in f.samples
    }


def test_forked_children_are_summed_and_dead_ones_folded(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    requests = registry.counter("jobs_total", "Jobs.", ("kind",))
    latency = registry.histogram("job_seconds", "Latency.", ("kind",), (0.1, 1.0))
    busy = registry.gauge("jobs_busy", "Busy.")
    children = []
    for n in range(1, 4):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            for _ in range(n * 10):
                requests.inc("a")
                latency.observe("a", value=0.5)
            busy.inc(amount=5)  # a dead process's gauge must not count
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    requests.inc("a", amount=4)
    busy.inc()
    values = _values(registry)
    assert values[("jobs_total", (("kind", "a"),))] == 64
    assert values[("job_seconds_count", (("kind", "a"),))] == 60
    assert values[("job_seconds_bucket", (("kind", "a"), ("le", "1.0")))] == 60
    assert values[("job_seconds_bucket", (("kind", "a"), ("le", "0.1")))] == 0
    assert values[("jobs_busy", ())] == 1
    # The three children's files were folded into one archive per kind.
    assert sorted(p.name for p in tmp_path.glob("counter_*")) == [
        f"counter_{os.getpid()}.wkdb",
        "counter_archive.wkdb",
    ]
    assert _values(registry)[("jobs_total", (("kind", "a"),))] == 64


def test_compaction_interrupted_after_archive_write_does_not_double(tmp_path: Path) -> None:
    # A dead process's file, claimed (renamed) and folded, but the crash came
    # before the merging file was deleted: readers and the next compaction
    # must see it once.
    dead = Table(tmp_path / "counter_99999.wkdb")
    key = '["c", "c_total", {}, "h"]'
    slot = dead.slot(key)
    dead.values[slot] = 7.0
    dead.close()  # releases the owner lock: the process is "dead"
    merging = tmp_path / "counter_99999.merging"
    os.replace(tmp_path / "counter_99999.wkdb", merging)
    keep = merging.read_bytes()
    _compact_kind(tmp_path, "counter")
    merging.write_bytes(keep)  # as if the delete never happened
    registry = Registry(tmp_path)
    assert _values(registry)[("c_total", ())] == 7
    _compact_kind(tmp_path, "counter")
    assert not merging.exists()
    assert _values(registry)[("c_total", ())] == 7


def test_cardinality_is_capped(tmp_path: Path) -> None:
    registry = Registry(None)
    family = registry.counter("paths_total", "Paths.", ("route",), max_series=5)
    for i in range(50):
        family.inc(f"/r{i}")
    values = {labels: v for (name, labels), v in _values(registry).items()}
    assert len(values) == 6
    assert values[(("route", OVERFLOW),)] == 45


def test_table_layout_is_prometheus_clients(tmp_path: Path) -> None:
    from prometheus_client.mmap_dict import MmapedDict

    table = Table(tmp_path / "counter_1.wkdb")
    for i in range(2000):  # forces growth past the first 64 KiB
        slot = table.slot(f'["m{i}", "m{i}_total", {{}}, "h"]')
        table.values[slot] = float(i)
    theirs = {
        k: v for k, v, _ in MmapedDict(str(tmp_path / "counter_1.wkdb"), True).read_all_values()
    }
    ours = dict(read_entries((tmp_path / "counter_1.wkdb").read_bytes()))
    assert ours == theirs
    assert theirs['["m1999", "m1999_total", {}, "h"]'] == 1999.0


def test_failed_login_tracker_keeps_heavy_hitters_bounded(tmp_path: Path) -> None:
    tracker = FailedLoginTracker(tmp_path, window=300, capacity=10)
    now = 1_000_000.0
    for i in range(500):  # a botnet: 500 addresses once each
        tracker.failed(f"10.0.{i // 256}.{i % 256}", now)
    for _ in range(40):
        tracker.failed("192.0.2.7", now)
    top = tracker.top(now=now)
    assert len(top) == 10
    assert top[0][0] == "192.0.2.7"
    assert top[0][1] >= 40
    assert tracker.max_per_address(now + 301) == 0  # the window passed


def test_in_memory_registry_collects_without_directory() -> None:
    registry = Registry(None)
    registry.counter("x_total", "X.").inc(amount=3)
    families = collect(registry)
    assert [s.value for f in families for s in f.samples] == [3.0]


def test_http_methods_outside_the_standard_ones_count_as_other() -> None:
    from watchkeeper.contrib.http import HttpMetrics

    http = HttpMetrics(Registry(None))
    for i in range(100):  # clients choose the method: none may become a label or a cache entry
        http.started()
        http.finished(f"X-{i}", "/items/{id}", 200, 0.01, 10)
    http.started()
    http.finished("GET", "/items/{id}", 200, 0.01, 10)
    values = _values(http.registry)

    def requests(method: str) -> float:
        return values[
            ("http_requests_total", (("code", "2xx"), ("method", method), ("route", "/items/{id}")))
        ]

    assert requests("other") == 100
    assert requests("GET") == 1
    assert len(http._series) == 2
