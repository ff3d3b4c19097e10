"""The console/log receiver: the default when nothing else is configured."""

from __future__ import annotations

import logging

from watchkeeper.notify.channels.base import Channel
from watchkeeper.notify.payload import Notification
from watchkeeper.notify.render import summary_line, title

__all__ = ["ConsoleChannel"]

log = logging.getLogger("watchkeeper.notify.console")


class ConsoleChannel(Channel):
    def __init__(self, key: str, receiver: str) -> None:
        self.key, self.receiver = key, receiver

    async def send(self, n: Notification) -> None:
        if n.kind == "report":
            log.info("%s", n.payload["text"], extra={"group_key": n.group_key})
            return
        level = logging.INFO if n.status == "resolved" or n.is_test else logging.WARNING
        lines = [title(n)] + [f"  - {summary_line(a)}" for a in n.alerts]
        log.log(level, "%s", "\n".join(lines), extra={"group_key": n.group_key})
