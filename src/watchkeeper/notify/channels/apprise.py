"""Apprise URLs for the long tail (Teams, Telegram, Discord, SMS gateways...).

Needs the ``apprise`` extra: ``pip install 'watchkeeper[apprise]'``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from watchkeeper.config.notify import AppriseTarget
from watchkeeper.notify.channels.base import Channel, DeliveryError
from watchkeeper.notify.payload import Notification
from watchkeeper.notify.render import summary_line, title

__all__ = ["AppriseChannel"]


class AppriseChannel(Channel):
    def __init__(self, key: str, receiver: str, cfg: AppriseTarget) -> None:
        try:
            import apprise  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise ValueError(
                f"receiver {receiver!r} uses apprise_configs: install it with "
                "pip install 'watchkeeper[apprise]'"
            ) from None
        self.key, self.receiver, self.cfg = key, receiver, cfg
        self.send_resolved = cfg.send_resolved
        self.rate_limit = cfg.rate_limit
        self.apobj: Any = apprise.Apprise()
        for url in cfg.urls:
            if not self.apobj.add(url.get_secret_value()):
                raise ValueError(f"receiver {receiver!r}: an apprise URL was not understood")

    async def send(self, n: Notification) -> None:
        body = "\n".join(summary_line(a) for a in n.alerts)
        ok = await asyncio.to_thread(self.apobj.notify, body=body, title=title(n))
        if not ok:
            raise DeliveryError(f"apprise {self.key}: at least one service refused the message")
