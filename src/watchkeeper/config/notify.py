"""The ``notify:`` section: receivers, the route tree, inhibition, maintenance, delivery.

Shaped after Alertmanager's configuration so that a route tree or receiver
copied from alertmanager.yml reads the same here, plus what watchkeeper adds
(per-route ``send_resolved``, escalation, recurring maintenance windows with a
time zone, silence limits, the durable outbox's retry budget). Secrets are
``SecretStr`` so they never appear in logs, ``repr`` or error messages; write
them as ``${ENV_VAR}`` in watchkeeper.yml.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from datetime import time as dtime
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from watchkeeper.config.base import PositiveDuration, StrictModel, field_error, require_unique
from watchkeeper.config.duration import Duration, format_duration
from watchkeeper.config.headers import MailHeaders

__all__ = [
    "AlertmanagerTarget",
    "AppriseTarget",
    "CommandTarget",
    "DeliveryConfig",
    "EmailTarget",
    "EscalationStep",
    "HeartbeatConfig",
    "InhibitRuleConfig",
    "MaintenanceWindowConfig",
    "NotifyConfig",
    "PagerDutyTarget",
    "ReceiverConfig",
    "ReportConfig",
    "RouteConfig",
    "SilenceLimits",
    "SlackTarget",
    "WebhookTarget",
    "parse_matcher",
]

_MATCHER = re.compile(
    r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|(.*?))\s*$'
)


def parse_matcher(text: str) -> tuple[str, str, str]:
    """``severity="critical"`` / ``env=~prod.*`` -> (name, op, value); or ValueError."""
    m = _MATCHER.match(text)
    if not m:
        raise ValueError(
            f"invalid matcher {text!r}: expected name=value, name!=value, "
            "name=~regex or name!~regex"
        )
    name, op, quoted, bare = m.groups()
    value = quoted.encode().decode("unicode_escape") if quoted is not None else (bare or "")
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression in matcher {text!r}: {exc}") from None
    return name, op, value


def _matchers(values: list[str]) -> list[str]:
    for v in values:
        parse_matcher(v)
    return values


#: A list of Alertmanager-style matchers such as ``severity="critical"``.
Matchers = Annotated[list[str], AfterValidator(_matchers)]


class _Target(StrictModel):
    """What every integration has."""

    #: Send a notification when the alerts of a group resolve (overridable per route).
    send_resolved: bool = True
    #: Notifications per second to this integration at most (0: no limit).
    rate_limit: float = Field(0.0, ge=0)


class EmailTarget(_Target):
    to: list[str] = Field(min_length=1)
    from_: str = Field("watchkeeper@localhost", alias="from")
    smarthost: str = "localhost:25"
    #: ``starttls``: upgrade a plain connection; ``ssl``: TLS from the start (port 465).
    tls: Literal["none", "starttls", "ssl"] = "none"
    #: Check the server's certificate chain and host name (``starttls``/``ssl``).
    verify_tls: bool = True
    #: A CA bundle to verify the server against instead of the system store.
    ca_file: Path | None = None
    username: str | None = None
    password: SecretStr | None = None
    #: Extra headers, or a fixed ``Subject``; values are secret (they may hold tokens).
    headers: MailHeaders = Field(default_factory=dict)
    #: A directory holding ``email.html.j2`` / ``email.txt.j2`` / ``subject.j2`` overrides.
    template_dir: Path | None = None
    timeout: PositiveDuration = 10.0

    @field_validator("smarthost")
    @classmethod
    def _host_port(cls, value: str) -> str:
        split_host_port(value)
        return value

    @field_validator("ca_file")
    @classmethod
    def _ca_bundle(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        path = value.expanduser()
        try:  # what the channel will do: a bad bundle is refused now, not at each send
            ssl.create_default_context(cafile=str(path))
        except (OSError, ssl.SSLError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ValueError(f"expected a readable CA bundle in PEM ({reason})") from None
        return path

    @model_validator(mode="after")
    def _no_clear_text_password(self) -> EmailTarget:
        # Secure by default: a login over a plain connection sends the
        # password as it is, readable by anyone on the path to a remote relay.
        host, _ = split_host_port(self.smarthost)
        if self.username and self.tls == "none" and not _is_loopback(host):
            raise field_error(
                "username",
                f"with tls: none the password would cross the network to {host!r} in clear "
                "text: set tls: starttls (port 587) or tls: ssl (port 465)",
            )
        return self


def split_host_port(value: str) -> tuple[str, int]:
    """``host:port`` or ``[v6 address]:port`` as (host without brackets, port)."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {value!r}")
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"the port must be between 1 and 65535, got {value!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


