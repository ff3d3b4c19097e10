"""Small Flask, FastAPI and Starlette apps written to a directory, to run under real servers.

Each is instrumented the documented way and serves its own ``/metrics``
(token ``scrape-token``). ``/rendezvous/<n>`` answers only when ``n``
requests are inside it at once (a file per arrival in ``$RENDEZVOUS_DIR``):
two of them in flight on two sync workers prove both workers counted.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

FLASK_APP = """
import os
import time
from pathlib import Path

from flask import Flask, Response, abort

from watchkeeper.contrib.flask import instrument

app = Flask(__name__)


class PaymentDeclined(Exception):
    pass


@app.get("/items/<int:pk>")
def item(pk):
    return {"pk": pk}


@app.post("/orders/<string:ref>/pay")
def pay(ref):
    raise PaymentDeclined(ref)


@app.get("/forbidden")
def forbidden():
    abort(403)


@app.get("/slow")
def slow():
    time.sleep(0.25)
    return "slow"


@app.get("/stream")
def stream():
    def chunks():
        for i in range(5):
            yield b"0123456789"
    return Response(chunks(), mimetype="text/plain")


@app.get("/rendezvous/<int:n>")
def rendezvous(n):
    directory = Path(os.environ["RENDEZVOUS_DIR"])
    (directory / f"{os.getpid()}-{time.monotonic_ns()}").touch()
    deadline = time.monotonic() + 10
    while len(list(directory.iterdir())) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    return str(os.getpid())


@app.get("/healthz")
def healthz():
    return "ok"


instrument(
    app,
    metrics_path="/metrics",
    metrics_tokens=["scrape-token"],
    slow_threshold=0.2,
    exclude_paths=["/healthz"],
)
"""

FASTAPI_APP = """
import asyncio

from fastapi import APIRouter, FastAPI
from fastapi.responses import StreamingResponse
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from watchkeeper.contrib.starlette import instrument

app = FastAPI()
api = APIRouter(prefix="/api")


class PaymentDeclined(Exception):
    pass


@api.get("/items/{item_id}")
async def item(item_id: int):
    await asyncio.sleep(0)
    return {"id": item_id}


@api.post("/orders/{ref}/pay")
async def pay(ref: str):
    raise PaymentDeclined(ref)


@app.get("/slow")
async def slow():
    await asyncio.sleep(0.25)
    return {"slow": True}


@app.get("/stream")
async def stream():
    async def chunks():
        for i in range(5):
            await asyncio.sleep(0)
            yield b"0123456789"
    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/healthz")
async def healthz():
    return "ok"


async def legacy_user(request):
    return PlainTextResponse(request.path_params["name"])


app.include_router(api)
app.mount("/legacy", Starlette(routes=[Route("/users/{name}", legacy_user)]))
instrument(
    app,
    metrics_path="/metrics",
    metrics_tokens=["scrape-token"],
    slow_threshold=0.2,
    exclude_paths=["/healthz"],
)
"""

STARLETTE_APP = """
import asyncio

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route

from watchkeeper.contrib.asgi import WatchkeeperASGIMiddleware


class PaymentDeclined(Exception):
    pass


async def item(request):
    return JSONResponse({"id": request.path_params["item_id"]})


async def pay(request):
    raise PaymentDeclined(request.path_params["ref"])


async def slow(request):
    await asyncio.sleep(0.25)
    return PlainTextResponse("slow")


async def stream(request):
    async def chunks():
        for i in range(5):
            yield b"0123456789"
    return StreamingResponse(chunks(), media_type="text/plain")


async def healthz(request):
    return PlainTextResponse("ok")


async def legacy_user(request):
    return PlainTextResponse(request.path_params["name"])


app = Starlette(
    routes=[
        Route("/api/items/{item_id:int}", item),
        Route("/api/orders/{ref}/pay", pay, methods=["POST"]),
        Route("/slow", slow),
        Route("/stream", stream),
        Route("/healthz", healthz),
        Mount("/legacy", routes=[Route("/users/{name}", legacy_user)]),
    ],
    middleware=[
        Middleware(
            WatchkeeperASGIMiddleware,
            metrics_path="/metrics",
            metrics_tokens=["scrape-token"],
            slow_threshold=0.2,
            exclude_paths=["/healthz"],
        )
    ],
)
"""


def write_apps(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in {
        "flask_app.py": FLASK_APP,
        "fastapi_app.py": FASTAPI_APP,
        "starlette_app.py": STARLETTE_APP,
    }.items():
        (root / name).write_text(textwrap.dedent(text))
    return root
