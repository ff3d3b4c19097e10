"""Forward to a real Alertmanager (``POST /api/v2/alerts``), e.g. during a migration."""

from __future__ import annotations

import json
from typing import Any

from watchkeeper.config.notify import AlertmanagerTarget
from watchkeeper.notify.channels.base import Channel, http_client, post_json
from watchkeeper.notify.payload import ZERO_TIME, Notification

__all__ = ["AlertmanagerChannel", "postable_alerts"]


def postable_alerts(n: Notification) -> list[dict[str, Any]]:
    out = []
    for a in n.alerts:
        item: dict[str, Any] = {"labels": a["labels"], "annotations": a["annotations"]}
        if a.get("startsAt") and a["startsAt"] != ZERO_TIME:
            item["startsAt"] = a["startsAt"]
        if a["status"] == "resolved" and a.get("endsAt") != ZERO_TIME:
            item["endsAt"] = a["endsAt"]
        if a.get("generatorURL"):
            item["generatorURL"] = a["generatorURL"]
        out.append(item)
    return out


class AlertmanagerChannel(Channel):
    def __init__(self, key: str, receiver: str, cfg: AlertmanagerTarget) -> None:
        self.key, self.receiver, self.cfg = key, receiver, cfg
        self.send_resolved = True  # Alertmanager must learn of resolutions
        self.rate_limit = cfg.rate_limit
        self.client = http_client(cfg.timeout)

    async def send(self, n: Notification) -> None:
        body = json.dumps(postable_alerts(n)).encode()
        url = self.cfg.url.get_secret_value().rstrip("/") + "/api/v2/alerts"
        await post_json(self.client, url, body, f"alertmanager {self.key}")

    async def aclose(self) -> None:
        await self.client.aclose()