#: Names that mean this machine whatever the resolver says.
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def _is_loopback(host: str) -> bool:
    name = host.casefold().rstrip(".")
    if name in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


class SlackTarget(_Target):
    #: The incoming-webhook URL (a secret: write it as ${SLACK_WEBHOOK_URL}).
    api_url: SecretStr
    channel: str | None = None
    username: str = "watchkeeper"
    timeout: PositiveDuration = 10.0


class WebhookTarget(_Target):
    url: SecretStr
    #: When set, an ``X-Watchkeeper-Signature: sha256=<hex>`` HMAC of the body is sent.
    hmac_secret: SecretStr | None = None
    #: Alerts per message at most (0: all); the rest are counted in ``truncatedAlerts``.
    max_alerts: int = Field(0, ge=0)
    timeout: PositiveDuration = 10.0


class PagerDutyTarget(_Target):
    routing_key: SecretStr
    url: str = "https://events.pagerduty.com/v2/enqueue"
    severity: str = "{{ common_labels.severity or 'error' }}"
    timeout: PositiveDuration = 10.0


class AlertmanagerTarget(_Target):
    #: Alertmanager's base URL, e.g. ``http://alertmanager:9093`` (may hold
    #: ``user:password@``, so it is kept secret in logs and errors).
    url: SecretStr
    timeout: PositiveDuration = 10.0


class CommandTarget(_Target):
    #: Program and arguments (not a shell line); the notification is JSON on stdin.
    command: list[str] = Field(min_length=1)
    timeout: PositiveDuration = 30.0


class AppriseTarget(_Target):
    #: Apprise URLs (``tgram://...``, ``msteams://...``); needs the ``apprise`` extra.
    urls: list[SecretStr] = Field(min_length=1)


class ReceiverConfig(StrictModel):
    name: str = Field(min_length=1)
    email_configs: list[EmailTarget] = Field(default_factory=list)
    slack_configs: list[SlackTarget] = Field(default_factory=list)
    webhook_configs: list[WebhookTarget] = Field(default_factory=list)
    pagerduty_configs: list[PagerDutyTarget] = Field(default_factory=list)
    alertmanager_configs: list[AlertmanagerTarget] = Field(default_factory=list)
    command_configs: list[CommandTarget] = Field(default_factory=list)
    apprise_configs: list[AppriseTarget] = Field(default_factory=list)
    #: Log the notification (the default receiver has only this).
    console: bool = False


class EscalationStep(StrictModel):
    """Notify ``receiver`` when an alert is still firing and unacknowledged ``after`` this long."""

    after: PositiveDuration
    receiver: str


class RouteConfig(StrictModel):
    receiver: str | None = None
    matchers: Matchers = Field(default_factory=list)
    #: Label names; ``["..."]`` groups by every label (one alert per group).
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: PositiveDuration | None = None
    repeat_interval: PositiveDuration | None = None
    #: Keep matching the following sibling routes after this one matched.
    continue_: bool = Field(False, alias="continue")
    #: Overrides the integrations' ``send_resolved`` for alerts routed here.
    send_resolved: bool | None = None
    escalate: list[EscalationStep] = Field(default_factory=list)
    routes: list[RouteConfig] = Field(default_factory=list)


class InhibitRuleConfig(StrictModel):
    """A firing alert matching ``source_matchers`` mutes alerts matching ``target_matchers``
    that have the same values for the ``equal`` labels."""

    source_matchers: Matchers = Field(min_length=1)
    target_matchers: Matchers = Field(min_length=1)
    equal: list[str] = Field(default_factory=list)


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[str, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)


