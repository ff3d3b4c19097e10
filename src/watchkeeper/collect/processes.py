"""Follow named processes without scanning the process table every cycle.

Reading every process's name and command line costs tens of microseconds per
process; on a host with thousands of them that alone would blow the
collection budget. ``psutil.pids()`` is one directory listing, so each cycle
only looks at pids it has not seen before, keeps the ones that match, and
drops pids that vanished.

Two races are covered:

* a process examined between ``fork`` and ``exec`` still carries its parent's
  name, so a pid that did not match is looked at once more on the next cycle
  before it is settled;
* a pid that exits and is reused *within one interval* (the kernel hands out
  pids sequentially, so only after wrapping ``pid_max``) would be missed,
  hence a full rescan every ``rescan_interval`` seconds as a safety net.
  Matched pids are checked against their creation time every cycle, so a
  recycled matched pid is never attributed to the old process.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import psutil

__all__ = ["ProcessMatch", "ProcessStats", "ProcessTracker"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProcessMatch:
    """Which processes make up one named service.

    ``name`` is the label value; ``match`` is compared exactly with the process
    name (``comm``) and with the basename of ``argv[0]``; ``cmdline``, when set,
    is a regex that must also be found in the space-joined command line (to
    tell ``python app.py`` from ``python worker.py``).
    """

    name: str
    match: str = ""
    cmdline: str | None = None
    _cmdline_re: re.Pattern[str] | None = field(default=None, init=False, repr=False,
                                                compare=False)  # fmt: skip

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("process match: name must not be empty")
        if not self.match:
            object.__setattr__(self, "match", self.name)
        if self.cmdline is not None:
            try:
                compiled = re.compile(self.cmdline)
            except re.error as exc:
                raise ValueError(
                    f"process {self.name!r}: invalid cmdline regular expression "
                    f"{self.cmdline!r}: {exc}"
                ) from None
            object.__setattr__(self, "_cmdline_re", compiled)

    @classmethod
    def of(cls, spec: ProcessMatch | str) -> ProcessMatch:
        return spec if isinstance(spec, ProcessMatch) else cls(spec)

    def matches(self, comm: str, cmdline: Sequence[str]) -> bool:
        argv0 = os.path.basename(cmdline[0]) if cmdline else ""
        if self.match != comm and self.match != argv0:
            return False
        return self._cmdline_re is None or self._cmdline_re.search(" ".join(cmdline)) is not None


@dataclass(slots=True)
class ProcessStats:
    """Sums over the processes currently matching one :class:`ProcessMatch`."""

    instances: int = 0
    #: Share of the whole host's CPU capacity, 0..100.
    cpu_percent: float = 0.0
    resident_memory_bytes: int = 0
    threads: int = 0
    open_fds: int = 0


@dataclass(slots=True)
class _Tracked:
    process: psutil.Process
    matches: tuple[int, ...]  # indexes into the tracker's match list
    cpu_seconds: float  # user + system at the last look
    seen_at: float  # time.time() of the last look


class ProcessTracker:
    """Keeps the pids of configured processes across cycles."""

    def __init__(self, matches: Iterable[ProcessMatch], *, rescan_interval: float = 300.0) -> None:
        self.matches = tuple(matches)
        names = [m.name for m in self.matches]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"processes: duplicate name(s) {', '.join(duplicates)}")
        self.rescan_interval = rescan_interval
        self._tracked: dict[int, _Tracked] = {}
        self._known: set[int] = set()  # every pid seen last cycle, matched or not
        self._probation: set[int] = set()  # unmatched pids to look at once more
        self._last_rescan = float("-inf")
        self._warned_access: set[int] = set()
        #: How many processes the last :meth:`update` examined (for tests and tuning).
        self.examined = 0

    def update(self, pids: Iterable[int], now: float, cpu_count: int) -> list[ProcessStats]:
        """Refresh from the current pid list; return one :class:`ProcessStats` per match.

        ``now`` is wall-clock time (``time.time()``): a process's first CPU rate
        is measured from its creation time.
        """
        current = set(pids)
        previous, self._known = self._known, current
        probation, self._probation = self._probation, set()
        for pid in list(self._tracked):
            if pid not in current:
                del self._tracked[pid]
        if now - self._last_rescan >= self.rescan_interval:
            self._last_rescan = now
            candidates = current - self._tracked.keys()
        else:
            candidates = (current - previous) | (probation & current)
        self.examined = len(candidates)
        for pid in candidates:
            # Probation only for pids born since the last cycle, not for the first full scan.
            self._examine(pid, first_look=bool(previous) and pid not in previous)

        stats = [ProcessStats() for _ in self.matches]
        capacity = max(cpu_count, 1)
        for pid in list(self._tracked):
            sample = self._sample(pid, now)
            if sample is None:
                continue
            cpu_rate, rss, threads, fds = sample
            for index in self._tracked[pid].matches:
                s = stats[index]
                s.instances += 1
                s.cpu_percent += cpu_rate * 100.0 / capacity
                s.resident_memory_bytes += rss
                s.threads += threads
                s.open_fds += fds
        for s in stats:
            s.cpu_percent = min(max(s.cpu_percent, 0.0), 100.0)
        return stats

    def _examine(self, pid: int, *, first_look: bool) -> bool:
        """Look at a pid's name and command line; track it when it matches."""
        try:
            proc = psutil.Process(pid)
            with proc.oneshot():
                comm = proc.name()
                try:
                    cmdline = proc.cmdline()
                except psutil.AccessDenied:
                    cmdline = []  # The name alone may still match.
            created = proc.create_time()
        except psutil.Error:  # gone, zombie, or unreadable: nothing to track
            return False
        matched = tuple(i for i, m in enumerate(self.matches) if m.matches(comm, cmdline))
        if not matched:
            if first_look:
                self._probation.add(pid)  # maybe caught between fork and exec
            return False
        # First sight: its CPU time so far was all spent since it was created.
        self._tracked[pid] = _Tracked(proc, matched, 0.0, created)
        return True

    def _sample(self, pid: int, now: float) -> tuple[float, int, int, int] | None:
        tracked = self._tracked[pid]
        proc = tracked.process
        try:
            if not proc.is_running():
                # Gone, or the pid now belongs to another process (recycled): look afresh.
                del self._tracked[pid]
                if not self._examine(pid, first_look=True):
                    return None
                tracked = self._tracked[pid]
                proc = tracked.process
            with proc.oneshot():
                if proc.status() == psutil.STATUS_ZOMBIE:
                    # Dead, only waiting for its parent to reap it: not an instance.
                    del self._tracked[pid]
                    return None
                times = proc.cpu_times()
                rss = proc.memory_info().rss
                threads = proc.num_threads()
                fds = self._open_fds(proc)
        except psutil.NoSuchProcess:  # includes ZombieProcess
            self._tracked.pop(pid, None)
            return None
        except psutil.AccessDenied:
            # Another user's process without privileges: it exists, its figures are unknown.
            return (0.0, 0, 0, 0)
        cpu = times.user + times.system
        elapsed = now - tracked.seen_at
        rate = (cpu - tracked.cpu_seconds) / elapsed if elapsed > 0 else 0.0
        tracked.cpu_seconds = cpu
        tracked.seen_at = now
        return (max(rate, 0.0), rss, threads, fds)

    def _open_fds(self, proc: psutil.Process) -> int:
        try:
            if hasattr(proc, "num_fds"):
                return proc.num_fds()
            return int(getattr(proc, "num_handles")())  # noqa: B009 - Windows only
        except psutil.AccessDenied:
            if proc.pid not in self._warned_access:
                if len(self._warned_access) > 1024:
                    self._warned_access.clear()
                self._warned_access.add(proc.pid)
                log.debug("open fds of pid %d are not readable: counted as 0", proc.pid)
            return 0
