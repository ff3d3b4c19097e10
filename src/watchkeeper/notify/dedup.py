"""The notification log and the decision "does this group need a notification now?".

Alertmanager's DedupStage: notify when a firing alert is new to the
receiver, when the receiver was told of firing alerts that have all
resolved, when a resolved alert is new and resolved notifications are on,
or when ``repeat_interval`` has passed. watchkeeper adds one rule:
acknowledged alerts do not repeat.

The log is in alerts.db and is written in the same transaction as the
outbox row, so a restart neither forgets what was sent nor re-sends it.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

__all__ = ["NflogEntry", "load_entry", "needs_update", "save_entry"]


@dataclass(frozen=True, slots=True)
class NflogEntry:
    firing: frozenset[str]
    resolved: frozenset[str]
    sent_at_ms: int


def needs_update(
    entry: NflogEntry | None,
    firing: frozenset[str],
    resolved: frozenset[str],
    *,
    send_resolved: bool,
    repeat_ms: int,
    now_ms: int,
    all_acked: bool = False,
) -> bool:
    if entry is None:
        return bool(firing)
    if not firing <= entry.firing:
        return True
    if not firing:
        # Everything resolved: notify (or at least clear the log) if the
        # receiver still believes something is firing.
        return bool(entry.firing)
    if send_resolved and not resolved <= entry.resolved:
        return True
    if all_acked:
        return False
    return entry.sent_at_ms + repeat_ms <= now_ms


def load_entry(conn: sqlite3.Connection, integration: str, group_key: str) -> NflogEntry | None:
    row = conn.execute(
        "SELECT firing, resolved, sent_at FROM nflog WHERE integration=? AND group_key=?",
        (integration, group_key),
    ).fetchone()
    if row is None:
        return None
    return NflogEntry(frozenset(json.loads(row[0])), frozenset(json.loads(row[1])), row[2])


def save_entry(
    conn: sqlite3.Connection, integration: str, group_key: str, entry: NflogEntry
) -> None:
    conn.execute(
        """INSERT INTO nflog(integration, group_key, firing, resolved, sent_at) VALUES(?,?,?,?,?)
           ON CONFLICT(integration, group_key) DO UPDATE SET firing=excluded.firing,
               resolved=excluded.resolved, sent_at=excluded.sent_at""",
        (
            integration,
            group_key,
            json.dumps(sorted(entry.firing)),
            json.dumps(sorted(entry.resolved)),
            entry.sent_at_ms,
        ),
    )
