"""Fixtures for the notification tests: real SMTP/HTTP peers and a running notifier."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from watchkeeper.alerts.db import AlertsDB
from watchkeeper.config.notify import NotifyConfig
from watchkeeper.notify.build import build_channels
from watchkeeper.notify.notifier import Notifier

from .peers import HttpSink, SmtpSink


@pytest.fixture
def http_sink() -> Iterator[HttpSink]:
    sink = HttpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def notify_config(**data: Any) -> NotifyConfig:
    return NotifyConfig.model_validate(data)


@contextlib.asynccontextmanager
async def running(cfg: NotifyConfig, db_path: Path) -> AsyncIterator[Notifier]:
    """A notifier serving in this event loop until the block ends."""
    db = AlertsDB(db_path)
    notifier = Notifier(cfg, db, build_channels(cfg))
    stop = asyncio.Event()
    task = asyncio.create_task(notifier.serve(stop))
    await notifier.ready.wait()
    try:
        yield notifier
    finally:
        stop.set()
        await task
        db.close()
