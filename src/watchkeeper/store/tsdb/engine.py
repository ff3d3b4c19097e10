"""The time-series engine: head + WAL + compressed chunks + rollups, in one SQLite file.

Prometheus's TSDB design, in Python and numpy:

* ``append`` writes one compressed WAL record per batch (plus any new series)
  in one SQLite transaction, then adds the batch to the in-memory head. When
  ``append`` returns, the batch survives ``kill -9``.
* A maintenance thread *cuts* the head when it spans more than
  ``chunk_range_ms`` or holds more than ``max_head_samples``: samples older
  than the cut boundary become *block rows* (``blocks.py``: the raw chunks,
  or the 1 min / 1 h rollups, of up to 1,024 series in one row, encoded in
  whole-array numpy steps), committed together with the new boundary, and
  the WAL records wholly before it are deleted. The same thread merges rows
  four at a time per level (tiered, so each sample is rewritten only a few
  times) and a span's rows into one once the head has left the span, and
  enforces retention per resolution, each step in short transactions so
  that ingest is never blocked for long.
* Readers in another process (``readonly=True``) replay the WAL records newer
  than what they have seen, inside the same SQLite snapshot as the chunks
  they read, so they see exactly what the writer has acknowledged.

Samples older than the head boundary (already cut into chunks) are rejected
and counted (``rejected_too_old``); within the head, out-of-order samples are
accepted and duplicates of a (series, timestamp) resolve to the last write.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import operator
import os
import sqlite3
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from watchkeeper.arraysets import unique
from watchkeeper.model import Labels, Matcher, Sample
from watchkeeper.store.base import (
    Series,
    SeriesColumns,
    SeriesData,
    SeriesInstants,
    Store,
    StoreStats,
    instants_of,
)
from watchkeeper.store.tsdb import db as dbm
from watchkeeper.store.tsdb.blocks import (
    GROUP_BITS,
    Block,
    FrameReader,
    decode_series,
    decode_series_flat,
    parse_dir,
)
from watchkeeper.store.tsdb.chunks import (
    FINAL_LEVEL,
    RAW,
    ROLLUP_RESOLUTIONS,
    SPAN_MS,
    BlockRow,
    cut_rows,
    decode_row,
    merge_rows,
)
from watchkeeper.store.tsdb.codec import ChunkCorruptError, decimal_scale
from watchkeeper.store.tsdb.head import Head
from watchkeeper.store.tsdb.index import SeriesIndex
from watchkeeper.store.tsdb.ranges import Packed, Ranges, gather, last_at, pack
from watchkeeper.store.tsdb.rollup import Rollup, compute_rollup, merge_rollups
from watchkeeper.store.tsdb.wal import WalCorruptError, decode_record, encode_record

__all__ = ["DEFAULT_RETENTION_MS", "CheckReport", "StoreBusyError", "TSDBStore"]

log = logging.getLogger("watchkeeper.store")

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

DAY_MS = 86_400_000
#: Retention per resolution (0 = raw): 15 days raw, 90 days at 1 min, 2 years at 1 h.
DEFAULT_RETENTION_MS: dict[int, int] = {
    RAW: 15 * DAY_MS,
    60_000: 90 * DAY_MS,
    3_600_000: 730 * DAY_MS,
}
_RES_NAMES = {RAW: "raw", 60_000: "1m", 3_600_000: "1h"}
_KEY = operator.itemgetter(0, 1)
_TS = operator.itemgetter(2)
_VALUE = operator.itemgetter(3)
#: Rows of one span and level merged at a time by background compaction.
_TIER = 4
#: Parsed block directories kept by a store (they are small and immutable).
_DIR_CACHE = 4096
#: Bytes of decoded block columns a store keeps (see ``TSDBStore._decoded``).
DECODE_CACHE_BYTES = 64 * 2**20


@dataclass(frozen=True, slots=True)
class _Decoded:
    """Some series of one block row, decoded: sorted by (series, ts), with their key."""

    ts: I64
    vals: F64
    packed: Packed


class StoreBusyError(RuntimeError):
    """Another process already writes this store."""


@dataclass(frozen=True, slots=True)
class CheckReport:
    chunks: int
    damaged: list[dict[str, object]]
    wal_records: int
    wal_damaged: int
    quarantined: bool

    @property
    def ok(self) -> bool:
        return not self.damaged and not self.wal_damaged


class TSDBStore(Store):
    """An embedded time-series engine behind the ``Store`` interface.

    Extra methods beyond the interface: ``append_columns`` (the fast path by
    series id), ``series_id``, ``read_rollup`` (min/max/sum/count/last per
    step), ``cut``, ``compact``, ``enforce_retention``, ``check``,
    ``label_names`` and ``label_values``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        readonly: bool = False,
        retention_ms: Mapping[int, int] | None = None,
        chunk_range_ms: int = 2 * 3_600_000,
        ooo_window_ms: int = 5 * 60_000,
        max_head_samples: int = 1_000_000,
        background: bool = True,
        compression_level: int = 3,
        compaction_level: int = 9,
        maintenance_interval_s: float = 30.0,
        decode_cache_bytes: int = DECODE_CACHE_BYTES,
    ) -> None:
        self.path = Path(path).expanduser()
        self.readonly = readonly
        self.retention_ms = dict(DEFAULT_RETENTION_MS)
        self.retention_ms.update(retention_ms or {})
        unknown = set(self.retention_ms) - {RAW, *ROLLUP_RESOLUTIONS}
        if unknown:
            raise ValueError(
                f"retention for unknown resolutions {sorted(unknown)} (use 0, 60000, 3600000)"
            )
        self.chunk_range_ms = chunk_range_ms
        self.ooo_window_ms = ooo_window_ms
        self.max_head_samples = max_head_samples
        self.compression_level = compression_level
        self.compaction_level = compaction_level
        self.counters: dict[str, int] = defaultdict(int)

        # Lock order: _maint_lock -> _read_lock -> _write_lock.
        self._maint_lock = threading.RLock()
        self._read_lock = threading.RLock()
        self._write_lock = threading.RLock()
        self.head = Head()
        self.index = SeriesIndex()
        self._ids: dict[tuple[str, Labels], int] = {}
        self._next_id = 1
        self._closed = False
        self._stopping = False
        self._lockfile: IO[bytes] | None = None
        self._min_valid = -(2**62)  # samples older than this are already in chunks
        self._deleted_before = -(2**62)
        self._newest: int | None = None
        # Reader-side replay state.
        self._last_seq = 0
        self._series_epoch = 0
        self._dirs: dict[int, Block] = {}
        #: (row id, series indexes) -> decoded points, least recently used first.
        self._decoded_cache: OrderedDict[tuple[int, bytes], _Decoded] = OrderedDict()
        self._decoded_bytes = 0
        self._decode_cache_bytes = decode_cache_bytes

        if not readonly:
            self._take_writer_lock()
        try:
            self._rdb = dbm.connect(self.path, readonly=readonly)
            if not readonly:
                self._wdb = dbm.connect(self.path, readonly=False)
                self._mdb = dbm.connect(self.path, readonly=False)
        except BaseException:
            self._release_writer_lock()
            raise
        with self._read_lock:
            self._rdb.execute("BEGIN")
            try:
                self._refresh()
            finally:
                self._rdb.execute("COMMIT")
        self._gen = self._max_gen() + 1
        self._wake = threading.Event()
        self._maintenance_interval_s = maintenance_interval_s
        self._last_retention = 0.0
        self._thread: threading.Thread | None = None
        if not readonly and background:
            self._thread = threading.Thread(
                target=self._maintain, name="watchkeeper-store-maintenance", daemon=True
            )
            self._thread.start()

    # -- opening -----------------------------------------------------------
    def _take_writer_lock(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        handle = open(lock_path, "a+b")  # noqa: SIM115 - held for the store's life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise StoreBusyError(
                f"{self.path} is being written by another process "
                "(stop `watchkeeper run`, or open it read-only)"
            ) from None
        handle.truncate(0)
        handle.write(str(os.getpid()).encode())
        handle.flush()
        self._lockfile = handle

    def _release_writer_lock(self) -> None:
        if self._lockfile is not None:
            fcntl.flock(self._lockfile, fcntl.LOCK_UN)
            self._lockfile.close()
            self._lockfile = None

    def _max_gen(self) -> int:
        row = self._rdb.execute("SELECT max(gen) FROM blocks").fetchone()
        return int(row[0] or 0)

    def _refresh(self) -> None:
        """Bring series, head boundary and head up to the snapshot of the open read txn."""
        db = self._rdb
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        epoch = int(meta.get("series_epoch", 0))
        if epoch != self._series_epoch:
            self.index = SeriesIndex()
            self._ids.clear()
            self._series_epoch = epoch
            self._next_id = 1
        rows = db.execute(
            "SELECT id, name, labels FROM series WHERE id >= ? ORDER BY id", (self._next_id,)
        ).fetchall()
        for sid, name, text in rows:
            series = Series(int(sid), name, Labels(json.loads(text)))
            self.index.add(series)
            self._ids[(name, series.labels)] = series.id
            self._next_id = max(self._next_id, series.id + 1)
        boundary = int(meta.get("head_min_valid", -(2**62)))
        deleted = int(meta.get("deleted_before", -(2**62)))
        with self._write_lock:
            if boundary > self._min_valid or deleted > self._deleted_before:
                self._min_valid = max(self._min_valid, boundary)
                self._deleted_before = max(self._deleted_before, deleted)
                self.head.drop_before(max(self._min_valid, self._deleted_before))
            floor = max(self._min_valid, self._deleted_before)
            for seq, data in db.execute(
                "SELECT seq, CAST(data AS BLOB) FROM wal WHERE seq > ? ORDER BY seq",
                (self._last_seq,),
            ):
                self._last_seq = int(seq)
                try:
                    refs, ts, vals = decode_record(data)
                except WalCorruptError as exc:
                    self.counters["wal_damaged"] += 1
                    log.error("%s: damaged WAL record %s skipped: %s", self.path, seq, exc)
                    continue
                keep = ts >= floor
                if not keep.all():
                    refs, ts, vals = refs[keep], ts[keep], vals[keep]
                self.head.add(refs, ts, vals)
            newest = db.execute("SELECT max(max_t) FROM blocks WHERE res = 0").fetchone()[0]
            for cand in (newest, self.head.max_t):
                if cand is not None and (self._newest is None or cand > self._newest):
                    self._newest = int(cand)

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A consistent view: one read transaction; readers catch up on the WAL first."""
        with self._read_lock:
            self._check_open()
            self._rdb.execute("BEGIN")
            try:
                if self.readonly:
                    self._refresh()
                yield self._rdb
            finally:
                self._rdb.execute("COMMIT")

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"store {self.path} is closed")

    def _check_writable(self) -> None:
        self._check_open()
        if self.readonly:
            raise PermissionError(f"store {self.path} is open read-only")

    # -- writing -----------------------------------------------------------
    def append(self, samples: Sequence[Sample]) -> int:
        self._check_writable()
        n = len(samples)
        if not n:
            return 0
        # Columns straight from the tuples: no per-sample Python frames, no zip(*samples).
        try:
            ts = np.fromiter(map(_TS, samples), np.int64, n)
            vals = np.fromiter(map(_VALUE, samples), np.float64, n)
        except (TypeError, ValueError, IndexError, OverflowError) as exc:
            raise ValueError(
                f"append: samples must be (name, labels, int ms, float): {exc}"
            ) from None
        with self._write_lock:
            found = list(map(self._ids.get, map(_KEY, samples)))
            new: list[Series] = []
            if None in found:
                for i, sid in enumerate(found):
                    if sid is None:
                        name, labels = _KEY(samples[i])
                        sid = self._ids.get((name, labels))
                        if sid is None:
                            sid = self._new_series(name, labels, new)
                        found[i] = sid
            refs = np.array(found, dtype=np.int32)
            return self._append_locked(refs, ts, vals, new)

    def series_id(self, name: str, labels: Labels) -> int:
        """The id of a series for ``append_columns``, registering it durably if new."""
        self._check_writable()
        with self._write_lock:
            sid = self._ids.get((name, labels))
            if sid is not None:
                return sid
            new: list[Series] = []
            sid = self._new_series(name, labels, new)
            self._commit_wal(None, new)
            return sid

    def append_columns(self, refs: npt.ArrayLike, ts: npt.ArrayLike, values: npt.ArrayLike) -> int:
        """Append samples given as columns of series ids, ms timestamps and values.

        The fast path for callers that keep series ids (from ``series_id``):
        no per-sample Python work at all.
        """
        self._check_writable()
        r = np.asarray(refs, dtype=np.int32)
        t = np.asarray(ts, dtype=np.int64)
        v = np.asarray(values, dtype=np.float64)
        if not (r.shape == t.shape == v.shape) or r.ndim != 1:
            raise ValueError("append_columns: refs, ts and values must be 1-d and equally long")
        with self._write_lock:
            if r.size and (int(r.min()) < 1 or int(r.max()) >= self._next_id):
                raise ValueError("append_columns: unknown series id (use series_id() first)")
            return self._append_locked(r, t, v, [])

    def _new_series(self, name: str, labels: Labels, new: list[Series]) -> int:
        if not isinstance(name, str) or not isinstance(labels, Labels):
            raise ValueError(f"append: bad series {name!r} {labels!r} (need str and Labels)")
        sid = self._next_id
        self._next_id += 1
        series = Series(sid, name, labels)
        self._ids[(name, labels)] = sid
        self.index.add(series)
        new.append(series)
        return sid

    def _append_locked(self, refs: I32, ts: I64, vals: F64, new: list[Series]) -> int:
        floor = max(self._min_valid, self._deleted_before)
        keep = ts >= floor
        if not keep.all():
            self.counters["rejected_too_old"] += int((~keep).sum())
            refs, ts, vals = refs[keep], ts[keep], vals[keep]
        record = (refs, ts, vals) if ts.size else None
        self._commit_wal(record, new)
        if record is not None:
            self.head.add(refs, ts, vals)
            hi = int(ts.max())
            if self._newest is None or hi > self._newest:
                self._newest = hi
            if self._needs_cut():
                self._wake.set()
        return int(ts.size)

    def _commit_wal(self, record: tuple[I32, I64, F64] | None, new: list[Series]) -> None:
        db = self._wdb
        try:
            db.execute("BEGIN IMMEDIATE")
            if new:
                db.executemany(
                    "INSERT INTO series (id, name, labels) VALUES (?, ?, ?)",
                    [
                        (
                            s.id,
                            s.name,
                            json.dumps(s.labels.as_dict(), sort_keys=True, separators=(",", ":")),
                        )
                        for s in new
                    ],
                )
            if record is not None:
                db.execute(
                    "INSERT INTO wal (max_t, data) VALUES (?, ?)",
                    (int(record[1].max()), encode_record(*record)),
                )
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            for s in new:  # the rows did not commit: forget them
                self._ids.pop((s.name, s.labels), None)
                self.index.remove(s.id)
            if new:
                self._next_id = min(s.id for s in new)
            raise

    # -- head cutting --------------------------------------------------------
    def _needs_cut(self) -> bool:
        head = self.head
        if head.min_t is None or head.max_t is None or head.frozen is not None:
            return False
        span = head.max_t - head.min_t
        return (
            span > self.chunk_range_ms + self.ooo_window_ms or head.samples > self.max_head_samples
        )

    def cut(self, before_ms: int | None = None) -> int:
        """Cut head samples older than ``before_ms`` into chunks; return how many.

        Without ``before_ms``, the boundary is the newest sample minus the
        out-of-order window, rounded down to a minute.
        """
        self._check_writable()
        with self._maint_lock:
            with self._write_lock:
                head = self.head
                if head.max_t is None:
                    return 0
                if before_ms is None:
                    before_ms = (head.max_t - self.ooo_window_ms) // 60_000 * 60_000
                if before_ms <= self._min_valid:
                    return 0
                self._min_valid = before_ms
                frozen = head.freeze(before_ms)
            gen = self._gen
            self._gen += 1
            try:
                rows = cut_rows(frozen, gen, zlevel=self.compression_level)
                with self._read_lock:  # readers see head or chunks, never both or neither
                    db = self._mdb
                    db.execute("BEGIN IMMEDIATE")
                    try:
                        _insert_rows(db, rows)
                        dbm.set_meta(db, "head_min_valid", before_ms)
                        db.execute("DELETE FROM wal WHERE max_t < ?", (before_ms,))
                        db.execute("COMMIT")
                    except BaseException:
                        db.execute("ROLLBACK")
                        raise
                    with self._write_lock:
                        head.release_frozen()
            except BaseException:
                with self._write_lock:
                    head.thaw()
                raise
            self.counters["cuts"] += 1
            return len(frozen)

    def flush(self) -> int:
        """Cut the whole head into chunks (later samples must be newer than all so far)."""
        head_max = self.head.max_t
        return 0 if head_max is None else self.cut(head_max + 1)

    # -- compaction ----------------------------------------------------------
    def compact(
        self, *, flush: bool = False, vacuum: bool = False, full: bool = True
    ) -> dict[str, int]:
        """Merge block rows; optionally flush the head first.

        ``full`` merges every span's rows into one (``watchkeeper store
        compact``); otherwise (the maintenance thread) rows are merged four of
        a level at a time, and a span's rows become one once the head has
        moved past the span, so each sample is rewritten only a few times.
        Works in short transactions, so that ingest keeps going.
        """
        self._check_writable()
        merged = written = 0
        with self._maint_lock:
            if flush:
                self.flush()
            while True:  # tiers cascade: four level-0 rows make a level-1 row, and so on
                meta = self._mdb.execute(
                    "SELECT id, res, grp, min_t, gen, level FROM blocks ORDER BY gen, min_t"
                ).fetchall()
                spans: dict[tuple[int, int, int], list[tuple[int, int]]] = defaultdict(list)
                for rid, res, grp, min_t, _gen, level in meta:
                    spans[(int(res), int(grp), int(min_t) // SPAN_MS[int(res)])].append(
                        (int(rid), int(level))
                    )
                jobs: list[tuple[int, list[int], int]] = []  # (res, row ids in write order, level)
                for (res, _grp, span), rows in spans.items():
                    if len(rows) == 1 and rows[0][1] == FINAL_LEVEL:
                        continue
                    closed = (span + 1) * SPAN_MS[res] <= self._min_valid
                    if full or closed:
                        # Also a lone cut row: the final form is framed for reads and packed harder.
                        jobs.append((res, [r for r, _ in rows], FINAL_LEVEL))
                        continue
                    by_level: dict[int, list[int]] = defaultdict(list)
                    for rid, level in rows:
                        by_level[level].append(rid)
                    for level, ids in by_level.items():
                        if level != FINAL_LEVEL and len(ids) >= _TIER:
                            jobs.append((res, ids, level + 1))
                batch: list[tuple[int, list[int], int]] = []
                size = 0
                before = merged
                for job in jobs:
                    batch.append(job)
                    size += len(job[1])
                    if size >= 64:
                        m, w = self._merge_jobs(batch)
                        merged, written, batch, size = merged + m, written + w, [], 0
                if batch:
                    m, w = self._merge_jobs(batch)
                    merged, written = merged + m, written + w
                if full or merged == before:  # done, or only damaged rows left
                    break
            if vacuum:
                self.vacuum()
        self.counters["compactions"] += 1
        return {"chunks_merged": merged, "chunks_written": written}

    def _merge_jobs(self, jobs: list[tuple[int, list[int], int]]) -> tuple[int, int]:
        """Merge each job's rows into new rows, all in one transaction."""
        gen = self._gen
        self._gen += 1
        old: list[int] = []
        new: list[BlockRow] = []
        for res, ids, level in jobs:
            try:
                decoded = [self._decode_row_id(self._mdb, rid) for rid in ids]
            except ChunkCorruptError as exc:
                log.error("%s: compaction skipped a damaged block: %s", self.path, exc)
                self.counters["compaction_damaged"] += 1
                continue
            # Intermediate tiers are rewritten again soon: pack them fast, the final form hard.
            zlevel = self.compaction_level if level == FINAL_LEVEL else self.compression_level
            new.extend(merge_rows(res, decoded, gen, level, zlevel=zlevel))
            old.extend(ids)
        with self._read_lock:
            db = self._mdb
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("DELETE FROM blocks WHERE id = ?", [(i,) for i in old])
                _insert_rows(db, new)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return len(old), len(new)

    def _block(self, db: sqlite3.Connection, rid: int, blob: bytes | None = None) -> Block:
        """A row's parsed directory (cached: rows never change, ids are never reused)."""
        blk = self._dirs.get(rid)
        if blk is None:
            if blob is None:
                row = db.execute("SELECT dir FROM blocks WHERE id = ?", (rid,)).fetchone()
                if row is None:
                    raise ChunkCorruptError(f"block {rid} vanished")
                blob = row[0]
            blk = parse_dir(blob)
            if len(self._dirs) >= _DIR_CACHE:
                self._dirs.clear()
            self._dirs[rid] = blk
        return blk

    def _decode_row_id(self, db: sqlite3.Connection, rid: int) -> tuple[I32, list[np.ndarray]]:
        blk = self._block(db, rid)
        with db.blobopen("blocks", "data", rid, readonly=True) as data:
            return decode_row(blk, data)

    def vacuum(self) -> None:
        """Give free pages back to the file system and fold SQLite's WAL into the file."""
        self._check_writable()
        with self._maint_lock, self._read_lock:
            # executescript steps the pragma to the end (execute would free one page).
            self._mdb.executescript("PRAGMA incremental_vacuum;")
            self._mdb.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    # -- retention -------------------------------------------------------------
    def enforce_retention(self, now_ms: int | None = None) -> dict[str, int]:
        """Drop chunks past each resolution's retention; return chunks dropped per resolution.

        ``now_ms`` defaults to the newest sample stored (so that a backfill or a
        clock jump never wipes data). Chunk-granular: a chunk goes when its
        newest point is older than the retention.
        """
        self._check_writable()
        now = self._newest if now_ms is None else now_ms
        dropped: dict[str, int] = {}
        if now is None:
            return dropped
        with self._maint_lock:
            for res, keep_ms in sorted(self.retention_ms.items()):
                cutoff = now - keep_ms
                total = 0
                while True:  # small transactions: ingest only ever waits for one of them
                    with self._read_lock:
                        db = self._mdb
                        db.execute("BEGIN IMMEDIATE")
                        try:
                            cur = db.execute(
                                "DELETE FROM blocks WHERE id IN"
                                " (SELECT id FROM blocks WHERE res = ? AND max_t < ? LIMIT 2000)",
                                (res, cutoff),
                            )
                            db.execute("COMMIT")
                        except BaseException:
                            db.execute("ROLLBACK")
                            raise
                    total += max(cur.rowcount, 0)
                    if cur.rowcount < 2000:
                        break
                dropped[_RES_NAMES[res]] = total
            self._gc_series()
        return dropped

    def _gc_series(self) -> int:
        """Forget series with no data at any resolution, so ``select`` stays honest."""
        live: set[int] = set()
        for rid, blob in self._mdb.execute("SELECT id, dir FROM blocks"):
            try:
                live.update(self._block(self._mdb, int(rid), blob).sids.tolist())
            except ChunkCorruptError:
                return 0  # cannot tell what a damaged block holds: keep every series
        rows = self._mdb.execute("SELECT id FROM series").fetchall()
        candidates = [int(r[0]) for r in rows if int(r[0]) not in live]
        if not candidates:
            return 0
        with self._read_lock, self._write_lock:
            head_live = set(self.head.refs().tolist())
            gone = [i for i in candidates if i not in head_live]
            if not gone:
                return 0
            db = self._mdb
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("DELETE FROM series WHERE id = ?", [(i,) for i in gone])
                epoch = (dbm.get_meta(db, "series_epoch") or 0) + 1
                dbm.set_meta(db, "series_epoch", epoch)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._series_epoch = epoch
            for sid in gone:
                series = self.index.by_id.get(sid)
                if series is not None:
                    self._ids.pop((series.name, series.labels), None)
                self.index.remove(sid)
        return len(gone)

    def delete_before(self, ts_ms: int) -> int:
        self._check_writable()
        deleted = 0
        with self._maint_lock:
            db = self._mdb
            rows = db.execute(
                "SELECT id, max_t, n FROM blocks WHERE res = 0 AND min_t < ?", (ts_ms,)
            ).fetchall()
            gen = self._gen
            self._gen += 1
            old: list[int] = []
            replace: list[BlockRow] = []
            for rid, max_t, n in rows:
                if max_t < ts_ms:
                    deleted += int(n)
                    old.append(int(rid))
                    continue
                try:
                    decoded = self._decode_row_id(db, int(rid))
                except ChunkCorruptError:
                    continue  # left for `check` to quarantine
                new = merge_rows(
                    RAW, [decoded], gen, FINAL_LEVEL, zlevel=self.compaction_level, keep_from=ts_ms
                )
                deleted += int(n) - sum(r.n for r in new)
                old.append(int(rid))
                replace.extend(new)
            with self._read_lock, self._write_lock:
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.executemany("DELETE FROM blocks WHERE id = ?", [(i,) for i in old])
                    _insert_rows(db, replace)
                    self._deleted_before = max(self._deleted_before, ts_ms)
                    dbm.set_meta(db, "deleted_before", self._deleted_before)
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                deleted += self.head.drop_before(ts_ms)
            self._gc_series()
        return deleted

    # -- maintenance thread ------------------------------------------------------
    def _maintain(self) -> None:
        while not self._stopping:
            self._wake.wait(self._maintenance_interval_s)
            self._wake.clear()
            if self._stopping:
                return
            try:
                self.run_maintenance()
            except Exception:
                log.exception("%s: store maintenance failed (will retry)", self.path)

    def run_maintenance(self) -> None:
        """One round: cut if due, compact what the cut produced, retention every few minutes."""
        with self._write_lock:
            due = self._needs_cut()
        if due:
            self.cut()
            self.compact(full=False)
        if time.monotonic() - self._last_retention > 300:
            self._last_retention = time.monotonic()
            self.enforce_retention()

    # -- reading -----------------------------------------------------------------
    def select(self, matchers: Sequence[Matcher]) -> list[Series]:
        if self.readonly:
            with self._snapshot():
                return self.index.select(matchers)
        with self._write_lock:
            return self.index.select(matchers)

    def label_names(self) -> list[str]:
        with self._snapshot():
            return self.index.label_names()

    def label_values(self, name: str) -> list[str]:
        with self._snapshot():
            return self.index.label_values(name)

    def resolution_for(self, min_step_ms: int) -> int:
        """The coarsest resolution whose step still fits ``min_step_ms`` (0 = raw)."""
        best = RAW
        for res in ROLLUP_RESOLUTIONS:
            if res <= min_step_ms:
                best = res
        return best

    def read_range(
        self,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
        *,
        min_step_ms: int = 0,
    ) -> list[SeriesData]:
        """Raw points, or with ``min_step_ms`` >= 1 min the rollups' ``last`` per step.

        A rollup point carries its step's start as timestamp and the last
        value seen in that step (what an instant query at that step would
        see, and what counter rates need).
        """
        res = self.resolution_for(min_step_ms)
        if res != RAW:
            return [
                SeriesData(series, r.t, r.last)
                for series, r in self.read_rollup(matchers, start_ms, end_ms, res)
            ]
        return self.read_columns(matchers, start_ms, end_ms).to_series_data()

    def read_columns(
        self,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
        *,
        min_step_ms: int = 0,
    ) -> SeriesColumns:
        """``read_range`` as columns, answered for all matching series at once.

        Every head run and block row is searched for all series together
        (``ranges.py``), so the cost barely grows with the number of series.
        """
        if self.resolution_for(min_step_ms) != RAW:
            return SeriesColumns.of(
                self.read_range(matchers, start_ms, end_ms, min_step_ms=min_step_ms)
            )
        with self._snapshot() as db:
            found, ids = self.index.selection(matchers)
            if not found or end_ms < start_ms:
                return SeriesColumns.of([])
            sources = self._stored_ranges(db, RAW, ids, start_ms, end_ms)
            with self._write_lock:
                sources += self.head.read_many(ids, start_ms, end_ms)
        # Outside the locks: runs and decoded rows are never changed in place.
        lengths, ts, vals = gather(sources, len(found), start_ms, end_ms)
        nonempty = lengths > 0
        if not bool(nonempty.all()):  # series without a point in the range are left out
            found = [found[i] for i in np.flatnonzero(nonempty).tolist()]
            lengths = lengths[nonempty]
        offsets = np.zeros(len(found) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return SeriesColumns(found, ts, vals, offsets)

    def read_instants(
        self, matchers: Sequence[Matcher], instants: I64, lookback_ms: int
    ) -> SeriesInstants:
        """Each step's point picked where it lies in the head runs and decoded
        block rows (``ranges.last_at``), without gathering the whole range."""
        if not instants.size:
            return super().read_instants(matchers, instants, lookback_ms)
        start, end = int(instants.min()) - lookback_ms, int(instants.max())
        with self._snapshot() as db:
            found, ids = self.index.selection(matchers)
            if not found:
                return instants_of(SeriesColumns.of([]), instants, lookback_ms)
            sources = self._stored_ranges(db, RAW, ids, start, end)
            with self._write_lock:
                sources += self.head.read_many(ids, start, end)
        picked = last_at(sources, len(found), instants)
        if picked is None:  # overlapping writes not yet resolved: the general path
            lengths, ts, vals = gather(sources, len(found), start, end)
            offsets = np.zeros(len(found) + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            return instants_of(SeriesColumns(found, ts, vals, offsets), instants, lookback_ms)
        at, vals = picked
        hit = at >= (instants - lookback_ms)[None, :]
        keep = np.flatnonzero(hit.any(axis=1))
        if keep.size < len(found):  # series with no point in the range are left out
            found = [found[i] for i in keep.tolist()]
            at, vals, hit = at[keep], vals[keep], hit[keep]
        return SeriesInstants(found, at, vals, hit)

    def _stored_ranges(
        self, db: sqlite3.Connection, res: int, ids: I64, start: int, end: int
    ) -> list[Ranges]:
        """Where the points of series ``ids`` in ``[start, end]`` lie in the decoded
        block rows of ``res``, oldest write first. A window inside the head (a
        rule's 5 min lookback) costs no query at all."""
        out: list[Ranges] = []
        if not ids.size or start >= self._min_valid:
            return out
        span = SPAN_MS[res]
        lo = start - start % span
        grp_of = ids >> GROUP_BITS
        for grp in unique(grp_of).tolist():
            rows_in = np.flatnonzero(grp_of == grp)
            members = ids[rows_in]
            for rid, gen, min_t in db.execute(
                "SELECT id, gen, min_t FROM blocks WHERE res = ? AND grp = ?"
                " AND min_t >= ? AND min_t <= ? AND max_t >= ? ORDER BY gen, min_t",
                (res, grp, lo, end, start),
            ).fetchall():
                try:
                    blk = self._block(db, rid)
                except ChunkCorruptError as exc:
                    self._damaged(res, -1, min_t, gen, exc)
                    continue
                pos = np.searchsorted(blk.sids, members)
                hit = pos < blk.sids.size
                hit[hit] = blk.sids[pos[hit]] == members[hit]
                if not hit.any():
                    continue
                at_all = pos[hit].astype(np.int64)
                rows_hit = rows_in[hit]
                for a, b in self._cache_pieces(blk, at_all, res):
                    decoded = self._decoded(db, rid, blk, at_all[a:b], res, min_t, gen)
                    if decoded is None:
                        continue
                    found = decoded.packed.window(np.arange(b - a), start, end)
                    if found is None:
                        continue
                    lo_rows = np.zeros(ids.size, np.int64)
                    hi_rows = np.zeros(ids.size, np.int64)
                    local = np.full(ids.size, -1, np.int64)
                    lo_rows[rows_hit[a:b]], hi_rows[rows_hit[a:b]] = found
                    local[rows_hit[a:b]] = np.arange(b - a)
                    p = decoded.packed
                    out.append(
                        Ranges(
                            decoded.ts,
                            decoded.vals,
                            lo_rows,
                            hi_rows,
                            max(p.t0, start),
                            min(p.t1, end),
                            p.clean,
                            p,
                            local,
                        )
                    )
        return out

    def _cache_pieces(self, blk: Block, at: I64, res: int) -> list[tuple[int, int]]:
        """``[a, b)`` slices of ``at`` decoded (and cached) as one entry each.

        One entry while the decoded series fit a cache entry (a quarter of
        the cache); otherwise consecutive pieces that do, so a wide read (a
        dashboard's 100 series over 24 h) is kept instead of being decoded
        anew on every request. The pieces hold disjoint series, so
        ``gather`` joins them like the rows of different series groups.
        """
        limit = self._decode_cache_bytes // 4
        if res != RAW or not at.size or limit <= 0:
            return [(0, int(at.size))]
        # 24 bytes a decoded point: timestamp, value, search key.
        size = 24 * blk.entry_n[at + blk.n_ts].astype(np.int64)
        total = int(size.sum())
        if total <= limit:
            return [(0, int(at.size))]
        ends = np.cumsum(size)
        pieces = []
        a = 0
        while a < at.size:
            base = int(ends[a - 1]) if a else 0
            b = int(np.searchsorted(ends, base + limit, "right"))
            b = max(b, a + 1)
            pieces.append((a, b))
            a = b
        return pieces

    def _decoded(
        self, db: sqlite3.Connection, rid: int, blk: Block, at: I64, res: int, min_t: int, gen: int
    ) -> _Decoded | None:
        """Series ``at`` (indexes into the row) of block row ``rid``, decoded and kept.

        Why kept: rule groups read the same selectors every evaluation, and a
        row never changes (compaction writes new rows with new ids), so
        decoding it again each time would be most of the cost of a rule
        cycle whose windows reach past the head. Bounded by
        ``decode_cache_bytes``, least recently used out first.
        """
        key = (rid, at.tobytes())
        hit = self._decoded_cache.get(key)
        if hit is not None:
            self._decoded_cache.move_to_end(key)
            return hit
        with db.blobopen("blocks", "data", rid, readonly=True) as data:
            reader = FrameReader(blk, data)
            try:
                lengths, ts, vals = decode_series_flat(reader, at)
                damaged = False
            except ChunkCorruptError:
                lengths, ts, vals = self._decode_each(reader, res, at, min_t, gen)
                damaged = True
        if not ts.size:
            return None
        rows = np.repeat(np.arange(at.size, dtype=np.int64), lengths)
        packed = pack(rows, ts)
        if packed is None:  # not in time order within a series: sort it (stable) first
            order = np.lexsort((ts, rows))
            rows, ts, vals = rows[order], ts[order], vals[order]
            packed = pack(rows, ts)
            if packed is None:  # only a damaged row spans more than 2**40 ms
                self._damaged(res, -1, min_t, gen, ChunkCorruptError("timestamps out of range"))
                return None
        for arr in (ts, vals, packed.key):  # shared by every later read: never to be changed
            arr.flags.writeable = False
        decoded = _Decoded(ts, vals, packed)
        size = ts.nbytes + vals.nbytes + packed.key.nbytes
        if not damaged and size <= self._decode_cache_bytes // 4:
            self._decoded_cache[key] = decoded
            self._decoded_bytes += size
            while self._decoded_bytes > self._decode_cache_bytes:
                _, old = self._decoded_cache.popitem(last=False)
                self._decoded_bytes -= old.ts.nbytes + old.vals.nbytes + old.packed.key.nbytes
        return decoded

    def _decode_each(
        self, reader: FrameReader, res: int, at: I64, min_t: int, gen: int
    ) -> tuple[I64, I64, F64]:
        """Series one at a time, after a damaged frame: damage stays confined to the
        series it hit (which then reads as empty)."""
        lengths = np.zeros(at.size, np.int64)
        out_ts: list[I64] = []
        out_vals: list[F64] = []
        for j, i in enumerate(at.tolist()):
            try:
                ts, vals = decode_series(reader, np.array([i], np.int64))[0]
            except ChunkCorruptError as exc:
                self._damaged(res, int(reader.block.sids[i]), min_t, gen, exc)
                continue
            lengths[j] = ts.shape[0]
            out_ts.append(ts.astype(np.int64, copy=False))
            out_vals.append(vals.astype(np.float64, copy=False))
        if not out_ts:
            return lengths, np.zeros(0, np.int64), np.zeros(0)
        return lengths, np.concatenate(out_ts), np.concatenate(out_vals)

    def _stored(
        self, db: sqlite3.Connection, res: int, series: list[Series], start: int, end: int
    ) -> dict[int, list[list[np.ndarray]]]:
        """Each series' columns from the block rows of ``res`` overlapping the range, oldest
        write first. Rows hold only samples older than the head boundary, so a window
        inside the head (a rule's 5 min lookback) costs no query at all."""
        out: dict[int, list[list[np.ndarray]]] = defaultdict(list)
        if not series or start >= self._min_valid:
            return out
        span = SPAN_MS[res]
        lo = start - start % span
        by_grp: dict[int, list[int]] = defaultdict(list)
        for s in series:
            by_grp[s.id >> GROUP_BITS].append(s.id)
        with contextlib.ExitStack() as stack:
            for grp, members in by_grp.items():
                for rid, gen, min_t in db.execute(
                    "SELECT id, gen, min_t FROM blocks WHERE res = ? AND grp = ?"
                    " AND min_t >= ? AND min_t <= ? AND max_t >= ? ORDER BY gen, min_t",
                    (res, grp, lo, end, start),
                ):
                    try:
                        blk = self._block(db, rid)
                    except ChunkCorruptError as exc:
                        self._damaged(res, -1, min_t, gen, exc)
                        continue
                    hits = [(sid, blk.find(sid)) for sid in members]
                    hits = [(sid, i) for sid, i in hits if i >= 0]
                    if not hits:
                        continue
                    data = stack.enter_context(db.blobopen("blocks", "data", rid, readonly=True))
                    reader = FrameReader(blk, data)
                    try:
                        cols = decode_series(reader, np.array([i for _, i in hits], np.int64))
                        for (sid, _), c in zip(hits, cols, strict=True):
                            out[sid].append(c)
                    except ChunkCorruptError:
                        for sid, i in hits:  # damage stays confined to the series it hit
                            try:
                                out[sid].append(decode_series(reader, np.array([i], np.int64))[0])
                            except ChunkCorruptError as exc:
                                self._damaged(res, sid, min_t, gen, exc)
        return out

    def read_rollup(
        self, matchers: Sequence[Matcher], start_ms: int, end_ms: int, res_ms: int
    ) -> list[tuple[Series, Rollup]]:
        """Min, max, sum, count and last per ``res_ms`` step (60,000 or 3,600,000).

        Steps are aligned to multiples of ``res_ms``; the step containing
        ``start_ms`` is included whole. Recent samples still in the head are
        rolled up on the fly.
        """
        if res_ms not in ROLLUP_RESOLUTIONS:
            raise ValueError(f"no rollups at {res_ms} ms (have {ROLLUP_RESOLUTIONS})")
        start = start_ms - start_ms % res_ms
        out: list[tuple[Series, Rollup]] = []
        with self._snapshot() as db:
            found = self.index.select(matchers)
            stored = self._stored(db, res_ms, found, start, end_ms)
            for series in found:
                with self._write_lock:
                    hts, hvals = self.head.read(series.id, start, end_ms)
                parts = [Rollup.from_columns(c) for c in stored.get(series.id, ())]
                if hts.size:
                    parts.append(compute_rollup(hts, hvals, res_ms, decimal_scale(hvals)))
                r = merge_rollups(parts).slice(start, end_ms)
                if len(r):
                    out.append((series, r))
        return out

    def _damaged(self, res: int, sid: int, min_t: int, gen: int, exc: Exception) -> None:
        self.counters["damaged_chunks_skipped"] += 1
        log.error(
            "%s: damaged chunk (res %s, series %s, from %s, gen %s) skipped: %s; "
            "run `watchkeeper store check` to quarantine it",
            self.path,
            res,
            sid,
            min_t,
            gen,
            exc,
        )

    # -- check -------------------------------------------------------------------------
    def check(self, *, quarantine: bool | None = None) -> CheckReport:
        """Decode every chunk and WAL record; move damaged chunks to ``quarantine``.

        A read-only store only reports. Quarantined chunks keep their bytes
        (table ``quarantine``) for inspection; the rest of the store serves on.
        """
        if quarantine is None:
            quarantine = not self.readonly
        if quarantine:
            self._check_writable()
        damaged: list[dict[str, object]] = []
        bad_rows: dict[int, set[int]] = defaultdict(set)  # row id -> damaged series indexes
        whole_bad: dict[int, str] = {}
        reasons: dict[tuple[int, int], str] = {}
        chunks = wal_records = wal_damaged = 0
        with self._maint_lock, self._snapshot() as db:
            for rid, res, min_t, gen, dir_blob in db.execute(
                "SELECT id, res, min_t, gen, dir FROM blocks"
            ).fetchall():
                try:
                    blk = parse_dir(dir_blob)
                except ChunkCorruptError as exc:
                    chunks += 1
                    damaged.append(
                        {
                            "res": res,
                            "series_id": None,
                            "min_t": min_t,
                            "gen": gen,
                            "error": str(exc),
                        }
                    )
                    whole_bad[int(rid)] = str(exc)
                    continue
                chunks += int(blk.sids.size)
                with db.blobopen("blocks", "data", rid, readonly=True) as data:
                    reader = FrameReader(blk, data)
                    everything = np.arange(blk.sids.size, dtype=np.int64)
                    try:
                        decode_series(reader, everything)
                        continue
                    except ChunkCorruptError:
                        pass
                    for i in everything.tolist():
                        try:
                            decode_series(FrameReader(blk, data), np.array([i], np.int64))
                        except ChunkCorruptError as exc:
                            sid = int(blk.sids[i])
                            damaged.append(
                                {
                                    "res": res,
                                    "series_id": sid,
                                    "min_t": min_t,
                                    "gen": gen,
                                    "error": str(exc),
                                }
                            )
                            bad_rows[int(rid)].add(i)
                            reasons[(int(rid), i)] = str(exc)
            for (data,) in db.execute("SELECT CAST(data AS BLOB) FROM wal"):
                wal_records += 1
                try:
                    decode_record(data)
                except WalCorruptError:
                    wal_damaged += 1
        if quarantine and (bad_rows or whole_bad):
            self._quarantine(bad_rows, whole_bad, reasons)
        return CheckReport(
            chunks, damaged, wal_records, wal_damaged, quarantine and bool(bad_rows or whole_bad)
        )

    def _quarantine(
        self,
        bad_rows: dict[int, set[int]],
        whole_bad: dict[int, str],
        reasons: dict[tuple[int, int], str],
    ) -> None:
        """Move damaged series (or whole rows with a damaged directory) to ``quarantine``;
        the row's other series are rewritten into a new row and keep serving."""
        now = int(time.time() * 1000)
        gen = self._gen
        self._gen += 1
        with self._maint_lock, self._read_lock:
            db = self._mdb
            db.execute("BEGIN IMMEDIATE")
            try:
                for rid, reason in whole_bad.items():
                    db.execute(
                        "INSERT INTO quarantine SELECT res, -1, min_t, gen, max_t, n, data, ?, ?"
                        " FROM blocks WHERE id = ?",
                        (reason, now, rid),
                    )
                    db.execute("DELETE FROM blocks WHERE id = ?", (rid,))
                for rid, bad in bad_rows.items():
                    res, min_t, max_t, row_gen, level, dir_blob = db.execute(
                        "SELECT res, min_t, max_t, gen, level, dir FROM blocks WHERE id = ?", (rid,)
                    ).fetchone()
                    blk = parse_dir(dir_blob)
                    with db.blobopen("blocks", "data", rid, readonly=True) as data:
                        raw = bytes(data[:])
                    for i in sorted(bad):
                        db.execute(
                            "INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (
                                res,
                                int(blk.sids[i]),
                                min_t,
                                row_gen,
                                max_t,
                                int(blk.entry_n[i + blk.n_ts]),
                                raw,
                                reasons[(rid, i)],
                                now,
                            ),
                        )
                    good = np.array([i for i in range(blk.sids.size) if i not in bad], np.int64)
                    new: list[BlockRow] = []
                    if good.size:
                        cols = decode_series(FrameReader(blk, raw), good)
                        refs = np.repeat(blk.sids[good], [len(c[0]) for c in cols]).astype(np.int32)
                        joined = [np.concatenate([c[k] for c in cols]) for k in range(len(cols[0]))]
                        new = merge_rows(
                            res, [(refs, joined)], gen, level, zlevel=self.compaction_level
                        )
                    db.execute("DELETE FROM blocks WHERE id = ?", (rid,))
                    _insert_rows(db, new)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    # -- stats ---------------------------------------------------------------------------
    def stats(self) -> StoreStats:
        with self._snapshot() as db:
            per_res = db.execute(
                "SELECT res, sum(nseries), sum(n), sum(length(data) + length(dir)),"
                " min(min_t), max(max_t), count(*) FROM blocks GROUP BY res"
            ).fetchall()
            wal_records, wal_bytes = db.execute(
                "SELECT count(*), sum(length(data)) FROM wal"
            ).fetchone()
            quarantined = db.execute("SELECT count(*) FROM quarantine").fetchone()[0]
            page_size = db.execute("PRAGMA page_size").fetchone()[0]
            free_pages = db.execute("PRAGMA freelist_count").fetchone()[0]
            with self._write_lock:
                head_samples = self.head.samples + (
                    len(self.head.frozen) if self.head.frozen else 0
                )
                head_series = int(self.head.refs().size)
                head_bytes = self.head.bytes
                head_min, head_max = self.head.min_t, self.head.max_t
                series = len(self.index)
        by_res = {int(r[0]): r for r in per_res}
        raw = by_res.get(RAW)
        raw_samples = int(raw[2]) if raw else 0
        oldest_candidates = [v for v in (raw[4] if raw else None, head_min) if v is not None]
        newest_candidates = [v for v in (raw[5] if raw else None, head_max) if v is not None]
        size = sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())
        resolutions = {}
        for res in (RAW, *ROLLUP_RESOLUTIONS):
            row = by_res.get(res)
            resolutions[_RES_NAMES[res]] = {
                "chunks": int(row[1]) if row else 0,
                "blocks": int(row[6]) if row else 0,
                "points": int(row[2]) if row else 0,
                "chunk_bytes": int(row[3]) if row else 0,
                "oldest_ms": int(row[4]) if row else None,
                "newest_ms": int(row[5]) if row else None,
                "retention_ms": self.retention_ms[res],
            }
        chunk_bytes = sum(int(r[3]) for r in per_res)
        samples = raw_samples + head_samples
        return StoreStats(
            path=str(self.path),
            series=series,
            samples=samples,
            bytes=size,
            oldest_ms=min(oldest_candidates) if oldest_candidates else None,
            newest_ms=max(newest_candidates) if newest_candidates else None,
            extra={
                "engine": "tsdb",
                "resolutions": resolutions,
                "chunks": sum(int(r[1]) for r in per_res),
                "blocks": sum(int(r[6]) for r in per_res),
                "chunk_bytes": chunk_bytes,
                "raw_chunk_bytes_per_sample": (int(raw[3]) / raw_samples)
                if raw and raw_samples
                else 0.0,
                "head_samples": head_samples,
                "head_series": head_series,
                "head_bytes": head_bytes,
                "wal_records": int(wal_records),
                "wal_bytes": int(wal_bytes or 0),
                "free_bytes": int(free_pages) * int(page_size),
                "quarantined_chunks": int(quarantined),
                "counters": dict(self.counters),
            },
        )

    def __enter__(self) -> TSDBStore:
        return self

    # -- closing -------------------------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._stopping = True  # let a running maintenance round finish first
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        self._closed = True
        with self._maint_lock, self._read_lock, self._write_lock:
            self._rdb.close()
            if not self.readonly:
                with contextlib.suppress(sqlite3.Error):
                    self._wdb.execute("PRAGMA wal_checkpoint(PASSIVE)")
                self._wdb.close()
                self._mdb.close()
            self._release_writer_lock()


def _insert_rows(db: sqlite3.Connection, rows: Sequence[BlockRow]) -> None:
    db.executemany(
        "INSERT INTO blocks (res, grp, min_t, max_t, gen, level, n, nseries, dir, data)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [r.params() for r in rows],
    )


def open_tsdb(path: str | Path, *, readonly: bool = False, **options: Any) -> TSDBStore:
    return TSDBStore(path, readonly=readonly, **options)
