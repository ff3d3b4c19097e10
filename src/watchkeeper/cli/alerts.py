"""``watchkeeper alerts|silence|maintenance|notify|outbox``: people's side of alerting.

Every command works on alerts.db directly, so it works while ``watchkeeper
run`` runs in another process (the notifier picks the change up within a
second). Register with ``register(app)`` (adds the five command groups).
"""

from __future__ import annotations

import asyncio
import functools
import getpass
import json
import time
from collections.abc import Callable
from typing import Annotated, ParamSpec, TypeVar

import typer

from watchkeeper.cli.common import ConfigOption, fail, load_or_exit

__all__ = [
    "alerts_app",
    "app",
    "maintenance_app",
    "notify_app",
    "outbox_app",
    "register",
    "silence_app",
]

P = ParamSpec("P")
R = TypeVar("R")

alerts_app = typer.Typer(help="List, show, acknowledge and resolve alerts.", no_args_is_help=True)
silence_app = typer.Typer(help="Add, list and expire silences.", no_args_is_help=True)
maintenance_app = typer.Typer(help="Show the recurring maintenance windows.", no_args_is_help=True)
notify_app = typer.Typer(help="Test receivers.", no_args_is_help=True)
outbox_app = typer.Typer(help="Inspect and retry queued notifications.", no_args_is_help=True)

#: All five groups in one app (``app.add_typer(alerts.app)`` merges them), or use ``register``.
app = typer.Typer(no_args_is_help=True)
GROUPS = {
    "alerts": alerts_app,
    "silence": silence_app,
    "maintenance": maintenance_app,
    "notify": notify_app,
    "outbox": outbox_app,
}
for _name, _sub in GROUPS.items():
    app.add_typer(_sub, name=_name)


def register(parent: typer.Typer) -> None:
    for name, sub in GROUPS.items():
        parent.add_typer(sub, name=name)


By = Annotated[str, typer.Option("--by", help="Who does it (default: your user name).")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _service(config: object):  # type: ignore[no-untyped-def]
    from watchkeeper.alerts.db import AlertsDB, default_alerts_db_path
    from watchkeeper.alerts.service import AlertService

    cfg = load_or_exit(config).config  # type: ignore[arg-type]
    ncfg = cfg.notify
    path = ncfg.database or default_alerts_db_path(cfg.storage.path)
    return AlertService(AlertsDB(path), ncfg), cfg


def _user(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def _when(ms: int | None) -> str:
    if not ms:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))


def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for c in columns:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*r)
    Console().print(table)


