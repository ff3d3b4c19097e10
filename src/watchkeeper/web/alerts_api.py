"""The alert lifecycle over HTTP: alerts, silences, maintenance, notifications, receivers.

Everything goes through ``AlertService`` and the notify package on alerts.db,
the same store the CLI and the notifier use: an acknowledgement made here
stops the notifier's repeats, one made with ``watchkeeper alerts ack`` shows
here. Reading needs ``viewer``; acknowledging, resolving, silencing, posting
alerts and retrying dead letters ``operator``; sending a test notification
``admin``. Every state change is written to the audit log with the user.

``alertmanager_router`` adds Alertmanager's ``POST /api/v2/alerts`` so tools
that post to Alertmanager can post here; the alerts go to the notifier with
``source="api"`` (and can be resolved by hand, unlike the rule engine's).
"""

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from watchkeeper.alerts.service import AlertServiceError, parse_postable_alerts
from watchkeeper.alerts.silence import Silence
from watchkeeper.web.alert_views import AlertItem, collect_alerts, find_alert
from watchkeeper.web.api import COMMON_RESPONSES, Unavailable
from watchkeeper.web.auth import Principal
from watchkeeper.web.authdb import Role
from watchkeeper.web.context import WebContext

__all__ = ["alert_out", "alertmanager_router", "alerts_router", "history_items"]

_FP = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="Alert fingerprint")]
_SILENCE_ID = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", description="Silence id")]
_RECEIVER = Annotated[str, Path(min_length=1, max_length=100, description="Receiver name")]
_MATCHER = Annotated[str, Field(min_length=1, max_length=1000)]
#: Longest test send we wait for (each channel has its own, shorter, timeout).
TEST_TIMEOUT_S = 60.0
MAX_POSTED_ALERTS = 10_000

_E404: dict[int | str, dict[str, Any]] = {404: {"model": Unavailable}}
_E409: dict[int | str, dict[str, Any]] = {409: {"model": Unavailable}}
_E501: dict[int | str, dict[str, Any]] = {
    501: {"model": Unavailable, "description": "Notifications are off in this process"}
}


# -- models ------------------------------------------------------------------------------


class AckOut(BaseModel):
    by: str
    at: float | None
    comment: str
    #: The acknowledgement ends then (None: when the alert resolves).
    until: float | None


