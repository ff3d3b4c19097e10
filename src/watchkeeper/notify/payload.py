"""A notification: what is queued in the outbox and what every channel renders.

The payload *is* Alertmanager's webhook message (version 4), so the generic
webhook sends it unchanged and the other channels read the same fields.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from watchkeeper.alerts.model import InboundAlert, format_time

__all__ = ["Notification", "build_payload", "idempotency_key"]

#: Alertmanager's "no end" time in webhook payloads.
ZERO_TIME = "0001-01-01T00:00:00Z"


@dataclass(frozen=True, slots=True)
class Notification:
    """One outbox row handed to a channel."""

    id: int
    integration: str
    group_key: str
    idempotency_key: str
    kind: str  # "notification", "escalation", "test"
    payload: Mapping[str, Any]
    created_ms: int
    attempts: int = 0

    @property
    def status(self) -> str:
        return str(self.payload.get("status", "firing"))

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return list(self.payload.get("alerts", []))

    @property
    def is_test(self) -> bool:
        return self.kind == "test"


def idempotency_key(integration: str, group_key: str, seq: str) -> str:
    """Stable across retries and restarts: the receiver's de-duplication key."""
    raw = f"{integration}\x00{group_key}\x00{seq}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    common = dict(maps[0])
    for m in maps[1:]:
        for k in list(common):
            if m.get(k) != common[k]:
                del common[k]
    return common


def build_payload(
    *,
    receiver: str,
    group_key: str,
    group_labels: Mapping[str, str],
    alerts: Sequence[InboundAlert],
    now_ms: int,
    external_url: str,
    max_alerts: int = 0,
) -> dict[str, Any]:
    firing_any = any(not a.resolved(now_ms) for a in alerts)
    # Firing alerts first: a message that is cut short keeps what matters.
    ordered = sorted(alerts, key=lambda a: (a.resolved(now_ms), a.starts_at_ms, a.fingerprint))
    shown = ordered[:max_alerts] if max_alerts else ordered
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": len(ordered) - len(shown),
        "status": "firing" if firing_any else "resolved",
        "receiver": receiver,
        "groupLabels": dict(group_labels),
        "commonLabels": _common([dict(a.labels) for a in alerts]),
        "commonAnnotations": _common([dict(a.annotations) for a in alerts]),
        "externalURL": external_url,
        "alerts": [
            {
                "status": a.status(now_ms).value,
                "labels": dict(a.labels),
                "annotations": dict(a.annotations),
                "startsAt": format_time(a.starts_at_ms) if a.starts_at_ms else ZERO_TIME,
                "endsAt": format_time(a.ends_at_ms)
                if a.resolved(now_ms) and a.ends_at_ms
                else ZERO_TIME,
                "generatorURL": a.generator_url,
                "fingerprint": a.fingerprint,
            }
            for a in shown
        ],
    }
