"""The alert database (``alerts.db`` beside the metrics store): state, history, outbox.

One SQLite file in WAL mode, shared by the running notifier and the CLI
(``watchkeeper alerts ack`` in another shell writes here; the notifier sees
the commit through ``PRAGMA data_version``). The outbox lives in the same file
as the notification log so that "decide to notify" and "queue the message"
commit in one transaction: after a crash either both happened or neither.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchkeeper.alerts.model import InboundAlert
from watchkeeper.model import Labels

__all__ = ["AlertRecord", "AlertsDB", "default_alerts_db_path"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts(
    fingerprint TEXT PRIMARY KEY,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    generator_url TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    source TEXT NOT NULL DEFAULT 'rules',
    ack_by TEXT, ack_at INTEGER, ack_until INTEGER, ack_comment TEXT,
    resolved_by TEXT
);
CREATE INDEX IF NOT EXISTS alerts_status ON alerts(status, ends_at);
CREATE TABLE IF NOT EXISTS alert_history(
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    at INTEGER NOT NULL,
    event TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS alert_history_fp ON alert_history(fingerprint, id);
CREATE INDEX IF NOT EXISTS alert_history_at ON alert_history(at);
CREATE TABLE IF NOT EXISTS silences(
    id TEXT PRIMARY KEY,
    matchers TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expire_on_resolve INTEGER NOT NULL DEFAULT 1,
    last_matched_at INTEGER NOT NULL DEFAULT 0,
    expired_reason TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS nflog(
    integration TEXT NOT NULL,
    group_key TEXT NOT NULL,
    firing TEXT NOT NULL,
    resolved TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY(integration, group_key)
);
CREATE TABLE IF NOT EXISTS outbox(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    integration TEXT NOT NULL,
    group_key TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    done_at INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_queue ON outbox(state, integration, group_key, id);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(id) WHERE state='pending';
CREATE TABLE IF NOT EXISTS attempts(
    id INTEGER PRIMARY KEY,
    outbox_id INTEGER NOT NULL,
    integration TEXT NOT NULL,
    at INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    latency_ms REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_outbox ON attempts(outbox_id);
CREATE INDEX IF NOT EXISTS attempts_at ON attempts(at);
"""


def default_alerts_db_path(store_path: Path) -> Path:
    """``alerts.db`` in the directory of the metrics store."""
    return store_path.expanduser().parent / "alerts.db"


@dataclass(slots=True)
class AlertRecord:
    """An alert as the notifier tracks it: the posted alert plus people's actions."""

    alert: InboundAlert
    received_ms: int
    source: str = "rules"
    ack_by: str | None = None
    ack_at_ms: int | None = None
    ack_until_ms: int | None = None
    ack_comment: str | None = None
    resolved_by: str | None = None
    #: The status column as last written by the notifier (the source of truth
    #: for other processes: ``endsAt`` of a firing alert is refreshed lazily).
    stored_status: str = ""

    @property
    def fingerprint(self) -> str:
        return self.alert.fingerprint

    def acked(self, at_ms: int) -> bool:
        return self.ack_by is not None and (self.ack_until_ms is None or self.ack_until_ms > at_ms)

    def to_dict(self, at_ms: int) -> dict[str, Any]:
        from watchkeeper.alerts.model import format_time

        a = self.alert
        return {
            "fingerprint": self.fingerprint,
            "status": self.stored_status or a.status(at_ms).value,
            "labels": dict(a.labels),
            "annotations": dict(a.annotations),
            "startsAt": format_time(a.starts_at_ms) if a.starts_at_ms else None,
            "endsAt": format_time(a.ends_at_ms) if a.ends_at_ms else None,
            "generatorURL": a.generator_url,
            "source": self.source,
            "acknowledged": self.acked(at_ms),
            "ackBy": self.ack_by,
            "ackAt": format_time(self.ack_at_ms) if self.ack_at_ms else None,
            "ackUntil": format_time(self.ack_until_ms) if self.ack_until_ms else None,
            "ackComment": self.ack_comment,
            "resolvedBy": self.resolved_by,
        }

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> AlertRecord:
        alert = InboundAlert(
            Labels(json.loads(row["labels"])),
            json.loads(row["annotations"]),
            row["starts_at"],
            row["ends_at"],
            row["generator_url"],
        )
        return cls(
            alert,
            row["received_at"],
            row["source"],
            row["ack_by"],
            row["ack_at"],
            row["ack_until"],
            row["ack_comment"],
            row["resolved_by"],
            row["status"],
        )


