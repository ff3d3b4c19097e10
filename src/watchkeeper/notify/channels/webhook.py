"""Generic webhook: Alertmanager's webhook payload (version 4), so existing receivers work.

Headers: ``Idempotency-Key`` (stable across retries; de-duplicate on it) and,
with ``hmac_secret``, ``X-Watchkeeper-Signature: sha256=<hex HMAC of the body>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from watchkeeper.config.notify import WebhookTarget
from watchkeeper.notify.channels.base import Channel, check_status, http_client, post_json
from watchkeeper.notify.channels.plainhttp import PlainHttpPool
from watchkeeper.notify.payload import Notification

__all__ = ["WebhookChannel", "sign"]


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookChannel(Channel):
    def __init__(self, key: str, receiver: str, cfg: WebhookTarget) -> None:
        self.key, self.receiver, self.cfg = key, receiver, cfg
        self.send_resolved = cfg.send_resolved
        self.rate_limit = cfg.rate_limit
        self.client = http_client(cfg.timeout)
        url = cfg.url.get_secret_value()
        self.plain = PlainHttpPool(url, cfg.timeout) if url.startswith("http://") else None

    async def send(self, n: Notification) -> None:
        payload = dict(n.payload)
        if self.cfg.max_alerts and len(payload.get("alerts", ())) > self.cfg.max_alerts:
            extra = len(payload["alerts"]) - self.cfg.max_alerts
            payload["alerts"] = payload["alerts"][: self.cfg.max_alerts]
            payload["truncatedAlerts"] = int(payload.get("truncatedAlerts", 0)) + extra
        body = json.dumps(payload).encode()
        headers = {"Idempotency-Key": n.idempotency_key, "X-Watchkeeper-Sequence": str(n.id)}
        if n.is_test:
            headers["X-Watchkeeper-Test"] = "1"
        if self.cfg.hmac_secret is not None:
            headers["X-Watchkeeper-Signature"] = sign(
                self.cfg.hmac_secret.get_secret_value().encode(), body
            )
        what = f"webhook {self.key}"
        if self.plain is not None:
            status, answer = await self.plain.post(body, headers, what)
            check_status(status, answer.decode(errors="replace"), what)
            return
        await post_json(self.client, self.cfg.url.get_secret_value(), body, what, headers)

    async def aclose(self) -> None:
        await self.client.aclose()
        if self.plain is not None:
            await self.plain.aclose()
