"""Linux ``/proc`` readers for the few things psutil reads slowly or not at all.

psutil re-reads ``/proc/stat`` once per call (cpu_times, per-cpu times,
cpu_stats, boot_time: four reads for one line each) and has no
``procs_running``/``procs_blocked``/thread totals; one read here serves all of
them. Every function raises ``OSError`` when the file is missing (not Linux, a
locked-down container), and the caller falls back to psutil.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

__all__ = [
    "Loadavg",
    "MountEntry",
    "ProcStat",
    "read_file",
    "read_loadavg",
    "read_mountinfo",
    "read_stat",
]

#: Field order of the ``cpu`` lines of /proc/stat (man 5 proc).
CPU_FIELDS = (
    "user",
    "nice",
    "system",
    "idle",
    "iowait",
    "irq",
    "softirq",
    "steal",
    "guest",
    "guest_nice",
)

_TICKS_PER_SECOND = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0


def read_file(path: str) -> bytes:
    """Read a whole /proc file with as few ``read`` calls as possible.

    seq_file-backed files regenerate their content on every ``read``; Python's
    buffered ``open().read()`` issues several small reads, doubling the kernel
    work for files like /proc/net/tcp.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 262144)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


@dataclass(slots=True)
class ProcStat:
    """What /proc/stat says, CPU times already in seconds."""

    cpu_total: dict[str, float] = field(default_factory=dict)
    #: Per online CPU, keyed by its number ("0", "1", ...; gaps where CPUs are offline).
    cpu_per_core: dict[str, dict[str, float]] = field(default_factory=dict)
    context_switches: int = 0
    interrupts: int = 0
    boot_time: float = 0.0
    procs_running: int = 0
    procs_blocked: int = 0


def _cpu_times(values: list[bytes]) -> dict[str, float]:
    tick = _TICKS_PER_SECOND
    return {name: int(raw) / tick for name, raw in zip(CPU_FIELDS, values, strict=False)}


def read_stat(path: str = "/proc/stat") -> ProcStat:
    """Parse /proc/stat once: CPU times (total and per core) and kernel counters."""
    stat = ProcStat()
    for line in read_file(path).splitlines():
        # The intr line can carry thousands of per-IRQ numbers: split lazily.
        key, _, rest = line.partition(b" ")
        if key.startswith(b"cpu"):
            values = rest.split()
            if key == b"cpu":
                stat.cpu_total = _cpu_times(values)
            else:
                stat.cpu_per_core[key[3:].decode("ascii")] = _cpu_times(values)
        elif key == b"intr":
            stat.interrupts = int(rest.lstrip().split(b" ", 1)[0])
        elif key == b"ctxt":
            stat.context_switches = int(rest)
        elif key == b"btime":
            stat.boot_time = float(int(rest))
        elif key == b"procs_running":
            stat.procs_running = int(rest)
        elif key == b"procs_blocked":
            stat.procs_blocked = int(rest)
    if not stat.cpu_total:
        raise OSError(f"{path}: no cpu line")
    return stat


@dataclass(frozen=True, slots=True)
class Loadavg:
    load1: float
    load5: float
    load15: float
    #: Kernel scheduling entities (threads) that exist now.
    threads: int


def read_loadavg(path: str = "/proc/loadavg") -> Loadavg:
    """Parse /proc/loadavg: ``0.10 0.20 0.30 2/345 6789``."""
    parts = read_file(path).split()
    try:
        threads = int(parts[3].split(b"/")[1])
        return Loadavg(float(parts[0]), float(parts[1]), float(parts[2]), threads)
    except (IndexError, ValueError) as exc:
        raise OSError(f"{path}: unexpected content {parts!r}") from exc


@dataclass(frozen=True, slots=True)
class MountEntry:
    """One line of /proc/self/mountinfo, reduced to what disk collection needs."""

    device: str
    mountpoint: str
    fstype: str
    #: ``major:minor`` of the filesystem: equal for bind mounts of the same filesystem.
    dev_id: str
    #: The directory of the filesystem mounted here (``/`` unless a bind mount of a subtree).
    root: str


def _unescape(value: bytes) -> str:
    # The kernel escapes space, tab, newline and backslash as \ooo octal.
    if b"\\" in value:
        value = value.decode("unicode_escape").encode("latin-1")
    return value.decode("utf-8", "surrogateescape")


def read_mountinfo(path: str = "/proc/self/mountinfo") -> list[MountEntry]:
    """Parse /proc/self/mountinfo (man 5 proc); unlike /proc/mounts it has device ids."""
    entries = []
    for line in read_file(path).splitlines():
        fields = line.split(b" ")
        try:
            sep = fields.index(b"-", 6)
            entries.append(
                MountEntry(
                    device=_unescape(fields[sep + 2]),
                    mountpoint=_unescape(fields[4]),
                    fstype=_unescape(fields[sep + 1]),
                    dev_id=fields[2].decode("ascii"),
                    root=_unescape(fields[3]),
                )
            )
        except (ValueError, IndexError):
            continue  # A line we cannot read is one filesystem less, not a failure.
    return entries
