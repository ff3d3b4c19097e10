"""Health endpoints: ``/livez``, ``/readyz``, ``/health`` and ``/health/{component}``.

Bodies follow the IETF health-check draft (``application/health+json``) and
the HTTP status is 200 unless the status is ``fail`` (503). Only the status is
public: the checks' details (observed values, error output) can reveal
internals, so they are shown only when ``details_allowed(request)`` says so;
the web room plugs its authentication in there.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response

from watchkeeper.config.health import HealthConfig
from watchkeeper.health.base import Status
from watchkeeper.health.build import build_health_runner
from watchkeeper.health.runner import HealthReport, HealthRunner

__all__ = ["HEALTH_MEDIA_TYPE", "create_health_app", "health_router"]

HEALTH_MEDIA_TYPE = "application/health+json"
_LIVE = b'{"status":"pass"}'
_HEADERS = {"Cache-Control": "no-store"}


def _deny(_: Request) -> bool:
    return False


def _response(
    report: HealthReport,
    request: Request,
    allowed: Callable[[Request], bool],
    only: str | None = None,
) -> Response:
    status = report.results[only].status if only is not None else report.status
    code = 503 if status is Status.FAIL else 200
    if allowed(request):
        body = json.dumps(report.to_json(details=True, only=only)).encode()
    elif only is None:
        body = report.public_body
    else:
        body = json.dumps({"status": status.value}).encode()
    return Response(body, status_code=code, media_type=HEALTH_MEDIA_TYPE, headers=_HEADERS)


def health_router(
    runner: HealthRunner, details_allowed: Callable[[Request], bool] = _deny
) -> APIRouter:
    """The health routes over ``runner``; ``details_allowed`` gates the check details."""
    router = APIRouter(tags=["health"])

    @router.get("/livez")
    async def livez() -> Response:
        # Alive means the process answers: no dependency is consulted.
        return Response(_LIVE, media_type=HEALTH_MEDIA_TYPE, headers=_HEADERS)

    @router.get("/readyz")
    @router.get("/health")
    async def health(request: Request) -> Response:
        return _response(await runner.report(), request, details_allowed)

    @router.get("/health/{component}")
    async def component(component: str, request: Request) -> Response:
        if component not in runner.checks:
            body = {"status": "fail", "output": f"no health check named {component!r}"}
            return Response(json.dumps(body).encode(), 404, media_type=HEALTH_MEDIA_TYPE)
        return _response(await runner.report(), request, details_allowed, component)

    return router


def create_health_app(
    config: HealthConfig, details_allowed: Callable[[Request], bool] = _deny
) -> FastAPI:
    """A standalone app serving only the health routes (tests, benchmarks, sidecars)."""
    runner = build_health_runner(config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            runner.close()

    app = FastAPI(
        title="watchkeeper health",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.health_runner = runner
    app.include_router(health_router(runner, details_allowed))
    return app
