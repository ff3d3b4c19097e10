"""The host collector against the real machine it runs on."""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psutil
import pytest

from watchkeeper.collect import procfs
from watchkeeper.collect.filesystems import DEFAULT_EXCLUDE_MOUNTPOINTS, FilesystemWatcher, Mount
from watchkeeper.collect.host import HostCollector, ProcessMatch
from watchkeeper.collect.tcpstates import TCP_STATES, TcpStateCounter
from watchkeeper.model import MetricType, Sample, is_valid_label_name, is_valid_metric_name
from wk_testing import require_tool

LINUX = sys.platform.startswith("linux")
META = {m.name: m for m in HostCollector.metrics}


def now_ms() -> int:
    return int(time.time() * 1000)


def by_series(samples: Sequence[Sample]) -> dict[str, float]:
    return {s.series_text(): s.value for s in samples}


def values(samples: Sequence[Sample], name: str, /, **labels: str) -> list[float]:
    return [
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]


def value(samples: Sequence[Sample], name: str, /, **labels: str) -> float:
    found = values(samples, name, **labels)
    assert len(found) == 1, f"expected one {name}{labels}, got {found}"
    return found[0]


@pytest.fixture
def collector() -> HostCollector:
    return HostCollector(processes=["sleep"])


# -- Families, names, types ---------------------------------------------------------------


def test_every_declared_family_is_produced(collector: HostCollector) -> None:
    produced = {s.name for s in collector.collect(now_ms())}
    expected = set(META)
    if not LINUX:  # Counted from /proc/stat and /proc/loadavg only.
        expected -= {"host_processes_running", "host_processes_blocked", "host_threads"}
    assert expected - produced == set()
    assert produced - set(META) == set(), "every emitted family must be declared in .metrics"


def test_names_labels_and_types_follow_prometheus_conventions(collector: HostCollector) -> None:
    samples = collector.collect(now_ms())
    for meta in HostCollector.metrics:
        assert is_valid_metric_name(meta.name), meta.name
        assert meta.name.startswith("host_")
        assert meta.help, meta.name
        assert meta.help[0].isupper(), meta.name
        if meta.type is MetricType.COUNTER:
            assert meta.name.endswith("_total"), meta.name
        else:
            assert not meta.name.endswith("_total"), meta.name
            assert not re.search(r"_(count|sum|bucket)$", meta.name), meta.name
    for s in samples:
        assert set(s.labels.names()) == set(META[s.name].labels), s.series_text()
        assert all(is_valid_label_name(n) for n in s.labels.names())
    series = [s.series_text() for s in samples]
    assert len(series) == len(set(series)), "a series must appear once per collection"


def test_percentages_stay_within_0_and_100(collector: HostCollector) -> None:
    for _ in range(2):
        samples = collector.collect(now_ms())
        percents = [s for s in samples if s.name.endswith("_percent")]
        assert len(percents) > 10
        for s in percents:
            assert 0.0 <= s.value <= 100.0, s.series_text()
    modes = values(samples, "host_cpu_mode_percent")
    assert sum(modes) == pytest.approx(100.0)


def test_counters_are_non_negative_and_never_decrease(collector: HostCollector) -> None:
    first = collector.collect(now_ms())
    # Some disk, network and CPU work between the two collections.
    with socket.create_connection(("127.0.0.1", _listener_port())) as conn:
        conn.sendall(b"x" * 10000)
    Path(os.devnull).write_bytes(os.urandom(100000))
    second = collector.collect(now_ms())
    counters = {m.name for m in HostCollector.metrics if m.type is MetricType.COUNTER}
    before = {s.series_text(): s.value for s in first if s.name in counters}
    after = {s.series_text(): s.value for s in second if s.name in counters}
    assert len(after) > 30
    for series, v in after.items():
        assert v >= 0, series
        if series in before:
            assert v >= before[series], f"{series} went from {before[series]} to {v}"
    assert value(second, "host_context_switches_total") > value(
        first, "host_context_switches_total"
    )


