"""watchkeeper's own API, ``/api/wk/v1``: what the dashboard and scripts use.

Versioned, described by OpenAPI (``/api/openapi.json``, browsable at
``/api/docs``). Reading needs ``viewer``; users, tokens and the audit log
``admin``. Every state change is audited. The alert lifecycle (alerts,
silences, maintenance, notifications, receivers) is in alerts_api.py.
"""

import platform
import re
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from watchkeeper._version import __version__
from watchkeeper.model import NAME_LABEL, Matcher, MatchOp
from watchkeeper.web.auth import Principal
from watchkeeper.web.authdb import AuthError, Role
from watchkeeper.web.context import NotAvailable, WebContext
from watchkeeper.web.panels import PANELS

__all__ = ["api_router", "panel_states", "present_metrics"]

_USERNAME = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[\w.@-]+$")]


class Me(BaseModel):
    username: str
    role: Role
    via: str


class RuleOut(BaseModel):
    group: str
    file: str
    name: str
    type: str
    query: str
    state: Literal["inactive", "pending", "firing", "n/a"]
    health: str
    last_error: str
    last_evaluation: float | None
    duration_s: float
    active: int


class PanelOut(BaseModel):
    id: str
    title: str
    section: str
    unit: str
    metric: str
    state: Literal["ok", "pending", "firing"]
    series: list[dict[str, str]]


class SystemOut(BaseModel):
    version: str
    python: str
    platform: str
    started_at: float
    uptime_s: float
    store_path: str
    store_series: int
    store_samples: int
    store_bytes: int
    oldest_ms: int | None
    newest_ms: int | None
    samples_written: int | None
    live_clients: int
    rules_enabled: bool


class UserOut(BaseModel):
    username: str
    role: Role
    created_at: float


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[\w.@-]+$")
    role: Role = Role.VIEWER
    password: str | None = Field(None, min_length=10, max_length=1024)


class UserCreated(UserOut):
    #: Only when the server generated it: shown this once.
    password: str | None = None


class UserPatch(BaseModel):
    role: Role | None = None
    password: str | None = Field(None, min_length=10, max_length=1024)


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    username: str | None = Field(None, min_length=1, max_length=64)


class TokenOut(BaseModel):
    id: int
    username: str
    name: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None


class TokenCreated(TokenOut):
    token: str


class AuditOut(BaseModel):
    id: int
    at: float
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    address: str


class Unavailable(BaseModel):
    detail: str


COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Unavailable, "description": "Malformed request body"},
    401: {"model": Unavailable, "description": "No or invalid credentials"},
    403: {"model": Unavailable, "description": "Role too low, or CSRF token missing"},
    413: {"model": Unavailable, "description": "Request body too large"},
}


def present_metrics(ctx: WebContext) -> set[str]:
    """Metric names the overview can chart (one cheap store query per panel metric)."""
    names = {p.metric for p in PANELS}
    matcher = Matcher(NAME_LABEL, MatchOp.RE, "|".join(re.escape(n) for n in sorted(names)))
    return {s.name for s in ctx.store.select([matcher])}


def panel_states(ctx: WebContext) -> dict[str, str]:
    """Each panel's worst alert state among the alert rules that read its metric."""
    out: dict[str, str] = {p.id: "ok" for p in PANELS}
    for g in ctx.board.groups():
        for r in g.rules:
            if r.type != "alerting":
                continue
            states = {a.state for a in ctx.board.rule_alerts(g.name, r.name)}
            if not states:
                continue
            state = "firing" if "firing" in states else "pending"
            for p in PANELS:
                if re.search(rf"\b{re.escape(p.metric)}\b", r.query) and out[p.id] != "firing":
                    out[p.id] = state
    return out