class AlertOut(BaseModel):
    fingerprint: str
    name: str
    state: Literal["pending", "firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str]
    active_at: float
    ends_at: float | None
    value: float | None
    group: str
    #: ``rules`` (this rule engine), ``api`` (posted to /api/v2/alerts), ``watchkeeper``.
    source: str
    acknowledged: AckOut | None = None
    resolved_by: str | None = None
    #: Ids of the active silences that mute it.
    silenced_by: list[str]
    #: Names of the open maintenance windows that mute it.
    maintenance: list[str]
    can_acknowledge: bool
    can_resolve: bool


class AckIn(BaseModel):
    comment: str = Field("", max_length=1000)
    #: Seconds; None: until the alert resolves.
    duration_s: float | None = Field(None, gt=0, le=365 * 86400)


class ResolveIn(BaseModel):
    comment: str = Field("", max_length=1000)


class HistoryOut(BaseModel):
    at: float
    fingerprint: str
    name: str
    #: firing, resolved, acknowledged, unacknowledged (pending too without alerts.db).
    event: str
    by: str | None
    detail: dict[str, Any]


class SilenceIn(BaseModel):
    matchers: list[_MATCHER] = Field(min_length=1, max_length=50)
    comment: str = Field(min_length=1, max_length=1000)
    #: Unix seconds; default now.
    starts_at: float | None = Field(None, ge=0, le=2**34)
    #: Give ``ends_at`` (Unix seconds) or ``duration_s``.
    ends_at: float | None = Field(None, ge=0, le=2**34)
    duration_s: float | None = Field(None, gt=0, le=10 * 365 * 86400)
    #: End by itself once the alerts it matched have resolved (default from config).
    expire_on_resolve: bool | None = None


class SilenceOut(BaseModel):
    id: str
    matchers: list[str]
    starts_at: float
    ends_at: float
    created_by: str
    created_at: float
    comment: str
    state: Literal["pending", "active", "expired"]
    expire_on_resolve: bool
    expired_reason: str
    last_matched_at: float | None


class MaintenanceOut(BaseModel):
    name: str
    schedule: str
    weekdays: list[str]
    start: str
    end: str
    time_zone: str
    matchers: list[str]
    active: bool


class OutboxOut(BaseModel):
    id: int
    integration: str
    group_key: str
    kind: str
    #: pending, done or dead (dead letters can be retried).
    state: str
    #: firing or resolved: the notification's status.
    status: str
    alerts: int
    attempts: int
    created_at: float
    next_attempt_at: float | None
    done_at: float | None
    last_error: str


class NotificationsOut(BaseModel):
    counts: dict[str, int]
    items: list[OutboxOut]


class AttemptOut(BaseModel):
    at: float
    integration: str
    ok: bool
    error: str
    latency_ms: float


class RetryIn(BaseModel):
    #: Outbox ids; omitted or null: every dead letter.
    ids: list[Annotated[int, Field(ge=1, le=2**62)]] | None = Field(None, max_length=10_000)


class RetryOut(BaseModel):
    requeued: int


class ReceiverOut(BaseModel):
    name: str
    integrations: list[str]


class TestResultOut(BaseModel):
    integration: str
    ok: bool
    error: str | None


class PostableAlert(BaseModel):
    """Alertmanager's ``postableAlert`` (API v2)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime | None = Field(None, alias="startsAt")
    ends_at: datetime | None = Field(None, alias="endsAt")
    generator_url: str = Field("", alias="generatorURL", max_length=4000)


class AlertsPosted(BaseModel):
    received: int


# -- conversions ---------------------------------------------------------------------------


def alert_out(a: AlertItem) -> AlertOut:
    return AlertOut(
        fingerprint=a.fingerprint,
        name=a.name,
        state=a.state,
        labels=dict(a.labels),
        annotations=dict(a.annotations),
        active_at=a.active_at,
        ends_at=a.ends_at,
        value=a.value,
        group=a.group,
        source=a.source,
        acknowledged=AckOut(by=a.ack_by, at=a.ack_at, comment=a.ack_comment, until=a.ack_until)
        if a.ack_by is not None
        else None,
        resolved_by=a.resolved_by,
        silenced_by=list(a.silenced_by),
        maintenance=list(a.maintenance),
        can_acknowledge=a.can_ack,
        can_resolve=a.can_resolve,
    )


def silence_out(s: Silence, now_ms: int) -> SilenceOut:
    return SilenceOut(
        id=s.id,
        matchers=[str(m) for m in s.matchers],
        starts_at=s.starts_at_ms / 1000,
        ends_at=s.ends_at_ms / 1000,
        created_by=s.created_by,
        created_at=s.created_at_ms / 1000,
        comment=s.comment,
        state=s.state(now_ms),
        expire_on_resolve=s.expire_on_resolve,
        expired_reason=s.expired_reason,
        last_matched_at=s.last_matched_ms / 1000 if s.last_matched_ms else None,
    )


def _refused(exc: AlertServiceError, status: int = 409) -> HTTPException:
    text = str(exc)
    if text.startswith(("no alert", "no single silence")):
        return HTTPException(404, text)
    return HTTPException(status, text)


def _iso(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.isoformat()


# -- /api/wk/v1 ------------------------------------------------------------------------------


def alerts_router(ctx: WebContext) -> APIRouter:
    auth = ctx.auth
    router = APIRouter(prefix="/api/wk/v1", tags=["alerts"], responses=COMMON_RESPONSES)
    Viewer = Annotated[Principal, Depends(auth.require(Role.VIEWER))]
    Operator = Annotated[Principal, Depends(auth.require(Role.OPERATOR))]
    Admin = Annotated[Principal, Depends(auth.require(Role.ADMIN))]

    def changed(action: str, target: str) -> None:
        """Tell open pages (SSE) that an alert or silence changed."""
        ctx.hub.notify("alerts", {"changes": [], "action": action, "target": target})

    async def item(fp: str) -> AlertItem:
        found = await run_in_threadpool(find_alert, ctx, fp)
        if found is None:
            raise HTTPException(404, f"no alert {fp}")
        return found

    # -- alerts ------------------------------------------------------------------------

    @router.get("/alerts", response_model=list[AlertOut])
    async def alerts(
        _: Viewer,
        state: Literal["active", "acknowledged", "resolved", "all"] = "active",
        limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    ) -> list[AlertOut]:
        """Active alerts (pending and firing) by default, firing first."""
        items = await run_in_threadpool(collect_alerts, ctx, state, limit)
        return [alert_out(a) for a in items]

    @router.get("/alerts/history", response_model=list[HistoryOut])
    async def history(
        _: Viewer, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[HistoryOut]:
        """Every state change of every alert, newest first (alerts.db)."""
        return await run_in_threadpool(history_items, ctx, None, limit)

    @router.get("/alerts/{fingerprint}", response_model=AlertOut, responses=_E404)
    async def alert(fingerprint: _FP, _: Viewer) -> AlertOut:
        return alert_out(await item(fingerprint))

    @router.get(
        "/alerts/{fingerprint}/history",
        response_model=list[HistoryOut],
        responses={**_E404, **_E501},
    )
    async def alert_history(
        fingerprint: _FP, _: Viewer, limit: Annotated[int, Query(ge=1, le=1000)] = 200
    ) -> list[HistoryOut]:
        ctx.alert_service()
        await item(fingerprint)
        return await run_in_threadpool(history_items, ctx, fingerprint, limit)

    @router.post(
        "/alerts/{fingerprint}/ack",
        response_model=AlertOut,
        responses={**_E404, **_E409, **_E501},
    )
    async def acknowledge(
        fingerprint: _FP,
        request: Request,
        who: Operator,
        body: Annotated[AckIn | None, Body()] = None,
    ) -> AlertOut:
        """Stop repeats and escalation until it resolves (or ``duration_s`` passes)."""
        service = ctx.alert_service()
        found = await item(fingerprint)
        if found.state == "pending":
            raise HTTPException(
                409, f"alert {fingerprint} is pending; it can be acknowledged once it fires"
            )
        body = body or AckIn()
        try:
            await run_in_threadpool(
                lambda: service.ack(
                    fingerprint, by=who.name, comment=body.comment, duration_s=body.duration_s
                )
            )
        except AlertServiceError as exc:
            raise _refused(exc) from None
        auth.audit(
            request,
            who,
            "alert.acknowledge",
            fingerprint,
            {"alertname": found.name, "comment": body.comment, "duration_s": body.duration_s},
        )
        changed("acknowledge", fingerprint)
        return alert_out(await item(fingerprint))

    @router.delete(
        "/alerts/{fingerprint}/ack", status_code=204, responses={**_E404, **_E409, **_E501}
    )
    async def unacknowledge(fingerprint: _FP, request: Request, who: Operator) -> None:
        service = ctx.alert_service()
        found = await item(fingerprint)
        if not found.acknowledged:
            raise HTTPException(409, f"alert {fingerprint} is not acknowledged")
        try:
            await run_in_threadpool(lambda: service.unack(fingerprint, by=who.name))
        except AlertServiceError as exc:
            raise _refused(exc) from None
        auth.audit(request, who, "alert.unacknowledge", fingerprint, {"alertname": found.name})
        changed("unacknowledge", fingerprint)

    @router.post(
        "/alerts/{fingerprint}/resolve",
        response_model=AlertOut,
        responses={**_E404, **_E409, **_E501},
    )
    async def resolve(
        fingerprint: _FP,
        request: Request,
        who: Operator,
        body: Annotated[ResolveIn | None, Body()] = None,
    ) -> AlertOut:
        """Resolve an alert posted from outside the rule engine (those never resolve alone)."""
        service = ctx.alert_service()
        found = await item(fingerprint)
        if found.state == "pending" or not found.tracked:
            raise HTTPException(409, f"alert {fingerprint} is {found.state}; nothing to resolve")
        if found.state == "firing" and not found.can_resolve:
            raise HTTPException(
                409,
                f"alert {fingerprint} comes from {found.source!r}, which resolves it by itself "
                "when its condition clears; acknowledge or silence it instead",
            )
        comment = body.comment if body else ""
        try:
            await run_in_threadpool(
                lambda: service.resolve(fingerprint, by=who.name, comment=comment)
            )
        except AlertServiceError as exc:
            raise _refused(exc) from None
        auth.audit(
            request,
            who,
            "alert.resolve",
            fingerprint,
            {"alertname": found.name, "comment": comment},
        )
        changed("resolve", fingerprint)
        return alert_out(await item(fingerprint))

    # -- silences and maintenance windows ----------------------------------------------

    @router.get("/silences", response_model=list[SilenceOut], responses=_E501)
    async def silences(_: Viewer, expired: bool = False) -> list[SilenceOut]:
        """Running and future silences (and expired ones with ``expired=true``)."""
        service = ctx.alert_service()
        found = await run_in_threadpool(lambda: service.list_silences(include_expired=expired))
        now = service.clock()
        return [silence_out(s, now) for s in found]

    @router.post(
        "/silences",
        response_model=SilenceOut,
        status_code=201,
        responses={400: {"model": Unavailable}, **_E501},
    )
    async def create_silence(body: SilenceIn, request: Request, who: Operator) -> SilenceOut:
        """Mute alerts matching every matcher (``severity="critical"``, ``instance=~"db-.*"``)."""
        service = ctx.alert_service()
        now = service.clock()
        start_ms = round(body.starts_at * 1000) if body.starts_at is not None else now
        if body.ends_at is not None and body.duration_s is not None:
            raise HTTPException(400, "give ends_at or duration_s, not both")
        if body.ends_at is not None:
            duration = body.ends_at - start_ms / 1000
        elif body.duration_s is not None:
            duration = body.duration_s
        else:
            raise HTTPException(400, "give ends_at or duration_s")
        if start_ms / 1000 + duration <= now / 1000:
            raise HTTPException(400, "the silence would end in the past")
        try:
            s = await run_in_threadpool(
                lambda: service.add_silence(
                    body.matchers,
                    by=who.name,
                    comment=body.comment,
                    duration_s=duration,
                    starts_at_ms=start_ms,
                    expire_on_resolve=body.expire_on_resolve,
                )
            )
        except AlertServiceError as exc:
            raise _refused(exc, 400) from None
        auth.audit(
            request,
            who,
            "silence.create",
            s.id,
            {
                "matchers": [str(m) for m in s.matchers],
                "starts_at": s.starts_at_ms / 1000,
                "ends_at": s.ends_at_ms / 1000,
                "comment": s.comment,
            },
        )
        changed("silence", s.id)
        return silence_out(s, service.clock())

    @router.delete(
        "/silences/{silence_id}",
        response_model=SilenceOut,
        responses={**_E404, **_E409, **_E501},
    )
    async def expire_silence(
        silence_id: _SILENCE_ID, request: Request, who: Operator
    ) -> SilenceOut:
        service = ctx.alert_service()
        try:
            s = await run_in_threadpool(lambda: service.expire_silence(silence_id, by=who.name))
        except AlertServiceError as exc:
            raise _refused(exc) from None
        auth.audit(request, who, "silence.expire", s.id, {"matchers": [str(m) for m in s.matchers]})
        changed("expire", s.id)
        return silence_out(s, service.clock())

    @router.get("/maintenance", response_model=list[MaintenanceOut], responses=_E501)
    async def maintenance(_: Viewer) -> list[MaintenanceOut]:
        """The recurring maintenance windows from the configuration, and which are open now."""
        service = ctx.alert_service()
        by_name = {w.name: w for w in service.config.maintenance}
        out = []
        for window, active in service.maintenance():
            cfg = by_name[window.name]
            out.append(
                MaintenanceOut(
                    name=window.name,
                    schedule=window.describe(),
                    weekdays=list(cfg.weekdays),
                    start=cfg.start,
                    end=cfg.end,
                    time_zone=cfg.time_zone,
                    matchers=[str(m) for m in window.matchers],
                    active=active,
                )
            )
        return out

    # -- notifications: the outbox and its attempts ------------------------------------

    @router.get("/notifications", response_model=NotificationsOut, responses=_E501)
    async def notifications(
        _: Viewer,
        state: Literal["pending", "done", "dead"] | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> NotificationsOut:
        """The durable outbox, newest first: what was sent, what waits, what was dead-lettered."""
        service = ctx.alert_service()
        from watchkeeper.notify.outbox import Outbox

        outbox = Outbox(service.db)
        rows, counts = await run_in_threadpool(
            lambda: (outbox.rows(state=state, limit=limit), outbox.counts())
        )
        return NotificationsOut(counts=counts, items=[outbox_out(r) for r in rows])

    @router.get(
        "/notifications/{outbox_id}/attempts",
        response_model=list[AttemptOut],
        responses=_E501,
    )
    async def attempts(
        outbox_id: Annotated[int, Path(ge=1, le=2**62)], _: Viewer
    ) -> list[AttemptOut]:
        """Every delivery attempt of one notification: result, error, latency."""
        service = ctx.alert_service()
        rows = await run_in_threadpool(service.attempts, outbox_id)
        return [
            AttemptOut(
                at=r["at"] / 1000,
                integration=r["integration"],
                ok=bool(r["ok"]),
                error=r["error"],
                latency_ms=r["latency_ms"],
            )
            for r in rows
        ]

    @router.post("/notifications/retry", response_model=RetryOut, responses=_E501)
    async def retry(
        request: Request, who: Operator, body: Annotated[RetryIn | None, Body()] = None
    ) -> RetryOut:
        """Put dead letters back in the queue (all of them when ``ids`` is omitted)."""
        service = ctx.alert_service()
        from watchkeeper.notify.outbox import Outbox

        ids = body.ids if body is not None else None
        n = await run_in_threadpool(lambda: Outbox(service.db).retry(ids, service.clock()))
        auth.audit(request, who, "outbox.retry", "dead letters", {"ids": ids, "requeued": n})
        return RetryOut(requeued=n)

    # -- receivers ----------------------------------------------------------------------

    @router.get("/receivers", response_model=list[ReceiverOut], responses=_E501)
    async def receivers(_: Viewer) -> list[ReceiverOut]:
        """Configured receivers and their integrations (``<receiver>/<type>/<n>``)."""
        notifier = ctx.running_notifier()
        return [
            ReceiverOut(name=name, integrations=[c.key for c in chans])
            for name, chans in sorted(notifier.receivers.items())
        ]

    @router.post(
        "/receivers/{name}/test",
        response_model=list[TestResultOut],
        responses={**_E404, **_E501, 504: {"model": Unavailable}},
    )
    async def receiver_test(name: _RECEIVER, request: Request, who: Admin) -> list[TestResultOut]:
        """Send a clearly marked test notification through every integration of ``name``."""
        service = ctx.alert_service()
        if ctx.notifier is not None and name not in ctx.notifier.receivers:
            raise HTTPException(404, f"no receiver {name!r}")
        from watchkeeper.notify.testsend import send_test

        try:
            results = await asyncio.wait_for(send_test(service.config, name), TEST_TIMEOUT_S)
        except ValueError as exc:
            raise HTTPException(404, str(exc)) from None
        except TimeoutError:
            raise HTTPException(
                504, f"the test to {name!r} took over {TEST_TIMEOUT_S:g}s"
            ) from None
        out = [TestResultOut(integration=k, ok=err is None, error=err) for k, err in results]
        auth.audit(
            request,
            who,
            "receiver.test",
            name,
            {"results": {r.integration: r.error or "ok" for r in out}},
        )
        return out

    return router


def outbox_out(r: Any) -> OutboxOut:
    return OutboxOut(
        id=r.id,
        integration=r.integration,
        group_key=r.group_key,
        kind=r.kind,
        state=r.state,
        status=r.status,
        alerts=r.alerts,
        attempts=r.attempts,
        created_at=r.created_ms / 1000,
        next_attempt_at=r.next_attempt_ms / 1000 if r.state == "pending" else None,
        done_at=r.done_ms / 1000 if r.done_ms else None,
        last_error=r.last_error,
    )


def history_items(ctx: WebContext, fp: str | None, limit: int) -> list[HistoryOut]:
    """alerts.db's history; without it, the rule board's recent changes."""
    service = ctx.alerts
    if service is None:
        changes = list(ctx.board.history)[-limit:][::-1]
        return [
            HistoryOut(
                at=c.at,
                fingerprint=c.fingerprint,
                name=c.name,
                event=c.new or "resolved",
                by=None,
                detail={"from": c.old, "labels": dict(c.labels)},
            )
            for c in changes
            if fp is None or c.fingerprint == fp
        ]
    events = service.history(fp, limit=limit)
    names: dict[str, str] = {}
    out = []
    for e in events:
        name = (e.detail.get("labels") or {}).get("alertname") if e.detail else None
        if name is None:
            if e.fingerprint not in names:
                rec = service.db.get_alert(e.fingerprint)
                names[e.fingerprint] = rec.alert.alertname if rec else ""
            name = names[e.fingerprint]
        by = e.detail.get("by")
        out.append(
            HistoryOut(
                at=e.at_ms / 1000,
                fingerprint=e.fingerprint,
                name=str(name),
                event=e.event,
                by=str(by) if by is not None else None,
                detail=e.detail,
            )
        )
    return out


# -- /api/v2: Alertmanager-compatible ingestion ------------------------------------------------


def alertmanager_router(ctx: WebContext) -> APIRouter:
    auth = ctx.auth
    router = APIRouter(prefix="/api/v2", tags=["alertmanager"], responses=COMMON_RESPONSES)
    Operator = Annotated[Principal, Depends(auth.require(Role.OPERATOR))]

    @router.post(
        "/alerts",
        response_model=AlertsPosted,
        responses={400: {"model": Unavailable}, **_E501},
    )
    async def post_alerts(
        alerts: Annotated[list[PostableAlert], Body(max_length=MAX_POSTED_ALERTS)],
        request: Request,
        who: Operator,
    ) -> AlertsPosted:
        """Alertmanager's ``POST /api/v2/alerts``: alerts from outside the rule engine.

        An alert without ``endsAt`` resolves unless posted again within 5
        minutes (Alertmanager's resolve timeout); post it with ``endsAt`` in
        the past, or resolve it by hand, to resolve it at once.
        """
        notifier = ctx.running_notifier()
        raw = [
            {
                "labels": a.labels,
                "annotations": a.annotations,
                **({"startsAt": _iso(a.starts_at)} if a.starts_at else {}),
                **({"endsAt": _iso(a.ends_at)} if a.ends_at else {}),
                **({"generatorURL": a.generator_url} if a.generator_url else {}),
            }
            for a in alerts
        ]
        try:
            parsed = parse_postable_alerts(raw)
        except AlertServiceError as exc:
            raise HTTPException(400, str(exc)) from None
        notifier.receive(parsed, source="api")
        names = sorted({a.alertname for a in parsed})
        auth.audit(
            request,
            who,
            "alerts.post",
            ",".join(names[:10]),
            {"count": len(parsed), "fingerprints": [a.fingerprint for a in parsed[:50]]},
        )
        return AlertsPosted(received=len(parsed))

    return router