def _listener_port() -> int:
    # A throw-away listener that accepts and discards, for generating traffic.
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                while conn.recv(65536):
                    pass

    threading.Thread(target=serve, daemon=True).start()
    port: int = server.getsockname()[1]
    return port


def test_cpu_figures_match_the_machine(collector: HostCollector) -> None:
    samples = collector.collect(now_ms())
    logical = psutil.cpu_count()
    assert value(samples, "host_cpu_cores", type="logical") == logical
    assert len(values(samples, "host_cpu_core_usage_percent")) == logical
    assert {s.labels.get("mode") for s in samples if s.name == "host_cpu_seconds_total"} == {
        "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"
    }  # fmt: skip
    # CPU seconds summed over cores cannot exceed uptime times the number of cores.
    total = sum(values(samples, "host_cpu_seconds_total"))
    assert 0 < total <= value(samples, "host_uptime_seconds") * logical * 1.05
    assert value(samples, "host_boot_time_seconds") == pytest.approx(psutil.boot_time(), abs=2)
    assert value(samples, "host_processes") > 1
    assert value(samples, "host_threads") >= value(samples, "host_processes")
    assert value(samples, "host_processes_running") >= 1  # this test is running
    no_cores = HostCollector(per_cpu=False).collect(now_ms())
    assert values(no_cores, "host_cpu_core_usage_percent") == []


def test_memory_totals_are_consistent(collector: HostCollector) -> None:
    samples = collector.collect(now_ms())
    total = value(samples, "host_memory_total_bytes")
    available = value(samples, "host_memory_available_bytes")
    assert total > available > 0
    assert 0 < value(samples, "host_memory_used_bytes") < total
    assert value(samples, "host_memory_free_bytes") <= available
    swap_total = value(samples, "host_swap_total_bytes")
    assert value(samples, "host_swap_used_bytes") <= swap_total
    assert value(samples, "host_memory_usage_percent") == pytest.approx(
        (total - available) * 100 / total
    )


def test_info_names_this_host(collector: HostCollector) -> None:
    info = [s for s in collector.collect(now_ms()) if s.name == "host_info"]
    assert len(info) == 1
    assert info[0].value == 1
    assert info[0].labels.get("hostname") == socket.gethostname()
    assert info[0].labels.get("kernel") == os.uname().release


# -- TCP ------------------------------------------------------------------------------------


@contextmanager
def open_connections(n: int) -> Iterator[None]:
    """``n`` listening sockets and ``n`` established connections (2n established sockets)."""
    with ExitStack() as stack:
        for _ in range(n):
            server = stack.enter_context(socket.create_server(("127.0.0.1", 0)))
            client = stack.enter_context(socket.create_connection(server.getsockname()))
            accepted, _ = server.accept()
            stack.enter_context(accepted)
            assert client.fileno() >= 0
        yield


@pytest.mark.parametrize("method", TcpStateCounter.METHODS)
def test_tcp_counts_see_our_listeners_and_connections(method: str) -> None:
    counter = TcpStateCounter(method)
    before = counter.count()
    with open_connections(3):
        during = counter.count()
    assert counter.method == method, "the method must work here, not fall back"
    assert set(during) == set(TCP_STATES)
    assert during["listen"] > before["listen"]
    assert during["established"] > before["established"]


def test_tcp_series_are_stable_and_reflect_connections(collector: HostCollector) -> None:
    before = collector.collect(now_ms())
    with open_connections(3):
        during = collector.collect(now_ms())
    states = {s.labels.get("state") for s in during if s.name == "host_tcp_connections"}
    assert states == set(TCP_STATES)  # zero counts included
    for state in ("listen", "established"):
        assert value(during, "host_tcp_connections", state=state) > value(
            before, "host_tcp_connections", state=state
        )


def test_unknown_tcp_method_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown TCP counting method 'carrier-pigeon'"):
        TcpStateCounter("carrier-pigeon")


# -- Named processes ----------------------------------------------------------------------


