"""The web service in the run loop: it serves until stop, then lets go of its databases."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from watchkeeper.web.authdb import AuthDB
from watchkeeper.web.server import WebServer
from wk_testing import free_port


async def test_serves_until_stop_then_closes_its_databases(tmp_path: Path) -> None:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"ok": "yes"}

    db = AuthDB(tmp_path / "web.db")
    calls: list[str] = []

    def failing() -> None:
        calls.append("failing")
        raise OSError("disk gone")

    port = free_port()
    server = WebServer(
        app, "127.0.0.1", port, on_stopped=[failing, db.close, lambda: calls.append("last")]
    )
    stop = asyncio.Event()
    task = asyncio.create_task(server.serve(stop))
    await asyncio.wait_for(server.started.wait(), 30)
    async with httpx.AsyncClient() as client:
        r = await client.get(f"http://127.0.0.1:{port}/ping")
    assert r.json() == {"ok": "yes"}
    assert calls == []  # nothing closed while serving
    stop.set()
    await asyncio.wait_for(task, 30)
    # One that fails does not keep the others from running.
    assert calls == ["failing", "last"]
    with pytest.raises(sqlite3.ProgrammingError):
        db.users()
