"""Failed logins per client address, bounded, and never as metric labels.

An address in a label would make one series per attacker address: a
brute force from a botnet would become a cardinality attack on the monitor.
Instead each process keeps the heaviest ``capacity`` addresses of the
current window with the Space-Saving algorithm (an address that is not
tracked replaces the lightest one and inherits its count, so a heavy hitter
is never missed and memory stays fixed), and the metrics carry only numbers:
``auth_failed_logins_total`` and ``auth_failed_logins_max_per_address``
(the largest count from one address in the window, over all workers), which
a rule can alert on. The addresses themselves are shown to staff only.

Across workers: on each failure (a rare event) the process writes its
window as ``logins_<pid>.json`` in the metrics directory; readers add the
files younger than the window and delete older ones, so the set of files is
bounded by the workers active within one window.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path

__all__ = ["FailedLoginTracker"]


class FailedLoginTracker:
    def __init__(
        self, directory: Path | None, *, window: float = 300.0, capacity: int = 50
    ) -> None:
        self.directory = directory
        self.window = window
        self.capacity = capacity
        self._lock = threading.Lock()
        self._start = 0.0
        self._counts: dict[str, int] = {}

    def _roll(self, now: float) -> None:
        if now - self._start >= self.window:
            self._start = now - (now % self.window)
            self._counts = {}

    def failed(self, address: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            self._roll(now)
            counts = self._counts
            if address in counts:
                counts[address] += 1
            elif len(counts) < self.capacity:
                counts[address] = 1
            else:  # Space-Saving: replace the lightest, inherit its count
                lightest = min(counts, key=counts.__getitem__)
                counts[address] = counts.pop(lightest) + 1
            snapshot = {"start": self._start, "counts": dict(counts)}
        if self.directory is not None:
            self._write(snapshot)

    def _write(self, snapshot: dict[str, object]) -> None:
        assert self.directory is not None
        path = self.directory / f"logins_{os.getpid()}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(snapshot), encoding="utf-8")
        os.replace(tmp, path)

    def top(self, n: int | None = None, now: float | None = None) -> list[tuple[str, int]]:
        """The heaviest addresses of the current window over all workers, heaviest first."""
        now = time.time() if now is None else now
        totals: dict[str, int] = {}
        if self.directory is None:
            with self._lock:
                self._roll(now)
                totals = dict(self._counts)
        else:
            for path in self.directory.glob("logins_*.json"):
                try:
                    data = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                if now - float(data.get("start", 0)) >= self.window:
                    with contextlib.suppress(OSError):
                        path.unlink()
                    continue
                for address, count in data.get("counts", {}).items():
                    totals[address] = totals.get(address, 0) + int(count)
        ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
        return ranked[: n or self.capacity]

    def max_per_address(self, now: float | None = None) -> int:
        top = self.top(1, now)
        return top[0][1] if top else 0