def _guard(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn AlertServiceError into a clean message and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from watchkeeper.alerts.service import AlertServiceError

        try:
            return fn(*args, **kwargs)
        except AlertServiceError as exc:
            fail(str(exc))

    return wrapper


# -- alerts ------------------------------------------------------------------------------
@alerts_app.command("list")
@_guard
def alerts_list(
    state: Annotated[
        str, typer.Option("--state", help="active, acknowledged, resolved or all.")
    ] = "active",
    matcher: Annotated[
        list[str] | None,
        typer.Option("--match", "-m", help='Label matcher, e.g. severity="critical".'),
    ] = None,
    as_json: JsonOut = False,
    config: ConfigOption = None,
) -> None:
    """List alerts (firing ones by default)."""
    service, _ = _service(config)
    recs = service.list_alerts(state=state, matchers=matcher or [])
    now = service.clock()
    if as_json:
        print(json.dumps([r.to_dict(now) for r in recs], indent=2))
        return
    rows = []
    for r in recs:
        d = r.to_dict(now)
        labels = ", ".join(f"{k}={v}" for k, v in sorted(d["labels"].items()) if k != "alertname")
        ack = f"{r.ack_by} {_when(r.ack_at_ms)}" if r.acked(now) else ""
        rows.append(
            [
                r.fingerprint,
                d["labels"].get("alertname", ""),
                d["status"],
                labels,
                _when(r.alert.starts_at_ms),
                ack,
            ]
        )
    _table(
        f"{len(rows)} alert(s)", ["fingerprint", "alert", "status", "labels", "since", "ack"], rows
    )


@alerts_app.command("show")
@_guard
def alerts_show(
    fingerprint: Annotated[str, typer.Argument(help="Fingerprint or a unique prefix.")],
    config: ConfigOption = None,
) -> None:
    """An alert with its history of state changes."""
    service, _ = _service(config)
    rec = service.get(fingerprint)
    out = rec.to_dict(service.clock())
    out["history"] = [
        {"at": _when(e.at_ms), "event": e.event, **e.detail}
        for e in service.history(rec.fingerprint)
    ]
    print(json.dumps(out, indent=2, default=str))


@alerts_app.command("ack")
@_guard
def alerts_ack(
    fingerprint: Annotated[str, typer.Argument(help="Fingerprint or a unique prefix.")],
    by: By = "",
    comment: Annotated[str, typer.Option("--comment", help="Why / what is being done.")] = "",
    duration: Annotated[
        str | None, typer.Option("--for", help="Expire the acknowledgement after (e.g. 2h).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Acknowledge: no repeats or escalation until it resolves (or --for passes)."""
    from watchkeeper.config.duration import parse_duration

    service, _ = _service(config)
    try:
        seconds = parse_duration(duration) if duration else None
    except ValueError as exc:
        fail(f"--for: {exc}", 2)
    rec = service.ack(fingerprint, by=_user(by), comment=comment, duration_s=seconds)
    print(f"acknowledged {rec.fingerprint} by {rec.ack_by}")


@alerts_app.command("resolve")
@_guard
def alerts_resolve(
    fingerprint: Annotated[str, typer.Argument(help="Fingerprint or a unique prefix.")],
    by: By = "",
    comment: Annotated[str, typer.Option("--comment")] = "",
    config: ConfigOption = None,
) -> None:
    """Resolve by hand (for alerts that came from outside the rule engine)."""
    service, _ = _service(config)
    rec = service.resolve(fingerprint, by=_user(by), comment=comment)
    print(f"resolved {rec.fingerprint} by {rec.resolved_by}")


# -- silences -----------------------------------------------------------------------------
@silence_app.command("add")
@_guard
def silence_add(
    matchers: Annotated[
        list[str], typer.Argument(help='Matchers, e.g. alertname="HighCPU" env=~"prod.*".')
    ],
    duration: Annotated[str, typer.Option("--duration", "-d", help="How long (e.g. 2h).")] = "1h",
    comment: Annotated[str, typer.Option("--comment", help="Why (required).")] = "",
    by: By = "",
    keep_after_resolve: Annotated[
        bool, typer.Option("--keep-after-resolve", help="Do not end when the alerts resolve.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Silence the alerts matching every MATCHER."""
    from watchkeeper.config.duration import parse_duration

    service, _ = _service(config)
    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        fail(f"--duration: {exc}", 2)
    s = service.add_silence(
        matchers,
        by=_user(by),
        comment=comment,
        duration_s=seconds,
        expire_on_resolve=False if keep_after_resolve else None,
    )
    print(f"silence {s.id} {s.matchers_text()} until {_when(s.ends_at_ms)}")


@silence_app.command("list")
@_guard
def silence_list(
    expired: Annotated[bool, typer.Option("--expired", help="Include expired silences.")] = False,
    as_json: JsonOut = False,
    config: ConfigOption = None,
) -> None:
    service, _ = _service(config)
    now = service.clock()
    silences = service.list_silences(include_expired=expired)
    if as_json:
        print(json.dumps([s.to_dict(now) for s in silences], indent=2))
        return
    rows = [
        [
            s.id,
            s.matchers_text(),
            s.state(now),
            _when(s.starts_at_ms),
            _when(s.ends_at_ms),
            s.created_by,
            s.comment,
            s.expired_reason,
        ]
        for s in silences
    ]
    _table(
        f"{len(rows)} silence(s)",
        ["id", "matchers", "state", "starts", "ends", "by", "comment", "ended because"],
        rows,
    )


@silence_app.command("expire")
@_guard
def silence_expire(
    silence_id: Annotated[str, typer.Argument(help="Silence id or a unique prefix.")],
    by: By = "",
    config: ConfigOption = None,
) -> None:
    service, _ = _service(config)
    s = service.expire_silence(silence_id, by=_user(by))
    print(f"silence {s.id} expired")


# -- maintenance ----------------------------------------------------------------------------
@maintenance_app.command("list")
def maintenance_list(config: ConfigOption = None) -> None:
    """The configured windows and whether each is in effect now."""
    service, _ = _service(config)
    rows = [[w.name, w.describe(), "ACTIVE" if on else ""] for w, on in service.maintenance()]
    _table(f"{len(rows)} maintenance window(s)", ["name", "when", "now"], rows)


# -- notify test -----------------------------------------------------------------------------
@notify_app.command("test")
def notify_test(
    receiver: Annotated[str, typer.Argument(help="A receiver name from notify.receivers.")],
    config: ConfigOption = None,
) -> None:
    """Send a clearly marked test notification through every integration of RECEIVER."""
    from watchkeeper.notify.testsend import send_test

    _, cfg = _service(config)
    try:
        results = asyncio.run(send_test(cfg.notify, receiver))
    except ValueError as exc:
        fail(str(exc), 2)
    failed = 0
    for key, error in results:
        if error:
            failed += 1
            print(f"{key}: FAILED: {error}")
        else:
            print(f"{key}: sent")
    if failed:
        raise typer.Exit(1)


# -- outbox ------------------------------------------------------------------------------------
@outbox_app.command("list")
def outbox_list(
    state: Annotated[
        str | None, typer.Option("--state", help="pending, done or dead (default: all).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 50,
    as_json: JsonOut = False,
    config: ConfigOption = None,
) -> None:
    """Queued, delivered and dead-lettered notifications, newest first."""
    from watchkeeper.notify.outbox import Outbox

    if state not in (None, "pending", "done", "dead"):
        fail("--state: use pending, done or dead", 2)
    service, _ = _service(config)
    rows = Outbox(service.db).rows(state=state, limit=limit)
    if as_json:
        print(json.dumps([r.to_dict() for r in rows], indent=2))
        return
    _table(
        f"{len(rows)} notification(s)",
        ["id", "integration", "group", "status", "alerts", "state", "attempts", "created", "error"],
        [
            [
                str(r.id),
                r.integration,
                r.group_key,
                r.status,
                str(r.alerts),
                r.state,
                str(r.attempts),
                _when(r.created_ms),
                r.last_error,
            ]
            for r in rows
        ],
    )


@outbox_app.command("retry")
def outbox_retry(
    ids: Annotated[
        list[int] | None, typer.Argument(help="Outbox ids (default: every dead letter).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Put dead-lettered notifications back in the queue."""
    from watchkeeper.notify.outbox import Outbox

    service, _ = _service(config)
    n = Outbox(service.db).retry(ids or None, service.clock())
    print(f"{n} notification(s) queued again")
