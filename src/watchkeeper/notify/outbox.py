"""The durable outbox: a notification is committed before it is sent, marked after.

Guarantee: at-least-once per integration, in order per (integration, group):
only the oldest pending row of a group is ever handed to a channel, so a
resolved message cannot overtake its firing message, even across retries
and restarts. A crash (kill -9) between the receiver accepting a message and
the ``done`` commit re-sends that one message after the restart with the
*same* idempotency key (``Idempotency-Key`` header, e-mail ``Message-ID``,
PagerDuty ``dedup_key``), so a receiver that de-duplicates on it sees it
exactly once. Nothing else is ever sent twice: the decision to notify is
committed with the row (see dedup.py).
"""

from __future__ import annotations

import json
import random
import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any

from watchkeeper.alerts.db import AlertsDB
from watchkeeper.notify.payload import Notification, idempotency_key

__all__ = ["Outbox", "OutboxRow", "backoff_s"]

PENDING, DONE, DEAD = "pending", "done", "dead"


def backoff_s(
    attempts: int, initial: float, maximum: float, rng: random.Random | None = None
) -> float:
    """Exponential back-off with "equal jitter": half fixed, half random."""
    base = float(min(maximum, initial * 2.0 ** max(0, attempts - 1)))
    r = float((rng or random).random())
    return base / 2 + r * base / 2


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    integration: str
    group_key: str
    idempotency_key: str
    kind: str
    state: str
    attempts: int
    created_ms: int
    next_attempt_ms: int
    last_error: str
    done_ms: int | None
    status: str
    alerts: int

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


class Outbox:
    def __init__(self, db: AlertsDB) -> None:
        self.db = db

    @staticmethod
    def enqueue(
        conn: sqlite3.Connection,
        *,
        integration: str,
        group_key: str,
        kind: str,
        payload: dict[str, Any],
        now_ms: int,
    ) -> int:
        """Insert a pending row inside the caller's transaction; returns its id."""
        key = idempotency_key(integration, group_key, uuid.uuid4().hex)
        cur = conn.execute(
            """INSERT INTO outbox(integration, group_key, idempotency_key, kind, payload,
                   created_at, next_attempt_at, state) VALUES(?,?,?,?,?,?,?,?)""",
            (integration, group_key, key, kind, json.dumps(payload), now_ms, now_ms, PENDING),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def due(self, now_ms: int, limit: int, exclude: set[int]) -> list[Notification]:
        """The oldest pending row of each group, if its retry time has come."""
        rows = self.db.query(
            """SELECT o.id, o.integration, o.group_key, o.idempotency_key, o.kind, o.payload,
                      o.created_at, o.attempts
               FROM outbox o
               WHERE o.state='pending' AND o.next_attempt_at <= ?
                 AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.state='pending'
                     AND p.integration=o.integration AND p.group_key=o.group_key AND p.id < o.id)
               ORDER BY o.id LIMIT ?""",
            (now_ms, limit + len(exclude)),
        )
        out = []
        for r in rows:
            if r["id"] in exclude:
                continue
            out.append(
                Notification(
                    r["id"],
                    r["integration"],
                    r["group_key"],
                    r["idempotency_key"],
                    r["kind"],
                    json.loads(r["payload"]),
                    r["created_at"],
                    r["attempts"],
                )
            )
        return out[:limit]

    def next_due_ms(self) -> int | None:
        row = self.db.query("SELECT MIN(next_attempt_at) FROM outbox WHERE state='pending'")
        value = row[0][0] if row else None
        return int(value) if value is not None else None

    def mark_done(self, n: Notification, now_ms: int, latency_ms: float) -> None:
        with self.db.transaction() as c:
            c.execute(
                "UPDATE outbox SET state='done', done_at=?, attempts=attempts+1, last_error='' "
                "WHERE id=?",
                (now_ms, n.id),
            )
            c.execute(
                "INSERT INTO attempts(outbox_id, integration, at, ok, latency_ms) "
                "VALUES(?,?,?,1,?)",
                (n.id, n.integration, now_ms, latency_ms),
            )

    def mark_failed(
        self,
        n: Notification,
        now_ms: int,
        latency_ms: float,
        error: str,
        *,
        retry_at_ms: int | None,
    ) -> None:
        """Record a failed attempt: retry at ``retry_at_ms``, or dead-letter when None."""
        with self.db.transaction() as c:
            if retry_at_ms is None:
                c.execute(
                    "UPDATE outbox SET state='dead', attempts=attempts+1, last_error=?, done_at=? "
                    "WHERE id=?",
                    (error, now_ms, n.id),
                )
            else:
                c.execute(
                    "UPDATE outbox SET attempts=attempts+1, last_error=?, next_attempt_at=? "
                    "WHERE id=?",
                    (error, retry_at_ms, n.id),
                )
            c.execute(
                "INSERT INTO attempts(outbox_id, integration, at, ok, error, latency_ms) "
                "VALUES(?,?,?,0,?,?)",
                (n.id, n.integration, now_ms, error, latency_ms),
            )

    # -- for people (CLI, API) -----------------------------------------------------------
    def rows(self, *, state: str | None = None, limit: int = 100) -> list[OutboxRow]:
        where, params = ("WHERE state=?", (state,)) if state else ("", ())
        rows = self.db.query(
            f"""SELECT id, integration, group_key, idempotency_key, kind, state, attempts,
                    created_at, next_attempt_at, last_error, done_at,
                    json_extract(payload, '$.status') AS status,
                    json_array_length(payload, '$.alerts') AS n_alerts
                FROM outbox {where} ORDER BY id DESC LIMIT ?""",
            (*params, limit),
        )
        return [
            OutboxRow(
                r["id"],
                r["integration"],
                r["group_key"],
                r["idempotency_key"],
                r["kind"],
                r["state"],
                r["attempts"],
                r["created_at"],
                r["next_attempt_at"],
                r["last_error"],
                r["done_at"],
                r["status"] or "",
                r["n_alerts"] or 0,
            )
            for r in rows
        ]

    def retry(self, ids: list[int] | None, now_ms: int) -> int:
        """Put dead-lettered rows (all when ``ids`` is None) back in the queue."""
        with self.db.transaction() as c:
            if ids is None:
                cur = c.execute(
                    "UPDATE outbox SET state='pending', next_attempt_at=?, attempts=0 "
                    "WHERE state='dead'",
                    (now_ms,),
                )
            else:
                marks = ",".join("?" * len(ids))
                cur = c.execute(
                    f"UPDATE outbox SET state='pending', next_attempt_at=?, attempts=0 "
                    f"WHERE state='dead' AND id IN ({marks})",
                    (now_ms, *ids),
                )
            return cur.rowcount

    def counts(self) -> dict[str, int]:
        rows = self.db.query("SELECT state, COUNT(*) FROM outbox GROUP BY state")
        out = {PENDING: 0, DONE: 0, DEAD: 0}
        out.update({r[0]: r[1] for r in rows})
        return out