def _clock(value: str) -> str:
    try:
        if value != "24:00":
            dtime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"expected a time of day HH:MM, got {value!r}") from None
    return value


def _sexagesimal(value: object) -> object:
    # YAML 1.1 reads an unquoted 22:00 as the number 1320 (22*60): take it back.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1440:
        hours, minutes = divmod(value, 60)
        return f"{hours:02d}:{minutes:02d}"
    return value


Clock = Annotated[str, BeforeValidator(_sexagesimal), AfterValidator(_clock)]


def _lower_days(value: object) -> object:
    return [str(v).lower() for v in value] if isinstance(value, list) else value


def _some_day(value: list[str]) -> list[str]:
    if not value:
        raise ValueError(
            "no weekday is never, got []: list at least one day "
            "(or leave weekdays out for every day)"
        )
    return value


#: Days of the week, any case, at least one.
Weekdays = Annotated[list[Weekday], BeforeValidator(_lower_days), AfterValidator(_some_day)]


class MaintenanceWindowConfig(StrictModel):
    """A recurring window, e.g. Sundays 02:00-04:00 Europe/Istanbul.

    An ``end`` before ``start`` crosses midnight (22:00-02:00 starts on the
    listed weekday and ends the next morning).
    """

    name: str = Field(min_length=1)
    weekdays: Weekdays = Field(default_factory=lambda: list(WEEKDAYS))  # type: ignore[arg-type]
    start: Clock = "00:00"
    end: Clock = "24:00"
    time_zone: str = "UTC"
    #: Only on these dates (1-31) of a listed weekday: ``[1]`` monthly; with
    #: ``weekdays: [sunday]``, ``[1, 2, 3, 4, 5, 6, 7]`` is the first Sunday.
    days_of_month: list[Annotated[int, Field(ge=1, le=31)]] = Field(default_factory=list)
    #: Only alerts matching these are muted (all alerts when empty).
    matchers: Matchers = Field(default_factory=list)

    @field_validator("start")
    @classmethod
    def _start_within_day(cls, value: str) -> str:
        if value == "24:00":
            raise ValueError(
                "24:00 is only valid as the end of a window, got '24:00': "
                "start the window at 00:00 of the following day"
            )
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> MaintenanceWindowConfig:
        if self.start == self.end:
            raise field_error(
                "end",
                f"the window starts and ends at {self.start}, so it is empty or lasts the whole "
                "day: give a different end (for whole days: start 00:00, end 24:00)",
            )
        return self

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _known_zone(value)


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name such as Europe/Istanbul)"
        ) from None
    return value


class ReportConfig(StrictModel):
    """``watchkeeper report`` sent to a receiver on a schedule (e-mail, Slack, webhook).

    Every day at 08:00 by default, covering the day before; ``weekdays:
    [monday]`` and ``since: 7d`` make a weekly one.
    """

    receiver: str
    weekdays: Weekdays = Field(default_factory=lambda: list(WEEKDAYS))  # type: ignore[arg-type]
    at: Clock = "08:00"
    time_zone: Annotated[str, AfterValidator(_known_zone)] = "UTC"
    #: The period each report covers, ending when it is sent.
    since: PositiveDuration = 86400.0

    @field_validator("at")
    @classmethod
    def _within_day(cls, value: str) -> str:
        if value == "24:00":
            raise ValueError("24:00 is the end of a day, got '24:00': send at 00:00")
        return value


class SilenceLimits(StrictModel):
    #: The longest silence that may be created.
    max_duration: PositiveDuration = 7 * 86400.0
    #: Silences end themselves when every alert they matched has resolved.
    expire_on_resolve: bool = True
    #: ... or when they have matched nothing for this long.
    expire_unmatched_after: PositiveDuration = 86400.0


