"""The server-rendered pages: login, overview, alerts, rules, health, system.

Jinja2 with autoescaping on for every template: alert labels and annotations
come from monitored systems and must only ever reach the page as text.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from watchkeeper._version import __version__
from watchkeeper.links import is_safe_link
from watchkeeper.web.alert_views import AlertItem, collect_alerts
from watchkeeper.web.api import panel_states, present_metrics
from watchkeeper.web.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE, Principal
from watchkeeper.web.authdb import Role
from watchkeeper.web.context import WebContext
from watchkeeper.web.panels import PANELS

__all__ = ["dashboard_router", "templates"]

HERE = Path(__file__).parent
LIFECYCLE_OFF = (
    "Acknowledgements, silences and notifications are off in this process "
    "(notify.enabled: false in watchkeeper.yml)."
)
#: Expired silences stay listed this long.
RECENT_EXPIRED_MS = 86_400_000
STATE_TEXT = {
    "firing": "▲ firing",
    "pending": "◆ pending",
    "ok": "● ok",
    "inactive": "● inactive",
    "n/a": "recording",
    "resolved": "✔ resolved",
}
SILENCE_TEXT = {"active": "⊘ active", "pending": "◆ scheduled", "expired": "○ expired"}
OUTBOX_TEXT = {"pending": "◆ pending", "done": "✔ sent", "dead": "✖ dead letter"}
OUTBOX_CLASS = {"pending": "state-pending", "done": "state-ok", "dead": "state-firing"}
SILENCE_DURATIONS = [
    (900, "15 minutes"),
    (3600, "1 hour"),
    (4 * 3600, "4 hours"),
    (86400, "1 day"),
    (7 * 86400, "7 days"),
]
STATUS_TEXT = {"pass": "● pass", "warn": "◆ warn", "fail": "▲ fail"}
RANGES = [
    (900, "15 minutes"),
    (3600, "1 hour"),
    (6 * 3600, "6 hours"),
    (86400, "24 hours"),
    (7 * 86400, "7 days"),
    (30 * 86400, "30 days"),
]


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static"] = lambda name: f"/static/{name}?v={__version__}"
    env.filters["datetime"] = lambda ts: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
    env.tests["safe_link"] = is_safe_link
    return env


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect would turn the login page into a phishing tool.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def dashboard_router(ctx: WebContext) -> APIRouter:
    env = templates()
    auth = ctx.auth
    router = APIRouter(include_in_schema=False)
    viewer = Depends(auth.require(Role.VIEWER))

    async def render(
        name: str, request: Request, who: Principal | None, **values: Any
    ) -> HTMLResponse:
        firing = 0
        if who is not None:
            items: list[AlertItem] | None = values.get("alerts")
            if items is None:
                items = await run_in_threadpool(collect_alerts, ctx)
            firing = sum(a.state == "firing" for a in items)
        html = env.get_template(name).render(
            user=who.user if who else None,
            csrf=who.csrf if who else "",
            page=request.url.path,
            firing=firing,
            state_text=STATE_TEXT,
            status_text=STATUS_TEXT,
            silence_text=SILENCE_TEXT,
            outbox_text=OUTBOX_TEXT,
            outbox_class=OUTBOX_CLASS,
            silence_durations=SILENCE_DURATIONS,
            **values,
        )
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    @router.get("/login")
    async def login_form(request: Request, next: str = "/") -> Response:
        token = secrets.token_urlsafe(32)
        resp = await render(
            "login.html",
            request,
            None,
            title="Log in",
            login_csrf=token,
            next=_safe_next(next),
            error=None,
            username="",
        )
        _set_cookie(resp, request, ctx, LOGIN_CSRF_COOKIE, token, max_age=3600)
        return resp

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        username = str(form.get("username", ""))[:64]
        password = str(form.get("password", ""))[:1024]
        nxt = _safe_next(str(form.get("next", "/")))
        sent = str(form.get("csrf_token", ""))
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        address = auth.client_address(request)
        keys = (f"addr:{address}", f"user:{username.lower()}")

        async def again(error: str, status: int) -> Response:
            token = secrets.token_urlsafe(32)
            resp = await render(
                "login.html",
                request,
                None,
                title="Log in",
                login_csrf=token,
                next=nxt,
                error=error,
                username=username,
            )
            resp.status_code = status
            _set_cookie(resp, request, ctx, LOGIN_CSRF_COOKIE, token, max_age=3600)
            return resp

        if not expected or not secrets.compare_digest(sent, expected):
            return await again("The form expired; please log in again.", 403)
        wait = auth.limiter.retry_after(*keys)
        if wait > 0:
            auth.db.audit(username or "?", "login.throttled", username, {}, address)
            resp = await again(f"Too many failed logins; try again in {int(wait) + 1} s.", 429)
            resp.headers["Retry-After"] = str(int(wait) + 1)
            return resp
        user = await run_in_threadpool(auth.db.check_password, username, password)
        if user is None:
            auth.limiter.failed(*keys)
            auth.db.audit(username or "?", "login.failed", username, {}, address)
            return await again("Wrong user name or password.", 401)
        auth.limiter.succeeded(*keys)
        sid, _ = auth.db.create_session(user, ctx.config.auth.session_lifetime, address)
        auth.db.audit(user.username, "login", user.username, {}, address)
        resp = RedirectResponse(nxt, status_code=303)
        _set_cookie(
            resp, request, ctx, SESSION_COOKIE, sid, max_age=int(ctx.config.auth.session_lifetime)
        )
        resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return resp

    @router.post("/logout")
    async def logout(request: Request, who: Principal = viewer) -> Response:
        sid = request.cookies.get(SESSION_COOKIE)
        if sid:
            auth.db.end_session(sid)
        auth.audit(request, who, "logout", who.name)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    @router.get("/")
    async def overview(request: Request, who: Principal = viewer) -> Response:
        present = await run_in_threadpool(present_metrics, ctx)
        panels = [
            {
                "id": p.id,
                "title": p.title,
                "section": p.section,
                "unit": p.unit,
                "metric": p.metric,
                "series_json": json.dumps(
                    [{"expr": s.expr, "legend": s.legend, "live": s.live} for s in p.series]
                ),
            }
            for p in PANELS
            if p.metric in present
        ]
        return await render(
            "overview.html",
            request,
            who,
            title="Overview",
            panels=panels,
            states=panel_states(ctx),
            ranges=RANGES,
            live=True,
        )

    @router.get("/alerts")
    async def alerts(request: Request, who: Principal = viewer) -> Response:
        from watchkeeper.web.alerts_api import history_items

        items = await run_in_threadpool(collect_alerts, ctx)
        history = await run_in_threadpool(history_items, ctx, None, 100)
        return await render(
            "alerts.html",
            request,
            who,
            title="Alerts",
            alerts=items,
            history=history,
            can_operate=who.role.allows(Role.OPERATOR),
            rules_enabled=ctx.rules_enabled,
            lifecycle=ctx.alerts is not None,
            lifecycle_reason=LIFECYCLE_OFF,
            live=True,
        )

    @router.get("/rules")
    async def rules(request: Request, who: Principal = viewer) -> Response:
        groups = ctx.board.groups()
        states = {}
        for g in groups:
            for r in g.rules:
                active = {a.state for a in ctx.board.rule_alerts(g.name, r.name)}
                states[f"{g.name}/{r.name}"] = (
                    "n/a"
                    if r.type != "alerting"
                    else "firing"
                    if "firing" in active
                    else "pending"
                    if active
                    else "inactive"
                )
        return await render(
            "rules.html",
            request,
            who,
            title="Rules",
            groups=groups,
            rule_states=states,
            rules_enabled=ctx.rules_enabled,
        )

    @router.get("/health-checks")
    async def health(request: Request, who: Principal = viewer) -> Response:
        report = await ctx.health.report() if ctx.health is not None else None
        return await render(
            "health.html",
            request,
            who,
            title="Health",
            report=report,
            reason="No health checks are configured (health: in watchkeeper.yml).",
        )

    @router.get("/runbooks")
    async def runbooks(request: Request, who: Principal = viewer) -> Response:
        from watchkeeper.web.runbooks import runbooks_html

        return await render(
            "runbooks.html", request, who, title="Runbooks", body=Markup(runbooks_html())
        )

    @router.get("/silences")
    async def silences(request: Request, who: Principal = viewer) -> Response:
        service = ctx.alerts
        if service is None:
            return await render(
                "unavailable.html", request, who, title="Silences", reason=LIFECYCLE_OFF
            )
        found = await run_in_threadpool(lambda: service.list_silences(include_expired=True))
        now = service.clock()
        recent = [s for s in found if s.ends_at_ms > now - RECENT_EXPIRED_MS][:200]
        return await render(
            "silences.html",
            request,
            who,
            title="Silences",
            silences=recent,
            windows=service.maintenance(),
            now_ms=now,
            can_operate=who.role.allows(Role.OPERATOR),
        )

    @router.get("/notifications")
    async def notifications(
        request: Request, who: Principal = viewer, state: str | None = None
    ) -> Response:
        service = ctx.alerts
        if service is None:
            return await render(
                "unavailable.html", request, who, title="Notifications", reason=LIFECYCLE_OFF
            )
        from watchkeeper.notify.outbox import Outbox

        state = state if state in ("pending", "done", "dead") else None
        outbox = Outbox(service.db)

        def load() -> tuple[Any, Any, Any]:
            rows = outbox.rows(state=state, limit=200)
            tried = {r.id: service.attempts(r.id) for r in rows if r.attempts and r.state != "done"}
            return rows, outbox.counts(), tried

        rows, counts, attempts = await run_in_threadpool(load)
        receivers = (
            sorted((n, [c.key for c in chans]) for n, chans in ctx.notifier.receivers.items())
            if ctx.notifier is not None
            else []
        )
        return await render(
            "notifications.html",
            request,
            who,
            title="Notifications",
            rows=rows,
            counts=counts,
            attempts=attempts,
            state=state,
            receivers=receivers,
            can_operate=who.role.allows(Role.OPERATOR),
            is_admin=who.role.allows(Role.ADMIN),
        )

    @router.get("/system")
    async def system(request: Request, who: Principal = viewer) -> Response:
        import platform

        st = await run_in_threadpool(ctx.store.stats)
        uptime = int(time.time() - ctx.started_at)
        facts = [
            ("watchkeeper", __version__),
            ("Python", platform.python_version()),
            ("Platform", platform.platform()),
            ("Uptime", f"{uptime // 86400}d {uptime % 86400 // 3600}h {uptime % 3600 // 60}m"),
            ("Store", st.path),
            ("Store size", f"{st.bytes / 1048576:.1f} MiB"),
            ("Series", f"{st.series:,}"),
            ("Samples", f"{st.samples:,}"),
            ("Live browsers", str(len(ctx.hub.clients))),
        ]
        if ctx.stats is not None:
            facts.append(("Samples written since start", f"{ctx.stats.samples_written:,}"))
        return await render("system.html", request, who, title="System", facts=facts)

    @router.get("/api/docs")
    async def docs(request: Request, who: Principal = viewer) -> Response:
        return await render("docs.html", request, who, title="API", schema=request.app.openapi())

    return router


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _set_cookie(
    resp: Response, request: Request, ctx: WebContext, name: str, value: str, max_age: int
) -> None:
    resp.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=ctx.auth.secure_cookies(request),
    )
