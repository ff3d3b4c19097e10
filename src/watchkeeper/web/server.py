"""The web app as a run-loop Service: uvicorn on the runner's event loop.

uvicorn's own signal handling is disabled (the runner owns SIGTERM/SIGINT);
``serve`` returns once ``stop`` is set and connections are closed. A port
that cannot be bound is reported as an error, never as a process exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable, Generator, Sequence

import uvicorn
from fastapi import FastAPI

from watchkeeper.web.authdb import AuthDB

__all__ = ["WebServer", "announce_initial_admin"]

log = logging.getLogger("watchkeeper.web")


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the runner handles signals


class WebServer:
    name = "web"

    def __init__(
        self,
        app: FastAPI,
        host: str = "127.0.0.1",
        port: int = 9750,
        *,
        on_stopped: Sequence[Callable[[], object]] = (),
    ) -> None:
        self.app = app
        #: Called once the server has stopped (the web's database connections).
        self.on_stopped = list(on_stopped)
        self.host = host
        self.port = port
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            server_header=False,
            proxy_headers=False,
            timeout_graceful_shutdown=3,
            lifespan="on",
        )
        self.server = _Server(config)
        self.started = asyncio.Event()

    async def serve(self, stop: asyncio.Event) -> None:
        task = asyncio.create_task(self._run())
        watcher = asyncio.create_task(self._watch_started())
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.server.should_exit = True
            stopper.cancel()
            watcher.cancel()
            try:
                await task
            finally:
                for close in self.on_stopped:
                    try:
                        close()
                    except Exception:  # closing one must not keep the others open
                        log.exception("web: closing a resource failed")

    async def _run(self) -> None:
        try:
            await self.server.serve()
        except SystemExit as exc:  # uvicorn exits when it cannot bind
            raise RuntimeError(
                f"web server could not start on {self.host}:{self.port} (exit {exc.code})"
            ) from None

    async def _watch_started(self) -> None:
        while not self.server.started:
            await asyncio.sleep(0.05)
        log.info("web: listening on http://%s:%d/", self.host, self.port)
        self.started.set()


def announce_initial_admin(db: AuthDB, username: str = "admin") -> str | None:
    """Create the first admin if there are no users; print its password once.

    Printed on the console (stderr), not logged: log files are kept and
    shipped, a console is seen once. Only the hash is stored.
    """
    password = db.ensure_initial_admin(username)
    if password is not None:
        print(
            f"\nwatchkeeper: created the first web user {username!r} (admin) with password\n\n"
            f"    {password}\n\n"
            "It is shown only this once. Change it with `watchkeeper user passwd "
            f"{username}`.\n",
            file=sys.stderr,
            flush=True,
        )
    return password