class DeliveryConfig(StrictModel):
    """The durable outbox: retries with exponential back-off and jitter, then the dead letters."""

    initial_backoff: PositiveDuration = 1.0
    max_backoff: PositiveDuration = 300.0
    #: Attempts before a notification is dead-lettered.
    max_attempts: int = Field(12, ge=1)
    #: ... or once it is this old, whichever comes first.
    max_age: PositiveDuration = 86400.0
    #: Notifications in flight per integration.
    concurrency: int = Field(4, ge=1, le=256)

    @model_validator(mode="after")
    def _backoff_order(self) -> DeliveryConfig:
        if self.initial_backoff > self.max_backoff:
            given = self.model_fields_set
            field = "initial_backoff" if "initial_backoff" in given else "max_backoff"
            raise field_error(
                field,
                f"initial_backoff {format_duration(self.initial_backoff)} is longer than "
                f"max_backoff {format_duration(self.max_backoff)}: the first retry would already "
                "be cut to max_backoff (give an initial_backoff up to max_backoff)",
            )
        return self


class HeartbeatConfig(StrictModel):
    """Dead man's switch: ping ``url`` while the always-firing ``alertname`` alert is received."""

    url: SecretStr
    interval: PositiveDuration = 60.0
    alertname: str = "Watchdog"
    #: The alert counts as alive this long after it was last received.
    alive_for: PositiveDuration = 180.0
    timeout: PositiveDuration = 10.0


DEFAULT_RECEIVER = "console"


class NotifyConfig(StrictModel):
    enabled: bool = True
    #: The alert state and outbox database; defaults to ``alerts.db`` beside the store.
    database: Path | None = None
    #: Links in notifications point here (the dashboard).
    external_url: str = ""
    receivers: list[ReceiverConfig] = Field(default_factory=list)
    route: RouteConfig = Field(default_factory=RouteConfig)
    inhibit_rules: list[InhibitRuleConfig] = Field(
        default_factory=lambda: [
            InhibitRuleConfig(
                source_matchers=['severity="critical"'],
                target_matchers=['severity="warning"'],
                equal=["alertname", "instance"],
            ),
            # The threshold sugar's warning/critical pair share an inhibit_key
            # (their alert names differ); alerts without one are not touched.
            InhibitRuleConfig(
                source_matchers=['severity="critical"'],
                target_matchers=['severity="warning"', 'inhibit_key=~".+"'],
                equal=["inhibit_key", "instance"],
            ),
        ]
    )
    maintenance: list[MaintenanceWindowConfig] = Field(default_factory=list)
    silences: SilenceLimits = Field(default_factory=SilenceLimits)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    heartbeat: HeartbeatConfig | None = None
    #: Summaries sent on a schedule (see ``watchkeeper report``).
    reports: list[ReportConfig] = Field(default_factory=list)
    #: How long alert history and delivery attempts are kept.
    history_retention: PositiveDuration = 30 * 86400.0

    @model_validator(mode="after")
    def _references(self) -> NotifyConfig:
        names = [r.name for r in self.receivers]
        require_unique(
            names,
            ("receivers",),
            "name",
            "receiver name {name!r} is defined twice: routes could not tell the two apart "
            "(give each receiver its own name)",
        )
        require_unique(
            [w.name for w in self.maintenance],
            ("maintenance",),
            "name",
            "maintenance window name {name!r} is used twice: muted alerts and "
            "`watchkeeper maintenance list` could not tell the two apart "
            "(give each window its own name)",
        )
        known = set(names) | {DEFAULT_RECEIVER}

        def walk(route: RouteConfig, where: tuple[str | int, ...]) -> None:
            refs = [(route.receiver, (*where, "receiver"))] if route.receiver else []
            refs += [
                (step.receiver, (*where, "escalate", j, "receiver"))
                for j, step in enumerate(route.escalate)
            ]
            for ref, at in refs:
                if ref not in known:
                    raise field_error(
                        at, f"unknown receiver {ref!r}; defined: {', '.join(sorted(known))}"
                    )
            for i, child in enumerate(route.routes):
                walk(child, (*where, "routes", i))

        walk(self.route, ("route",))
        for i, report in enumerate(self.reports):
            if report.receiver not in known:
                raise field_error(
                    ("reports", i, "receiver"),
                    f"unknown receiver {report.receiver!r}; defined: {', '.join(sorted(known))}",
                )
        return self
