"""``watchkeeper notify test RECEIVER``: a clearly marked test through every integration.

Sent directly (not through the outbox) so that it answers at once, with the
receiver's own error, whether or not ``watchkeeper run`` is running.
"""

from __future__ import annotations

import socket

from watchkeeper.alerts.model import InboundAlert, now_ms
from watchkeeper.config.notify import DEFAULT_RECEIVER, NotifyConfig
from watchkeeper.model import Labels
from watchkeeper.notify.build import build_channels
from watchkeeper.notify.channels.base import DeliveryError
from watchkeeper.notify.payload import Notification, build_payload, idempotency_key

__all__ = ["send_test"]


async def send_test(config: NotifyConfig, receiver: str) -> list[tuple[str, str | None]]:
    """Send to each integration of ``receiver``; returns (integration, error or None)."""
    channels = build_channels(config)
    if receiver not in channels:
        known = ", ".join(sorted(channels))
        raise ValueError(f"unknown receiver {receiver!r}; configured: {known}")
    now = now_ms()
    alert = InboundAlert(
        Labels(
            {"alertname": "WatchkeeperTest", "instance": socket.gethostname(), "severity": "info"}
        ),
        {
            "summary": "Test notification from watchkeeper",
            "description": "Sent by `watchkeeper notify test`; no action is needed.",
        },
        starts_at_ms=now,
    )
    group_key = f"test:{receiver}"
    payload = build_payload(
        receiver=receiver,
        group_key=group_key,
        group_labels={"alertname": "WatchkeeperTest"},
        alerts=[alert],
        now_ms=now,
        external_url=config.external_url,
    )
    results: list[tuple[str, str | None]] = []
    for ch in channels[receiver]:
        n = Notification(
            0, ch.key, group_key, idempotency_key(ch.key, group_key, str(now)), "test", payload, now
        )
        try:
            await ch.send(n)
            results.append((ch.key, None))
        except DeliveryError as exc:
            results.append((ch.key, str(exc)))
        finally:
            await ch.aclose()
    if receiver == DEFAULT_RECEIVER and not results:
        results.append((f"{DEFAULT_RECEIVER}/console/0", None))
    return results
