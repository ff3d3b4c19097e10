"""Reading every process's tables into one ``/metrics`` answer, and compacting dead ones.

Counts of a dead worker stay in its files, so ``/metrics`` keeps them; but a
server that recycles workers (``--max-requests``) would leave a file per
worker ever started, and each scrape would read them all. ``compact`` folds
the files of dead processes into one ``<kind>_archive.wkdb`` per kind, in a
way a crash at any step can neither lose nor double a count:

1. a dead file (no process holds its lock) is renamed ``*.merging``;
2. the archive is rewritten (temporary file, fsync, atomic rename) with the
   merging files added and their names recorded inside it;
3. the merging files are deleted.

Readers add ``archive + merging files the archive does not name + live
files``, which is the same total before, between and after every step.
Gauges of dead processes are simply dropped (they described a process that
is gone: requests in progress in a killed worker are not in progress).
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client.core import Metric
from prometheus_client.exposition import choose_encoder

from watchkeeper.contrib.metrics import SUFFIX, Registry, go_float
from watchkeeper.contrib.table import Table, owner_alive, read_entries

__all__ = ["collect", "compact", "render"]

_KINDS = ("counter", "histogram", "gauge")
_MERGED = '["__merged__"'
_MERGING = ".merging"


def _archive(directory: Path, kind: str) -> Path:
    return directory / f"{kind}_archive{SUFFIX}"


def _read(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _sources(registry: Registry) -> Iterator[tuple[str, Iterable[tuple[str, float]]]]:
    """(kind, entries) for every table that counts, without double counting."""
    directory = registry.directory
    if directory is None:
        for kind, table in registry.tables().items():
            yield kind, list(read_entries(table.snapshot()))
        return
    for kind in _KINDS:
        included: set[str] = set()
        archive = _archive(directory, kind)
        if kind != "gauge" and archive.exists():
            entries = []
            for key, value in read_entries(_read(archive)):
                if key.startswith(_MERGED):
                    included.add(json.loads(key)[1])
                else:
                    entries.append((key, value))
            yield kind, entries
        for name in sorted(os.listdir(directory)):
            if not name.startswith(kind + "_") or name == archive.name:
                continue
            path = directory / name
            if name.endswith(_MERGING):
                if kind != "gauge" and name not in included:
                    yield kind, list(read_entries(_read(path)))
            elif name.endswith(SUFFIX):
                if kind == "gauge" and not owner_alive(path):
                    continue
                yield kind, list(read_entries(_read(path)))


def _families(sources: Iterable[tuple[str, Iterable[tuple[str, float]]]]) -> list[Metric]:
    metrics: dict[str, Metric] = {}
    samples: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = defaultdict(
        lambda: defaultdict(float)
    )
    buckets: dict[str, dict[tuple[tuple[str, str], ...], dict[float, float]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(float))
    )
    parsed: dict[str, Any] = {}
    for kind, entries in sources:
        for key, value in entries:
            p = parsed.get(key)
            if p is None:
                metric, sample, labels, help_ = json.loads(key)
                p = parsed[key] = (metric, sample, tuple(sorted(labels.items())), help_)
            metric, sample, labels, help_ = p
            if metric not in metrics:
                metrics[metric] = Metric(metric, help_, kind)
            if kind == "histogram" and sample.endswith("_bucket"):
                le = float(dict(labels)["le"])
                without = tuple(kv for kv in labels if kv[0] != "le")
                buckets[metric][without][le] += value
            else:
                samples[metric][(sample, labels)] += value
    out = []
    for name in sorted(metrics):
        metric = metrics[name]
        for (sample, labels), value in sorted(samples[name].items()):
            metric.add_sample(sample, dict(labels), value)
        for labels, by_le in sorted(buckets[name].items()):
            acc = 0.0
            for le, value in sorted(by_le.items()):
                acc += value
                metric.add_sample(name + "_bucket", {**dict(labels), "le": go_float(le)}, acc)
            metric.add_sample(name + "_count", dict(labels), acc)
        # Histograms list _sum before the buckets; order within a family is free.
        out.append(metric)
    return out


def collect(registry: Registry, *, compact_dead: bool = True) -> list[Metric]:
    """Every family, summed over processes (and prometheus_client's own files)."""
    directory = registry.directory
    if directory is not None and compact_dead:
        compact(directory)
    for attempt in range(5):
        try:
            families = _families(_sources(registry))
            break
        except FileNotFoundError:
            # A compaction elsewhere renamed or removed a file under us: read again.
            if attempt == 4:
                raise
    if directory is not None and glob.glob(str(directory / "*.db")):
        from prometheus_client.multiprocess import MultiProcessCollector

        theirs = glob.glob(str(directory / "*.db"))
        families.extend(MultiProcessCollector.merge(theirs))  # type: ignore[no-untyped-call]
    return families


class _Collected:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def render(registry: Registry, accept: str = "", extra: Iterable[Metric] = ()) -> tuple[bytes, str]:
    """The exposition body and its content type (OpenMetrics when ``accept`` asks)."""
    encoder, content_type = choose_encoder(accept)
    families = collect(registry)
    families.extend(extra)
    return encoder(_Collected(families)), content_type


# -- compaction --------------------------------------------------------------


def compact(directory: Path) -> int:
    """Fold dead processes' files into the archives; returns how many were folded.

    Only one process compacts at a time (a lock file); the others skip.
    """
    lock_fd = os.open(directory / ".compact.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0
        folded = 0
        for kind in _KINDS:
            folded += _compact_kind(directory, kind)
        return folded
    finally:
        os.close(lock_fd)


def _claim_if_dead(path: Path, kind: str) -> bool:
    """Rename (counters) or delete (gauges) ``path`` if no live process owns it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        # Holding the lock: an owner starting now re-opens once it sees the rename.
        if kind == "gauge":
            path.unlink()
        else:
            os.replace(path, path.with_suffix(_MERGING))
        return True
    finally:
        os.close(fd)


def _compact_kind(directory: Path, kind: str) -> int:
    archive = _archive(directory, kind)
    claimed = 0
    for path in directory.glob(f"{kind}_*{SUFFIX}"):
        if path != archive and _claim_if_dead(path, kind):
            claimed += 1
    if kind == "gauge":
        return claimed
    merging = sorted(directory.glob(f"{kind}_*{_MERGING}"))
    if not merging:
        return claimed
    totals: dict[str, float] = defaultdict(float)
    included: set[str] = set()
    if archive.exists():
        for key, value in read_entries(_read(archive)):
            if key.startswith(_MERGED):
                included.add(json.loads(key)[1])
            else:
                totals[key] += value
    for path in merging:
        if path.name not in included:
            for key, value in read_entries(_read(path)):
                totals[key] += value
    table = Table(None)
    for key, value in totals.items():
        slot = table.slot(key)  # may grow the table: take ``values`` after it
        table.values[slot] = value
    for path in merging:
        table.slot(json.dumps(["__merged__", path.name]))
    tmp = archive.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(table.snapshot())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, archive)
    with contextlib.suppress(OSError):  # durability of the rename; best effort
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    for path in merging:
        path.unlink(missing_ok=True)
    return claimed
