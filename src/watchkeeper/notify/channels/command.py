"""Run a program with the notification as JSON on stdin (automated first response)."""

from __future__ import annotations

import asyncio
import json
import os

from watchkeeper.config.notify import CommandTarget
from watchkeeper.notify.channels.base import Channel, DeliveryError
from watchkeeper.notify.payload import Notification

__all__ = ["CommandChannel"]


class CommandChannel(Channel):
    def __init__(self, key: str, receiver: str, cfg: CommandTarget) -> None:
        self.key, self.receiver, self.cfg = key, receiver, cfg
        self.send_resolved = cfg.send_resolved
        self.rate_limit = cfg.rate_limit

    async def send(self, n: Notification) -> None:
        env = {
            **os.environ,
            "WATCHKEEPER_IDEMPOTENCY_KEY": n.idempotency_key,
            "WATCHKEEPER_STATUS": n.status,
        }
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.cfg.command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                env=env,
            )
        except OSError as exc:
            raise DeliveryError(
                f"command {self.cfg.command[0]!r}: {exc}", retryable=False
            ) from None
        try:
            _, err = await asyncio.wait_for(
                proc.communicate(json.dumps(dict(n.payload)).encode()), self.cfg.timeout
            )
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise DeliveryError(f"command timed out after {self.cfg.timeout:g}s") from None
        if proc.returncode != 0:
            tail = err.decode(errors="replace").strip()[-200:]
            raise DeliveryError(f"command exited with {proc.returncode}: {tail}")