def test_named_process_is_counted_while_alive_and_dropped_when_killed() -> None:
    duration = f"300.{uuid.uuid4().int % 10**9}"  # our own sleep, whatever else runs here
    collector = HostCollector(
        processes=[
            ProcessMatch("mine", "sleep", cmdline=rf"^sleep {re.escape(duration)}$"),
            "sleep",
        ]
    )
    collector.collect(now_ms())  # full scan; the sleep is then a new pid
    proc = subprocess.Popen(["sleep", duration])
    try:
        during = collector.collect(now_ms())
        assert value(during, "host_process_instances", name="mine") == 1
        assert value(during, "host_process_instances", name="sleep") >= 1
        assert value(during, "host_process_resident_memory_bytes", name="mine") > 0
        assert value(during, "host_process_threads", name="mine") == 1
        assert value(during, "host_process_open_fds", name="mine") >= 1  # has std streams
        assert 0 <= value(during, "host_process_cpu_percent", name="mine") <= 100
        proc.kill()
        # Until its parent (this test) reaps it, it is a zombie: dead, not an instance.
        _await(lambda: psutil.Process(proc.pid).status() == psutil.STATUS_ZOMBIE)
        zombie = collector.collect(now_ms())
        assert value(zombie, "host_process_instances", name="mine") == 0
    finally:
        proc.kill()
        proc.wait()
    after = collector.collect(now_ms())
    assert value(after, "host_process_instances", name="mine") == 0
    assert value(after, "host_process_resident_memory_bytes", name="mine") == 0


def test_only_new_pids_are_examined_after_the_first_cycle() -> None:
    collector = HostCollector(processes=["sleep"])
    collector.collect(now_ms())
    tracker = collector._processes
    assert tracker.examined > len(psutil.pids()) / 2  # the first cycle looks at everything
    collector.collect(now_ms())
    # Only processes born in between (and last cycle's newcomers) are looked at again.
    assert tracker.examined < len(psutil.pids()) / 2


def test_process_caught_before_exec_is_matched_on_the_next_cycle() -> None:
    duration = f"301.{uuid.uuid4().int % 10**9}"
    collector = HostCollector(
        processes=[ProcessMatch("mine", "sleep", cmdline=re.escape(duration))]
    )
    collector.collect(now_ms())
    # A child that is still "python" when first seen, then becomes sleep (fork, later exec).
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import os, sys; print('ready', flush=True); sys.stdin.readline(); "
         f"os.execvp('sleep', ['sleep', '{duration}'])"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        assert child.stdin is not None
        assert child.stdout.readline().strip() == "ready"
        seen_as_python = collector.collect(now_ms())
        assert value(seen_as_python, "host_process_instances", name="mine") == 0
        child.stdin.write("go\n")
        child.stdin.flush()
        _await(lambda: psutil.Process(child.pid).cmdline() == ["sleep", duration])
        after_exec = collector.collect(now_ms())
        assert value(after_exec, "host_process_instances", name="mine") == 1
    finally:
        child.kill()
        child.wait()


def _await(condition: object, limit: float = 10.0) -> None:
    """Wait for an event only observable by polling (another process's exec)."""
    deadline = time.monotonic() + limit
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.005)


def test_process_config_errors_name_the_culprit() -> None:
    with pytest.raises(ValueError, match=r"process 'web': invalid cmdline regular expression"):
        HostCollector(processes=[ProcessMatch("web", "nginx", cmdline="([")])
    with pytest.raises(ValueError, match="duplicate name"):
        HostCollector(processes=["nginx", ProcessMatch("nginx", "nginx2")])
    with pytest.raises(ValueError, match=r"exclude_mountpoints: invalid regular expression '\['"):
        HostCollector(exclude_mountpoints=["["])
    assert ProcessMatch.of("redis-server") == ProcessMatch("redis-server", "redis-server")


# -- Filesystems, devices, interfaces -----------------------------------------------------