class AlertsDB:
    """A connection to alerts.db; safe to share between threads (one lock)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(
            str(path), timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self.conn.row_factory = sqlite3.Row
        self.lock = threading.RLock()
        self.conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a process crash (kill -9);
        # only a power loss may lose the last transactions.
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA busy_timeout=30000")
        with self.transaction():
            for stmt in SCHEMA.split(";"):
                if stmt.strip():
                    self.conn.execute(stmt)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error), under the lock."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return list(self.conn.execute(sql, params))

    def data_version(self) -> int:
        """Changes when another connection (e.g. the CLI) commits."""
        with self.lock:
            return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    # -- alerts ----------------------------------------------------------------------
    def save_alert(
        self, conn: sqlite3.Connection, rec: AlertRecord, at_ms: int, *, clear_ack: bool = False
    ) -> None:
        """Insert or update the posted fields; people's fields (ack, resolved_by) are kept.

        The CLI may acknowledge in between, so only an explicit ``clear_ack``
        (the alert resolved or fired anew) touches them.
        """
        a = rec.alert
        conn.execute(
            """INSERT INTO alerts(fingerprint, labels, annotations, starts_at, ends_at,
                   generator_url, status, received_at, source, ack_by, ack_at, ack_until,
                   ack_comment, resolved_by)
               VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)
               ON CONFLICT(fingerprint) DO UPDATE SET annotations=excluded.annotations,
                   starts_at=excluded.starts_at, ends_at=excluded.ends_at,
                   generator_url=excluded.generator_url, status=excluded.status,
                   received_at=excluded.received_at, source=excluded.source""",
            (
                rec.fingerprint,
                json.dumps(dict(a.labels)),
                json.dumps(dict(a.annotations)),
                a.starts_at_ms,
                a.ends_at_ms,
                a.generator_url,
                a.status(at_ms).value,
                rec.received_ms,
                rec.source,
                rec.ack_by,
                rec.ack_at_ms,
                rec.ack_until_ms,
                rec.ack_comment,
                rec.resolved_by,
            ),
        )
        if clear_ack:
            conn.execute(
                "UPDATE alerts SET ack_by=NULL, ack_at=NULL, ack_until=NULL, ack_comment=NULL, "
                "resolved_by=? WHERE fingerprint=?",
                (rec.resolved_by, rec.fingerprint),
            )

    def load_alerts(self, *, since_ms: int = 0) -> list[AlertRecord]:
        """Firing alerts and those resolved at or after ``since_ms``."""
        rows = self.query(
            "SELECT * FROM alerts WHERE status='firing' OR ends_at >= ? ORDER BY starts_at",
            (since_ms,),
        )
        return [AlertRecord.from_row(r) for r in rows]

    def get_alert(self, fp: str) -> AlertRecord | None:
        rows = self.query("SELECT * FROM alerts WHERE fingerprint=?", (fp,))
        return AlertRecord.from_row(rows[0]) if rows else None

    @staticmethod
    def history(conn: sqlite3.Connection, fp: str, at_ms: int, event: str, **detail: Any) -> None:
        conn.execute(
            "INSERT INTO alert_history(fingerprint, at, event, detail) VALUES(?,?,?,?)",
            (fp, at_ms, event, json.dumps(detail, default=str)),
        )

    def prune(self, before_ms: int) -> int:
        """Delete history, attempts, finished outbox rows, old alerts before ``before_ms``."""
        with self.transaction() as c:
            n = c.execute("DELETE FROM alert_history WHERE at < ?", (before_ms,)).rowcount
            n += c.execute("DELETE FROM attempts WHERE at < ?", (before_ms,)).rowcount
            n += c.execute(
                "DELETE FROM outbox WHERE state != 'pending' AND created_at < ?", (before_ms,)
            ).rowcount
            n += c.execute(
                "DELETE FROM alerts WHERE status='resolved' AND ends_at < ?", (before_ms,)
            ).rowcount
            n += c.execute("DELETE FROM silences WHERE ends_at < ?", (before_ms,)).rowcount
            n += c.execute("DELETE FROM nflog WHERE sent_at < ?", (before_ms,)).rowcount
        return n

    def close(self) -> None:
        with self.lock:
            self.conn.close()
