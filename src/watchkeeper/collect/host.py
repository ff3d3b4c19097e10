"""The host collector: CPU, memory, disks, network, TCP, processes of this machine.

One ``collect`` call reads everything, in about a millisecond: each source is
read once per cycle (/proc/stat serves CPU times, context switches, boot time
and runnable/blocked process counts), rates and percentages are computed from
deltas this collector keeps itself (never psutil's hidden module-global
``cpu_percent`` state, which another caller would disturb), and the named
process watch only examines pids that are new since the last cycle.

Each source is guarded on its own: a source that fails (a permission error on
/proc/net/tcp6, no swap accounting in a container) is logged once and left
out while the rest is returned; only when every source fails does ``collect``
raise, for the run loop to report the collector down.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import psutil

from watchkeeper.collect import procfs
from watchkeeper.collect.base import SampleBuilder, SyncCollector, counter, gauge
from watchkeeper.collect.filesystems import (
    DEFAULT_EXCLUDE_FSTYPES,
    DEFAULT_EXCLUDE_MOUNTPOINTS,
    FilesystemWatcher,
    compile_patterns,
)
from watchkeeper.collect.processes import ProcessMatch, ProcessTracker
from watchkeeper.collect.tcpstates import TcpStateCounter
from watchkeeper.model import MetricMeta, Sample

__all__ = [
    "DEFAULT_EXCLUDE_DEVICES",
    "DEFAULT_EXCLUDE_FSTYPES",
    "DEFAULT_EXCLUDE_INTERFACES",
    "DEFAULT_EXCLUDE_MOUNTPOINTS",
    "HostCollector",
    "ProcessMatch",
]

log = logging.getLogger(__name__)

#: Partitions (their disk already counts their I/O), loop, ram and floppy devices:
#: node_exporter's default.
DEFAULT_EXCLUDE_DEVICES: tuple[str, ...] = (
    r"(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p|mmcblk\d+p)\d+",
)
#: Loopback and the host side of container veth pairs (one per container, churning).
DEFAULT_EXCLUDE_INTERFACES: tuple[str, ...] = ("lo", r"veth.*")

#: The CPU modes reported; /proc/stat's guest times are already inside user and nice.
CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
_NOT_IN_TOTAL = frozenset({"guest", "guest_nice"})
_IDLE_MODES = ("idle", "iowait")

_LINUX = sys.platform.startswith("linux")

_FS = ("device", "mountpoint", "fstype")
_NAME = ("name",)

_CPU_TIMES = dict[str, float]


def _metrics() -> tuple[MetricMeta, ...]:
    g, c = gauge, counter
    return (
        # CPU
        g("host_cpu_usage_percent", "Share of time all CPUs were busy (not idle or iowait) since the previous collection (since boot on the first), 0-100.", "percent"),  # noqa: E501
        g("host_cpu_core_usage_percent", "Share of time one logical CPU was busy since the previous collection, 0-100.", "percent", ("cpu",)),  # noqa: E501
        g("host_cpu_mode_percent", "Share of all CPU time spent in each mode since the previous collection, 0-100; the modes sum to 100.", "percent", ("mode",)),  # noqa: E501
        c("host_cpu_seconds_total", "CPU time spent in each mode, summed over all logical CPUs.", "seconds", ("mode",)),  # noqa: E501
        g("host_cpu_cores", "Number of CPU cores: type=logical counts hardware threads online, type=physical counts cores.", "", ("type",)),  # noqa: E501
        g("host_load1", "System load average over 1 minute (runnable plus uninterruptible tasks)."),
        g("host_load5", "System load average over 5 minutes."),
        g("host_load15", "System load average over 15 minutes."),
        c("host_context_switches_total", "Context switches since boot."),
        c("host_interrupts_total", "Interrupts serviced since boot."),
        # Memory
        g("host_memory_total_bytes", "Physical memory installed and usable by the kernel.", "bytes"),  # noqa: E501
        g("host_memory_available_bytes", "Memory that can be given to new work without swapping (MemAvailable).", "bytes"),  # noqa: E501
        g("host_memory_used_bytes", "Memory in use: total minus free, buffers and page cache.", "bytes"),  # noqa: E501
        g("host_memory_free_bytes", "Memory not used for anything at all.", "bytes"),
        g("host_memory_buffers_bytes", "Memory used for block device buffers.", "bytes"),
        g("host_memory_cached_bytes", "Memory used by the page cache and reclaimable slab.", "bytes"),  # noqa: E501
        g("host_memory_usage_percent", "Memory not available for new work, as a share of total memory, 0-100.", "percent"),  # noqa: E501
        g("host_swap_total_bytes", "Swap space configured (0 without swap).", "bytes"),
        g("host_swap_used_bytes", "Swap space in use.", "bytes"),
        g("host_swap_free_bytes", "Swap space unused.", "bytes"),
        g("host_swap_usage_percent", "Swap space in use as a share of swap configured, 0-100 (0 without swap).", "percent"),  # noqa: E501
        c("host_swap_in_bytes_total", "Bytes swapped in from disk since boot.", "bytes"),
        c("host_swap_out_bytes_total", "Bytes swapped out to disk since boot.", "bytes"),
        # Filesystems
        g("host_disk_size_bytes", "Size of the mounted filesystem.", "bytes", _FS),
        g("host_disk_used_bytes", "Space used on the filesystem.", "bytes", _FS),
        g("host_disk_free_bytes", "Space still available to unprivileged users (excludes blocks reserved for root).", "bytes", _FS),  # noqa: E501
        g("host_disk_usage_percent", "Used space as df shows it: used / (used + available to users), 0-100.", "percent", _FS),  # noqa: E501
        g("host_disk_inodes", "Inodes (file slots) on the filesystem.", "", _FS),
        g("host_disk_inodes_free", "Inodes still free on the filesystem.", "", _FS),
        # Disk I/O
        c("host_disk_read_bytes_total", "Bytes read from the block device.", "bytes", ("device",)),
        c("host_disk_written_bytes_total", "Bytes written to the block device.", "bytes", ("device",)),  # noqa: E501
        c("host_disk_reads_completed_total", "Read requests completed by the block device.", "", ("device",)),  # noqa: E501
        c("host_disk_writes_completed_total", "Write requests completed by the block device.", "", ("device",)),  # noqa: E501
        c("host_disk_read_time_seconds_total", "Time spent on read requests, summed over requests in flight.", "seconds", ("device",)),  # noqa: E501
        c("host_disk_write_time_seconds_total", "Time spent on write requests, summed over requests in flight.", "seconds", ("device",)),  # noqa: E501
        c("host_disk_io_time_seconds_total", "Time the device had I/O in flight (its rate is the device's busy share).", "seconds", ("device",)),  # noqa: E501
        # Network
        c("host_network_receive_bytes_total", "Bytes received on the interface.", "bytes", ("interface",)),  # noqa: E501
        c("host_network_transmit_bytes_total", "Bytes sent on the interface.", "bytes", ("interface",)),  # noqa: E501
        c("host_network_receive_packets_total", "Packets received on the interface.", "", ("interface",)),  # noqa: E501
        c("host_network_transmit_packets_total", "Packets sent on the interface.", "", ("interface",)),  # noqa: E501
        c("host_network_receive_errors_total", "Receive errors on the interface.", "", ("interface",)),  # noqa: E501
        c("host_network_transmit_errors_total", "Transmit errors on the interface.", "", ("interface",)),  # noqa: E501
        c("host_network_receive_drops_total", "Incoming packets dropped on the interface.", "", ("interface",)),  # noqa: E501
        c("host_network_transmit_drops_total", "Outgoing packets dropped on the interface.", "", ("interface",)),  # noqa: E501
        g("host_tcp_connections", "TCP sockets (IPv4 and IPv6) in each state; every state is always reported.", "", ("state",)),  # noqa: E501
        # Processes
        g("host_processes", "Processes that exist now."),
        g("host_processes_running", "Processes runnable now (Linux procs_running)."),
        g("host_processes_blocked", "Processes blocked waiting for I/O now (Linux procs_blocked)."),
        g("host_threads", "Threads (kernel scheduling entities) that exist now."),
        g("host_process_instances", "Processes matching the configured name; 0 means the service is down.", "", _NAME),  # noqa: E501
        g("host_process_cpu_percent", "CPU used by the matching processes since the previous collection, as a share of the whole host's CPU capacity, 0-100.", "percent", _NAME),  # noqa: E501
        g("host_process_resident_memory_bytes", "Resident memory of the matching processes, summed (shared pages count once per process).", "bytes", _NAME),  # noqa: E501
        g("host_process_threads", "Threads of the matching processes, summed.", "", _NAME),
        g("host_process_open_fds", "Open file descriptors (handles on Windows) of the matching processes, summed.", "", _NAME),  # noqa: E501
        # Boot, identity
        g("host_boot_time_seconds", "When the host booted, in seconds since the Unix epoch.", "seconds"),  # noqa: E501
        g("host_uptime_seconds", "Seconds since the host booted.", "seconds"),
        g("host_info", "Constant 1, labelled with the host's identity.", "", ("hostname", "os", "kernel", "arch")),  # noqa: E501
    )  # fmt: skip


def _busy_percent(
    now: _CPU_TIMES, before: _CPU_TIMES | None
) -> tuple[float, dict[str, float]] | None:
    """Busy share and per-mode shares of the CPU time elapsed between two readings.

    ``None`` when no CPU time elapsed (two readings within one clock tick). A
    mode whose counter went backwards (Linux's iowait can) counts as 0.
    """
    deltas = {
        mode: max(value - (before.get(mode, 0.0) if before else 0.0), 0.0)
        for mode, value in now.items()
        if mode not in _NOT_IN_TOTAL
    }
    total = sum(deltas.values())
    if total <= 0:
        return None
    idle = sum(deltas.get(m, 0.0) for m in _IDLE_MODES)
    busy = min(max((total - idle) * 100.0 / total, 0.0), 100.0)
    return busy, {m: deltas[m] * 100.0 / total for m in CPU_MODES if m in deltas}


class HostCollector(SyncCollector):
    """Reports this machine's resources in the ``host_*`` families."""

    metrics: ClassVar[Sequence[MetricMeta]] = _metrics()

    def __init__(
        self,
        name: str = "host",
        *,
        interval: float = 10.0,
        timeout: float | None = None,
        per_cpu: bool = True,
        processes: Sequence[ProcessMatch | str] = (),
        exclude_fstypes: Sequence[str] = DEFAULT_EXCLUDE_FSTYPES,
        exclude_mountpoints: Sequence[str] = DEFAULT_EXCLUDE_MOUNTPOINTS,
        exclude_devices: Sequence[str] = DEFAULT_EXCLUDE_DEVICES,
        exclude_interfaces: Sequence[str] = DEFAULT_EXCLUDE_INTERFACES,
    ) -> None:
        super().__init__(name, interval=interval, timeout=timeout)
        if isinstance(processes, str):
            processes = (processes,)
        self.per_cpu = per_cpu
        self._filesystems = FilesystemWatcher(
            exclude_fstypes=exclude_fstypes, exclude_mountpoints=exclude_mountpoints
        )
        self._exclude_devices = compile_patterns(exclude_devices, "exclude_devices")
        self._exclude_interfaces = compile_patterns(exclude_interfaces, "exclude_interfaces")
        self._processes = ProcessTracker(ProcessMatch.of(p) for p in processes)
        self._tcp = TcpStateCounter()
        self._use_procfs = _LINUX
        self._cpu_before: _CPU_TIMES | None = None
        self._cpu_last: tuple[float, dict[str, float]] = (0.0, {})
        self._cpu_seconds_high: dict[str, float] = {}
        self._cores_before: dict[str, _CPU_TIMES] = {}
        self._cores_last: dict[str, float] = {}
        # The run loop may start a collection while a timed-out one still runs in its thread.
        self._busy = threading.Lock()
        self._logical_cpus = os.cpu_count() or 1
        self._physical_cpus = psutil.cpu_count(logical=False)
        self._failing: set[str] = set()
        self._parts: tuple[tuple[str, Callable[[SampleBuilder], None]], ...] = (
            ("cpu", self._collect_cpu),
            ("load", self._collect_load),
            ("memory", self._collect_memory),
            ("swap", self._collect_swap),
            ("filesystems", self._collect_filesystems),
            ("disk_io", self._collect_disk_io),
            ("network", self._collect_network),
            ("tcp", self._collect_tcp),
            ("processes", self._collect_processes),
            ("info", self._collect_info),
        )

    @property
    def process_matches(self) -> tuple[ProcessMatch, ...]:
        return self._processes.matches

    def collect(self, now_ms: int) -> list[Sample]:
        # Deltas and the pid cache are per-instance state: never two collections at once.
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("host collector: the previous collection is still running")
        try:
            return self._collect(now_ms)
        finally:
            self._busy.release()

    def _collect(self, now_ms: int) -> list[Sample]:
        b = SampleBuilder(now_ms)
        failures = 0
        for part, read in self._parts:
            mark = len(b.samples)
            try:
                read(b)
            except Exception as exc:
                del b.samples[mark:]  # all of a source or none of it
                failures += 1
                self._note_failure(part, exc)
            else:
                if part in self._failing:
                    self._failing.discard(part)
                    log.info("host collector: %s readable again", part)
        if failures == len(self._parts):
            raise RuntimeError("host collector: every source failed (see the log)")
        return b.samples

    def _note_failure(self, part: str, exc: Exception) -> None:
        # Once as a warning: a broken source would otherwise fill the log every cycle.
        if part in self._failing:
            log.debug("host collector: %s failed again: %s", part, exc)
        else:
            self._failing.add(part)
            log.warning("host collector: cannot read %s (%s: %s); reporting the rest",
                        part, type(exc).__name__, exc)  # fmt: skip

    # -- CPU and kernel counters ---------------------------------------------------------

    def _collect_cpu(self, b: SampleBuilder) -> None:
        if self._use_procfs:
            try:
                stat = procfs.read_stat()
            except OSError:
                self._use_procfs = False
            else:
                self._emit_cpu(b, stat.cpu_total, stat.cpu_per_core)
                b.add("host_context_switches_total", stat.context_switches)
                b.add("host_interrupts_total", stat.interrupts)
                b.add("host_processes_running", stat.procs_running)
                b.add("host_processes_blocked", stat.procs_blocked)
                self._emit_boot(b, stat.boot_time)
                return
        per_core = psutil.cpu_times(percpu=True) if self.per_cpu else []
        self._emit_cpu(
            b, psutil.cpu_times()._asdict(), {str(i): t._asdict() for i, t in enumerate(per_core)}
        )
        stats = psutil.cpu_stats()
        b.add("host_context_switches_total", stats.ctx_switches)
        b.add("host_interrupts_total", stats.interrupts)
        self._emit_boot(b, psutil.boot_time())

    def _emit_cpu(
        self, b: SampleBuilder, total: _CPU_TIMES, per_core: dict[str, _CPU_TIMES]
    ) -> None:
        shares = _busy_percent(total, self._cpu_before)
        if shares is None:  # Asked again within one tick: repeat the last figures.
            shares = self._cpu_last
        else:
            self._cpu_before, self._cpu_last = total, shares
        busy, modes = shares
        b.add("host_cpu_usage_percent", busy)
        for mode, share in modes.items():
            b.add("host_cpu_mode_percent", share, {"mode": mode})
        # Linux's iowait counter can step backwards; a counter must not (Prometheus would
        # read a reset and a huge rate), so hold the highest value seen, as node_exporter does.
        high = self._cpu_seconds_high
        for mode in CPU_MODES:
            if mode in total:
                value = high[mode] = max(total[mode], high.get(mode, 0.0))
                b.add("host_cpu_seconds_total", value, {"mode": mode})
        if self.per_cpu:
            before, last = self._cores_before, self._cores_last
            now: dict[str, _CPU_TIMES] = {}
            busy_now: dict[str, float] = {}
            for cpu, times in per_core.items():
                core = _busy_percent(times, before.get(cpu))
                if core is None:  # within one tick: keep the older reading and figure
                    now[cpu], busy = before.get(cpu, times), last.get(cpu, 0.0)
                else:
                    now[cpu], busy = times, core[0]
                busy_now[cpu] = busy
                b.add("host_cpu_core_usage_percent", busy, {"cpu": cpu})
            # CPUs taken offline drop out; one brought back starts afresh.
            self._cores_before, self._cores_last = now, busy_now
        if per_core:
            self._logical_cpus = len(per_core)
        b.add("host_cpu_cores", self._logical_cpus, {"type": "logical"})
        if self._physical_cpus:
            b.add("host_cpu_cores", self._physical_cpus, {"type": "physical"})

    def _emit_boot(self, b: SampleBuilder, boot_time: float) -> None:
        b.add("host_boot_time_seconds", boot_time)
        b.add("host_uptime_seconds", max(time.time() - boot_time, 0.0))

    def _collect_load(self, b: SampleBuilder) -> None:
        if _LINUX:
            try:
                load = procfs.read_loadavg()
            except OSError:
                pass
            else:
                b.add("host_load1", load.load1)
                b.add("host_load5", load.load5)
                b.add("host_load15", load.load15)
                b.add("host_threads", load.threads)
                return
        load1, load5, load15 = psutil.getloadavg()
        b.add("host_load1", load1)
        b.add("host_load5", load5)
        b.add("host_load15", load15)

    # -- Memory ---------------------------------------------------------------------------

    def _collect_memory(self, b: SampleBuilder) -> None:
        vm = psutil.virtual_memory()
        b.add("host_memory_total_bytes", vm.total)
        b.add("host_memory_available_bytes", vm.available)
        b.add("host_memory_used_bytes", vm.used)
        b.add("host_memory_free_bytes", vm.free)
        buffers = getattr(vm, "buffers", None)
        if buffers is not None:
            b.add("host_memory_buffers_bytes", buffers)
        cached = getattr(vm, "cached", None)
        if cached is not None:
            b.add("host_memory_cached_bytes", cached)
        percent = (vm.total - vm.available) * 100.0 / vm.total if vm.total else 0.0
        b.add("host_memory_usage_percent", min(max(percent, 0.0), 100.0))

    def _collect_swap(self, b: SampleBuilder) -> None:
        sw = psutil.swap_memory()
        b.add("host_swap_total_bytes", sw.total)
        b.add("host_swap_used_bytes", sw.used)
        b.add("host_swap_free_bytes", sw.free)
        b.add("host_swap_usage_percent", sw.used * 100.0 / sw.total if sw.total else 0.0)
        b.add("host_swap_in_bytes_total", sw.sin or 0)
        b.add("host_swap_out_bytes_total", sw.sout or 0)

    # -- Disks ------------------------------------------------------------------------------

    def _collect_filesystems(self, b: SampleBuilder) -> None:
        fs = self._filesystems
        for u in fs.usage(fs.mounts()):
            labels = {"device": u.mount.device, "mountpoint": u.mount.mountpoint,
                      "fstype": u.mount.fstype}  # fmt: skip
            b.add("host_disk_size_bytes", u.size_bytes, labels)
            b.add("host_disk_used_bytes", u.used_bytes, labels)
            b.add("host_disk_free_bytes", u.free_bytes, labels)
            b.add("host_disk_usage_percent", u.usage_percent, labels)
            b.add("host_disk_inodes", u.inodes, labels)
            b.add("host_disk_inodes_free", u.inodes_free, labels)

    def _collect_disk_io(self, b: SampleBuilder) -> None:
        # nowrap=False: no hidden module-global state; a wrapped counter is a reset to
        # every consumer of counters.
        counters: dict[str, Any] = psutil.disk_io_counters(perdisk=True, nowrap=False) or {}
        exclude = self._exclude_devices
        for device, io in counters.items():
            if exclude is not None and exclude.fullmatch(device):
                continue
            labels = {"device": device}
            b.add("host_disk_read_bytes_total", io.read_bytes, labels)
            b.add("host_disk_written_bytes_total", io.write_bytes, labels)
            b.add("host_disk_reads_completed_total", io.read_count, labels)
            b.add("host_disk_writes_completed_total", io.write_count, labels)
            b.add("host_disk_read_time_seconds_total", io.read_time / 1000.0, labels)
            b.add("host_disk_write_time_seconds_total", io.write_time / 1000.0, labels)
            busy = getattr(io, "busy_time", None)
            if busy is not None:
                b.add("host_disk_io_time_seconds_total", busy / 1000.0, labels)

    # -- Network ----------------------------------------------------------------------------

    def _collect_network(self, b: SampleBuilder) -> None:
        counters = psutil.net_io_counters(pernic=True, nowrap=False)
        exclude = self._exclude_interfaces
        for interface, io in counters.items():
            if exclude is not None and exclude.fullmatch(interface):
                continue
            labels = {"interface": interface}
            b.add("host_network_receive_bytes_total", io.bytes_recv, labels)
            b.add("host_network_transmit_bytes_total", io.bytes_sent, labels)
            b.add("host_network_receive_packets_total", io.packets_recv, labels)
            b.add("host_network_transmit_packets_total", io.packets_sent, labels)
            b.add("host_network_receive_errors_total", io.errin, labels)
            b.add("host_network_transmit_errors_total", io.errout, labels)
            b.add("host_network_receive_drops_total", io.dropin, labels)
            b.add("host_network_transmit_drops_total", io.dropout, labels)

    def _collect_tcp(self, b: SampleBuilder) -> None:
        for state, count in self._tcp.count().items():
            b.add("host_tcp_connections", count, {"state": state})

    # -- Processes ----------------------------------------------------------------------------

    def _collect_processes(self, b: SampleBuilder) -> None:
        pids = psutil.pids()
        b.add("host_processes", len(pids))
        tracker = self._processes
        if not tracker.matches:
            return
        for match, stats in zip(
            tracker.matches, tracker.update(pids, time.time(), self._logical_cpus), strict=True
        ):
            labels = {"name": match.name}
            b.add("host_process_instances", stats.instances, labels)
            b.add("host_process_cpu_percent", stats.cpu_percent, labels)
            b.add("host_process_resident_memory_bytes", stats.resident_memory_bytes, labels)
            b.add("host_process_threads", stats.threads, labels)
            b.add("host_process_open_fds", stats.open_fds, labels)

    def _collect_info(self, b: SampleBuilder) -> None:
        uname = os.uname() if hasattr(os, "uname") else None
        if uname is not None:
            labels = {"hostname": uname.nodename, "os": uname.sysname.lower(),
                      "kernel": uname.release, "arch": uname.machine}  # fmt: skip
        else:  # Windows
            import platform

            labels = {"hostname": platform.node(), "os": platform.system().lower(),
                      "kernel": platform.version(), "arch": platform.machine()}  # fmt: skip
        b.add("host_info", 1, labels)