def test_root_filesystem_reported_like_df(collector: HostCollector) -> None:
    samples = collector.collect(now_ms())
    mountpoints = {s.labels.get("mountpoint") for s in samples if s.name == "host_disk_size_bytes"}
    assert "/" in mountpoints
    assert not any(m.startswith(("/proc", "/sys", "/dev")) for m in mountpoints if m)
    st = os.statvfs("/")
    size = value(samples, "host_disk_size_bytes", mountpoint="/")
    assert size == st.f_blocks * st.f_frsize
    used = value(samples, "host_disk_used_bytes", mountpoint="/")
    free = value(samples, "host_disk_free_bytes", mountpoint="/")
    pct = value(samples, "host_disk_usage_percent", mountpoint="/")
    assert pct == pytest.approx(used * 100 / (used + free), abs=0.5)
    assert value(samples, "host_disk_inodes", mountpoint="/") >= value(
        samples, "host_disk_inodes_free", mountpoint="/"
    )


def test_excluded_mountpoint_disappears() -> None:
    default = HostCollector().collect(now_ms())
    assert values(default, "host_disk_size_bytes", mountpoint="/")
    excluding = HostCollector(exclude_mountpoints=(*DEFAULT_EXCLUDE_MOUNTPOINTS, "/"))
    assert values(excluding.collect(now_ms()), "host_disk_size_bytes", mountpoint="/") == []


def test_excluded_fstype_disappears() -> None:
    root_fstype = next(
        str(s.labels.get("fstype"))
        for s in HostCollector().collect(now_ms())
        if s.name == "host_disk_size_bytes" and s.labels.get("mountpoint") == "/"
    )
    samples = HostCollector(exclude_fstypes=[root_fstype]).collect(now_ms())
    assert values(samples, "host_disk_size_bytes", fstype=root_fstype) == []


