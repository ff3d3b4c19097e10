"""PagerDuty Events API v2: trigger while the group fires, resolve when it is over.

The ``dedup_key`` is derived from the integration and group key, so every
trigger of one group lands on one incident and the resolve closes it; a
message re-sent after a crash is de-duplicated by PagerDuty itself.
"""

from __future__ import annotations

import hashlib
import json
import socket
from typing import Any

from watchkeeper.config.notify import PagerDutyTarget
from watchkeeper.notify.channels.base import Channel, http_client, post_json
from watchkeeper.notify.payload import Notification
from watchkeeper.notify.render import title

__all__ = ["PagerDutyChannel", "pagerduty_event"]

SEVERITIES = {"critical", "error", "warning", "info"}


def dedup_key(integration: str, group_key: str) -> str:
    return hashlib.sha256(f"{integration}\x00{group_key}".encode()).hexdigest()


def pagerduty_event(n: Notification, routing_key: str) -> dict[str, Any]:
    p = n.payload
    resolved = n.status == "resolved"
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "resolve" if resolved else "trigger",
        "dedup_key": dedup_key(n.integration, n.group_key),
    }
    if resolved:
        return event
    sev = str(p.get("commonLabels", {}).get("severity", "error")).lower()
    firing = [a for a in n.alerts if a["status"] == "firing"]
    event["payload"] = {
        "summary": title(n)[:1024],
        "source": str(p.get("commonLabels", {}).get("instance") or socket.gethostname()),
        "severity": sev if sev in SEVERITIES else "error",
        "timestamp": (firing or n.alerts or [{"startsAt": None}])[0].get("startsAt"),
        "group": str(p.get("groupLabels", {}).get("alertname", "")) or None,
        "custom_details": {
            "firing": [a["labels"] | a["annotations"] for a in firing],
            "num_firing": len(firing),
            "num_resolved": len(n.alerts) - len(firing),
        },
    }
    event["payload"] = {k: v for k, v in event["payload"].items() if v is not None}
    event["client"] = "watchkeeper"
    if p.get("externalURL"):
        event["client_url"] = p["externalURL"]
        event["links"] = [{"href": p["externalURL"], "text": "watchkeeper dashboard"}]
    return event


class PagerDutyChannel(Channel):
    def __init__(self, key: str, receiver: str, cfg: PagerDutyTarget) -> None:
        self.key, self.receiver, self.cfg = key, receiver, cfg
        self.send_resolved = cfg.send_resolved
        self.rate_limit = cfg.rate_limit
        self.client = http_client(cfg.timeout)

    async def send(self, n: Notification) -> None:
        body = json.dumps(pagerduty_event(n, self.cfg.routing_key.get_secret_value())).encode()
        await post_json(self.client, self.cfg.url, body, f"pagerduty {self.key}")

    async def aclose(self) -> None:
        await self.client.aclose()
