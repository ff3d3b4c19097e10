"""Slow requests, kept with their timing breakdown for the dashboard's slowest-endpoints list.

Bounded in every mode. With a metrics directory, workers append one JSON
line per slow request to ``slow.jsonl`` (``O_APPEND``: lines from several
processes never interleave); past ``max_bytes`` the file is rotated to
``slow.1.jsonl``, so at most two files of ``max_bytes`` exist. A slow
request already took a second or more, so opening a file for it costs
nothing noticeable. Without a directory a ``deque`` keeps the last entries.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["SlowLog", "SlowRequest"]


@dataclass(frozen=True, slots=True)
class SlowRequest:
    time: float
    method: str
    route: str
    status: int
    duration: float
    db_seconds: float = 0.0
    db_queries: int = 0
    cache_hits: int = 0
    cache_misses: int = 0

    @property
    def app_seconds(self) -> float:
        """Time not spent waiting on the database."""
        return max(0.0, self.duration - self.db_seconds)


class SlowLog:
    def __init__(
        self, directory: Path | None, *, keep: int = 200, max_bytes: int = 256 * 1024
    ) -> None:
        self.directory = directory
        self.keep = keep
        self.max_bytes = max_bytes
        self._memory: deque[SlowRequest] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def record(self, entry: SlowRequest) -> None:
        if self.directory is None:
            with self._lock:
                self._memory.append(entry)
            return
        path = self.directory / "slow.jsonl"
        line = (json.dumps(asdict(entry), separators=(",", ":")) + "\n").encode()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, line)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if size > self.max_bytes:
            with contextlib.suppress(FileNotFoundError):  # another worker rotated first
                os.replace(path, self.directory / "slow.1.jsonl")

    def recent(self) -> list[SlowRequest]:
        """The last ``keep`` slow requests, newest first."""
        if self.directory is None:
            with self._lock:
                return sorted(self._memory, key=lambda e: e.time, reverse=True)
        entries: list[SlowRequest] = []
        for name in ("slow.1.jsonl", "slow.jsonl"):
            try:
                text = (self.directory / name).read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                continue
            for line in text.splitlines():
                with contextlib.suppress(ValueError, TypeError):
                    entries.append(SlowRequest(**json.loads(line)))
        entries.sort(key=lambda e: e.time, reverse=True)
        return entries[: self.keep]

    def by_route(self) -> list[dict[str, Any]]:
        """Slowest endpoints first: count, worst and mean time, mean database share."""
        groups: dict[tuple[str, str], list[SlowRequest]] = {}
        for e in self.recent():
            groups.setdefault((e.method, e.route), []).append(e)
        rows: list[dict[str, Any]] = []
        for (method, route), items in groups.items():
            n = len(items)
            rows.append(
                {
                    "method": method,
                    "route": route,
                    "count": n,
                    "max_seconds": max(e.duration for e in items),
                    "mean_seconds": sum(e.duration for e in items) / n,
                    "mean_db_seconds": sum(e.db_seconds for e in items) / n,
                    "mean_db_queries": sum(e.db_queries for e in items) / n,
                }
            )
        rows.sort(key=lambda r: r["max_seconds"], reverse=True)
        return rows