@pytest.fixture
def bind_mounted(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A tmpfs at ``a`` and a bind mount of its subdirectory at ``b`` (needs root)."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    mount = shutil.which("mount")
    if not LINUX or mount is None or os.geteuid() != 0:
        pytest.skip("needs root and mount(8) on Linux")
    done = subprocess.run([mount, "-t", "tmpfs", "wk-test", str(a)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here: {done.stderr.decode().strip()}")
    try:
        (a / "sub").mkdir()
        subprocess.run([mount, "--bind", str(a / "sub"), str(b)], check=True)
        try:
            yield a, b
        finally:
            subprocess.run(["umount", str(b)], check=True)
    finally:
        subprocess.run(["umount", str(a)], check=True)


def test_bind_mounts_of_one_filesystem_are_reported_once(
    bind_mounted: tuple[Path, Path],
) -> None:
    a, b = bind_mounted
    samples = HostCollector().collect(now_ms())
    mountpoints = {s.labels.get("mountpoint") for s in samples if s.name == "host_disk_size_bytes"}
    assert str(a) in mountpoints
    assert str(b) not in mountpoints
    assert value(samples, "host_disk_size_bytes", mountpoint=str(a)) > 0


def test_mountinfo_parser_unescapes_and_reads_device_ids(tmp_path: Path) -> None:
    text = (
        "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
        "40 22 0:39 /sub /srv/my\\040data rw master:2 - tmpfs none rw\n"
        "garbage line\n"
    )
    path = tmp_path / "mountinfo"
    path.write_text(text)
    entries = procfs.read_mountinfo(str(path))
    assert [(e.mountpoint, e.device, e.fstype, e.dev_id, e.root) for e in entries] == [
        ("/", "/dev/vda", "ext4", "254:0", "/"),
        ("/srv/my data", "none", "tmpfs", "0:39", "/sub"),
    ]


def test_network_filesystem_that_hangs_is_skipped_not_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    real_statvfs = os.statvfs

    def statvfs(path: str) -> os.statvfs_result:
        if path == str(tmp_path):
            release.wait(30)  # a dead NFS server
        return real_statvfs(path)

    monkeypatch.setattr(os, "statvfs", statvfs)  # as a hung NFS server makes it
    watcher = FilesystemWatcher(exclude_fstypes=(), exclude_mountpoints=(), stat_timeout=0.2)
    dead = Mount("server:/export", str(tmp_path), "nfs4")
    local = Mount("/dev/vda", "/", "ext4")
    try:
        assert [u.mount for u in watcher.usage([dead, local])] == [local]
        # Still stuck: skipped at once, without starting another thread.
        threads = threading.active_count()
        assert [u.mount for u in watcher.usage([dead, local])] == [local]
        assert threading.active_count() == threads
    finally:
        release.set()
    # Once the call returns, the mount is stat'ed again.
    _await(lambda: str(tmp_path) not in watcher._stuck)
    assert [u.mount for u in watcher.usage([dead])] == [dead]


def test_default_excludes_loopback_interface_and_loop_devices() -> None:
    default = HostCollector().collect(now_ms())
    interfaces = {s.labels.get("interface") for s in default if s.name.startswith("host_network")}
    assert "lo" not in interfaces
    devices = {s.labels.get("device") for s in default if s.name == "host_disk_read_bytes_total"}
    assert not any(d and d.startswith(("loop", "ram")) for d in devices)

    everything = HostCollector(exclude_interfaces=(), exclude_devices=()).collect(now_ms())
    names = set(psutil.net_io_counters(pernic=True))
    assert {
        s.labels.get("interface") for s in everything if s.name.startswith("host_network")
    } == names
    all_devices = {
        s.labels.get("device") for s in everything if s.name == "host_disk_read_bytes_total"
    }
    assert all_devices == set(psutil.disk_io_counters(perdisk=True))


# -- Failure isolation ----------------------------------------------------------------------


def test_a_failing_source_is_logged_once_and_the_rest_is_reported(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise PermissionError("swap accounting hidden")

    monkeypatch.setattr(psutil, "swap_memory", broken)
    collector = HostCollector()
    with caplog.at_level(logging.DEBUG, logger="watchkeeper.collect.host"):
        first = collector.collect(now_ms())
        second = collector.collect(now_ms())
    for samples in (first, second):
        assert values(samples, "host_swap_total_bytes") == []
        assert values(samples, "host_memory_total_bytes")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "swap" in warnings[0].getMessage()


def test_a_collection_where_everything_fails_raises() -> None:
    collector = HostCollector()

    def broken(_b: object) -> None:
        raise OSError("no /proc")

    collector._parts = tuple((name, broken) for name, _ in collector._parts)
    with pytest.raises(RuntimeError, match="every source failed"):
        collector.collect(now_ms())


# -- promtool -------------------------------------------------------------------------------


def render_exposition(samples: Sequence[Sample]) -> str:
    """The Prometheus text format for one collection, HELP and TYPE from ``.metrics``."""
    lines: list[str] = []
    for name, meta in META.items():
        family = [s for s in samples if s.name == name]
        if not family:
            continue
        help_text = meta.help.replace("\\", "\\\\").replace("\n", "\\n")
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {meta.type.value}"]
        lines += [f"{s.series_text()} {s.value!r}" for s in family]
    return "\n".join(lines) + "\n"


def test_promtool_finds_nothing_to_complain_about(collector: HostCollector) -> None:
    promtool = require_tool("promtool")
    text = render_exposition(collector.collect(now_ms()))
    done = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_overlapping_collections_are_refused_not_interleaved() -> None:
    # A timed-out collection may still run in its worker thread when the next is due.
    collector = HostCollector()
    with collector._busy, pytest.raises(RuntimeError, match="previous collection is still running"):
        collector.collect(now_ms())
    assert collector.collect(now_ms())


def test_proc_stat_parser_reads_every_online_cpu() -> None:
    if not LINUX:
        pytest.skip("/proc/stat is Linux")
    stat = procfs.read_stat()
    assert len(stat.cpu_per_core) == os.cpu_count()
    assert all(cpu.isdigit() for cpu in stat.cpu_per_core)
    assert stat.boot_time == pytest.approx(psutil.boot_time(), abs=2)
    assert stat.context_switches > 0
    assert stat.procs_running >= 1
