"""Silences: label matchers muting alerts for a while, with author and comment.

Beyond Alertmanager, a silence can end itself when the alerts it matched have
resolved or when it has matched nothing for a while (alertmanager#1057,
#5459), and its length is capped by configuration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from watchkeeper.alerts.matchers import format_matchers, matches_all, parse_matchers
from watchkeeper.model import Labels, Matcher

__all__ = ["Silence"]


@dataclass(slots=True)
class Silence:
    id: str
    matchers: list[Matcher]
    starts_at_ms: int
    ends_at_ms: int
    created_by: str
    comment: str
    created_at_ms: int
    expire_on_resolve: bool = True
    #: Last time it muted a firing alert (0: never).
    last_matched_ms: int = 0
    #: Why it ended early ("" while running or when it simply ran out).
    expired_reason: str = ""

    def active(self, at_ms: int) -> bool:
        return self.starts_at_ms <= at_ms < self.ends_at_ms

    def state(self, at_ms: int) -> str:
        if at_ms < self.starts_at_ms:
            return "pending"
        return "active" if at_ms < self.ends_at_ms else "expired"

    def matches(self, labels: Labels) -> bool:
        return matches_all(self.matchers, labels)

    def matchers_text(self) -> str:
        return format_matchers(self.matchers)

    @classmethod
    def from_row(cls, row: Any) -> Silence:
        return cls(
            id=row["id"],
            matchers=parse_matchers(json.loads(row["matchers"])),
            starts_at_ms=row["starts_at"],
            ends_at_ms=row["ends_at"],
            created_by=row["created_by"],
            comment=row["comment"],
            created_at_ms=row["created_at"],
            expire_on_resolve=bool(row["expire_on_resolve"]),
            last_matched_ms=row["last_matched_at"],
            expired_reason=row["expired_reason"],
        )

    def to_dict(self, at_ms: int) -> dict[str, Any]:
        from watchkeeper.alerts.model import format_time

        return {
            "id": self.id,
            "matchers": [str(m) for m in self.matchers],
            "startsAt": format_time(self.starts_at_ms),
            "endsAt": format_time(self.ends_at_ms),
            "createdBy": self.created_by,
            "comment": self.comment,
            "state": self.state(at_ms),
            "expiredReason": self.expired_reason,
        }
