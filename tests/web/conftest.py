"""Fixtures for the web room: a store with noisy host data, users of every role, the app,
and a notifier running on alerts.db beside them (as ``watchkeeper run`` wires it)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_helpers import (
    PASSWORD,
    HookSink,
    LiveServer,
    NotifierThread,
    WebEnv,
    free_port,
    noisy_host_samples,
)

from watchkeeper.alerts.db import AlertsDB
from watchkeeper.alerts.service import AlertService
from watchkeeper.config.notify import NotifyConfig
from watchkeeper.config.web import WebConfig
from watchkeeper.notify.build import build_channels
from watchkeeper.notify.notifier import Notifier
from watchkeeper.store import open_store
from watchkeeper.web.alert_board import AlertBoard
from watchkeeper.web.app import create_app
from watchkeeper.web.authdb import AuthDB
from watchkeeper.web.wiring import alert_service


def notify_config(hook_url: str) -> NotifyConfig:
    """``ops`` gets everything (a live webhook); alerts labelled team="nobody" go to
    ``broken`` (a closed port, dead-lettered after one attempt)."""
    return NotifyConfig.model_validate(
        {
            "receivers": [
                {"name": "ops", "webhook_configs": [{"url": hook_url}]},
                {
                    "name": "broken",
                    "webhook_configs": [{"url": f"http://127.0.0.1:{free_port()}/", "timeout": 2}],
                },
            ],
            "route": {
                "receiver": "ops",
                "group_wait": "0s",
                "group_interval": "1s",
                "routes": [{"matchers": ['team="nobody"'], "receiver": "broken"}],
            },
            "delivery": {"max_attempts": 1},
            "maintenance": [
                {
                    "name": "sunday-backup",
                    "weekdays": ["sunday"],
                    "start": "02:00",
                    "end": "04:00",
                    "time_zone": "Europe/Istanbul",
                    "matchers": ['job="backup"'],
                }
            ],
        }
    )


@pytest.fixture
def web_env(tmp_path: Path) -> Iterator[WebEnv]:
    store = open_store(tmp_path / "watchkeeper.db")
    now_ms = int(time.time() * 1000)
    store.append(noisy_host_samples(now_ms))
    db = AuthDB(tmp_path / "web.db")
    tokens = {}
    for role in ("viewer", "operator", "admin"):
        db.add_user(role, PASSWORD, role)
        tokens[role] = db.create_token(role, "tests")
    hook = HookSink().start()
    cfg = notify_config(hook.url)
    notifier = Notifier(cfg, AlertsDB(tmp_path / "alerts.db"), build_channels(cfg))
    runner = NotifierThread(notifier).start()
    web_alerts = alert_service(notifier)
    cli_alerts = AlertService(AlertsDB(tmp_path / "alerts.db"), cfg)
    board = AlertBoard()
    app = create_app(
        config=WebConfig(),
        store=store,
        auth_db=db,
        board=board,
        rules_enabled=True,
        alerts=web_alerts,
        notifier=notifier,
    )
    yield WebEnv(app, store, db, board, tokens, now_ms, cli_alerts, notifier, hook)
    runner.stop()
    hook.stop()
    for service in (web_alerts, cli_alerts):
        assert service is not None
        service.db.close()
    notifier.db.close()
    db.close()
    store.close()


@pytest.fixture
def client(web_env: WebEnv) -> Iterator[TestClient]:
    with TestClient(web_env.app) as c:
        yield c


@pytest.fixture
def live_server(web_env: WebEnv) -> Iterator[LiveServer]:
    with LiveServer(web_env.app) as server:
        yield server