def api_router(ctx: WebContext) -> APIRouter:
    auth = ctx.auth
    router = APIRouter(prefix="/api/wk/v1", tags=["watchkeeper"], responses=COMMON_RESPONSES)
    Viewer = Annotated[Principal, Depends(auth.require(Role.VIEWER))]
    Admin = Annotated[Principal, Depends(auth.require(Role.ADMIN))]

    @router.get("/me", response_model=Me)
    async def me(who: Viewer) -> Me:
        return Me(username=who.name, role=who.role, via=who.via)

    # -- rules, health, overview, system -------------------------------------

    @router.get("/rules", response_model=list[RuleOut])
    async def rules(_: Viewer) -> list[RuleOut]:
        out = []
        for g in ctx.board.groups():
            for r in g.rules:
                active = ctx.board.rule_alerts(g.name, r.name)
                states = {a.state for a in active}
                state: Any = "n/a"
                if r.type == "alerting":
                    state = "firing" if "firing" in states else "pending" if states else "inactive"
                out.append(
                    RuleOut(
                        group=g.name,
                        file=g.file,
                        name=r.name,
                        type=r.type,
                        query=r.query,
                        state=state,
                        health=r.health,
                        last_error=r.last_error,
                        last_evaluation=r.last_evaluation,
                        duration_s=r.duration_s,
                        active=len(active),
                    )
                )
        return out

    @router.get("/health", responses={501: {"model": Unavailable}})
    async def health(_: Viewer) -> dict[str, Any]:
        if ctx.health is None:
            raise NotAvailable("no health checks are configured (health: in watchkeeper.yml)")
        report = await ctx.health.report()
        return report.to_json(details=True)

    @router.get("/overview", response_model=list[PanelOut])
    async def overview(_: Viewer) -> list[PanelOut]:
        from starlette.concurrency import run_in_threadpool

        present = await run_in_threadpool(present_metrics, ctx)
        states = panel_states(ctx)
        return [
            PanelOut(
                id=p.id,
                title=p.title,
                section=p.section,
                unit=p.unit,
                metric=p.metric,
                state=states[p.id],
                series=[{"expr": s.expr, "legend": s.legend, "live": s.live} for s in p.series],
            )
            for p in PANELS
            if p.metric in present
        ]

    @router.get("/grafana-dashboard")
    async def grafana(_: Viewer) -> dict[str, Any]:
        """The overview as a Grafana dashboard (JSON to import; it asks for a Prometheus data
        source: watchkeeper's /api/v1 with a token, or a Prometheus scraping it)."""
        from watchkeeper.web.grafana import grafana_dashboard

        return grafana_dashboard()

    @router.get("/system", response_model=SystemOut)
    async def system(_: Viewer) -> SystemOut:
        from starlette.concurrency import run_in_threadpool

        st = await run_in_threadpool(ctx.store.stats)
        return SystemOut(
            version=__version__,
            python=platform.python_version(),
            platform=platform.platform(),
            started_at=ctx.started_at,
            uptime_s=time.time() - ctx.started_at,
            store_path=st.path,
            store_series=st.series,
            store_samples=st.samples,
            store_bytes=st.bytes,
            oldest_ms=st.oldest_ms,
            newest_ms=st.newest_ms,
            samples_written=ctx.stats.samples_written if ctx.stats else None,
            live_clients=len(ctx.hub.clients),
            rules_enabled=ctx.rules_enabled,
        )

    @router.get(
        "/live",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}, 503: {"model": Unavailable}},
    )
    async def live(
        _: Viewer,
        metrics: Annotated[str, Query(max_length=4000, pattern=r"^[a-zA-Z0-9_:,]*$")] = "",
    ) -> StreamingResponse:
        names = [n for n in metrics.split(",") if n]
        client = ctx.hub.subscribe(names)
        if client is None:
            raise HTTPException(503, "too many live clients; try again later")
        return StreamingResponse(
            ctx.hub.stream(client),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    # -- users, tokens, audit (admin) ----------------------------------------

    @router.get("/users", response_model=list[UserOut])
    async def users(_: Admin) -> list[UserOut]:
        return [
            UserOut(username=u.username, role=u.role, created_at=u.created_at)
            for u in ctx.auth.db.users()
        ]

    @router.post(
        "/users",
        response_model=UserCreated,
        status_code=201,
        responses={409: {"model": Unavailable}},
    )
    async def add_user(body: UserIn, request: Request, who: Admin) -> UserCreated:
        from starlette.concurrency import run_in_threadpool

        from watchkeeper.web.passwords import generate_password

        password = body.password or generate_password()
        try:
            user = await run_in_threadpool(ctx.auth.db.add_user, body.username, password, body.role)
        except AuthError as exc:
            raise HTTPException(409, str(exc)) from None
        auth.audit(request, who, "user.add", user.username, {"role": user.role.value})
        return UserCreated(
            username=user.username,
            role=user.role,
            created_at=user.created_at,
            password=None if body.password else password,
        )

    @router.patch(
        "/users/{username}",
        response_model=UserOut,
        responses={404: {"model": Unavailable}, 409: {"model": Unavailable}},
    )
    async def patch_user(
        username: _USERNAME, body: UserPatch, request: Request, who: Admin
    ) -> UserOut:
        from starlette.concurrency import run_in_threadpool

        if ctx.auth.db.user(username) is None:
            raise HTTPException(404, f"no user {username!r}")
        try:
            if body.role is not None:
                ctx.auth.db.set_role(username, body.role)
                auth.audit(request, who, "user.role", username, {"role": body.role.value})
            if body.password is not None:
                await run_in_threadpool(ctx.auth.db.set_password, username, body.password)
                auth.audit(request, who, "user.password", username)
        except AuthError as exc:
            raise HTTPException(409, str(exc)) from None
        user = ctx.auth.db.user(username)
        assert user is not None
        return UserOut(username=user.username, role=user.role, created_at=user.created_at)

    @router.delete(
        "/users/{username}",
        status_code=204,
        responses={404: {"model": Unavailable}, 409: {"model": Unavailable}},
    )
    async def remove_user(username: _USERNAME, request: Request, who: Admin) -> None:
        if ctx.auth.db.user(username) is None:
            raise HTTPException(404, f"no user {username!r}")
        try:
            ctx.auth.db.remove_user(username)
        except AuthError as exc:
            raise HTTPException(409, str(exc)) from None
        auth.audit(request, who, "user.remove", username)

    @router.get("/tokens", response_model=list[TokenOut])
    async def tokens(_: Admin) -> list[TokenOut]:
        return [_token_out(t) for t in ctx.auth.db.tokens()]

    @router.post(
        "/tokens",
        response_model=TokenCreated,
        status_code=201,
        responses={404: {"model": Unavailable}},
    )
    async def create_token(body: TokenIn, request: Request, who: Admin) -> TokenCreated:
        owner = body.username or who.name
        try:
            token = ctx.auth.db.create_token(owner, body.name)
        except AuthError as exc:
            raise HTTPException(404, str(exc)) from None
        info = ctx.auth.db.tokens(owner)[-1]
        auth.audit(request, who, "token.create", f"{owner}/{body.name}", {"id": info.id})
        return TokenCreated(**_token_out(info).model_dump(), token=token)

    @router.delete(
        "/tokens/{token_id}", response_model=TokenOut, responses={404: {"model": Unavailable}}
    )
    async def revoke_token(
        token_id: Annotated[int, Path(ge=1, le=2**62)], request: Request, who: Admin
    ) -> TokenOut:
        try:
            info = ctx.auth.db.revoke_token(token_id)
        except AuthError as exc:
            raise HTTPException(404, str(exc)) from None
        auth.audit(request, who, "token.revoke", f"{info.username}/{info.name}", {"id": token_id})
        return _token_out(info)

    @router.get("/audit", response_model=list[AuditOut])
    async def audit(
        _: Admin,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    ) -> list[AuditOut]:
        return [
            AuditOut(
                id=e.id,
                at=e.at,
                actor=e.actor,
                action=e.action,
                target=e.target,
                detail=e.detail,
                address=e.address,
            )
            for e in ctx.auth.db.audit_log(limit, before)
        ]

    return router


def _token_out(t: Any) -> TokenOut:
    return TokenOut(
        id=t.id,
        username=t.username,
        name=t.name,
        created_at=t.created_at,
        last_used_at=t.last_used_at,
        revoked_at=t.revoked_at,
    )
