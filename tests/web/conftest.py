"""Fixtures for the web room: a store with noisy host data, users of every role, the app."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_helpers import PASSWORD, LiveServer, WebEnv, noisy_host_samples

from watchkeeper.config.web import WebConfig
from watchkeeper.store import open_store
from watchkeeper.web.alert_board import AlertBoard
from watchkeeper.web.app import create_app
from watchkeeper.web.authdb import AuthDB


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
    board = AlertBoard()
    app = create_app(config=WebConfig(), store=store, auth_db=db, board=board, rules_enabled=True)
    yield WebEnv(app, store, db, board, tokens, now_ms)
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
