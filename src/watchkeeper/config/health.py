"""Configuration of the health checks behind ``/health``, ``/readyz`` and ``watchkeeper health``.

One entry per component, discriminated by ``type``; connection settings
reuse the collectors' models so a database is described the same way in both
places.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from watchkeeper.config.base import StrictModel, Timeout, field_error, require_unique
from watchkeeper.config.duration import Duration
from watchkeeper.config.services import (
    MySQLConnection,
    PostgresConnection,
    ProbeConfig,
    RedisConnection,
)

__all__ = ["CheckConfig", "HealthConfig"]

_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class _Check(StrictModel):
    #: The component name: ``/health/<name>`` and the key in the report.
    name: str
    #: A failing critical check fails ``/health`` (HTTP 503); others only warn.
    critical: bool = True
    #: Defaults to the section's ``timeout``.
    timeout: Timeout | None = None

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _COMPONENT.match(value):
            raise ValueError(f"invalid component name {value!r}: use letters, digits, _ - .")
        return value


class PostgresCheckConfig(_Check, PostgresConnection):
    type: Literal["postgres"]


class MySQLCheckConfig(_Check, MySQLConnection):
    type: Literal["mysql"]


class RedisCheckConfig(_Check, RedisConnection):
    type: Literal["redis"]


class CeleryCheckConfig(_Check):
    type: Literal["celery"]
    broker_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    #: Fewer workers answering than this fails the check.
    min_workers: int = Field(1, ge=1)


class RabbitMQCheckConfig(_Check):
    type: Literal["rabbitmq"]
    url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672//")
    #: Queues that must exist; their total depth is the observed value.
    queues: list[str] = Field(default_factory=list)
    #: More messages than this in the listed queues warns.
    warn_messages: int | None = Field(None, ge=0)


class _UsageCheck(_Check):
    warn_percent: float
    fail_percent: float

    @model_validator(mode="after")
    def _warn_below_fail(self) -> _UsageCheck:
        # Usage at fail_percent fails before it is compared with warn_percent:
        # a warn level above the fail level could never be reported.
        if self.warn_percent > self.fail_percent:
            field = "warn_percent" if "warn_percent" in self.model_fields_set else "fail_percent"
            raise field_error(
                field,
                f"warn_percent {self.warn_percent:g} is above fail_percent "
                f"{self.fail_percent:g}: the check would fail before it could warn "
                "(give a warn_percent up to fail_percent)",
            )
        return self


class DiskCheckConfig(_UsageCheck):
    type: Literal["disk"]
    path: str = "/"
    warn_percent: float = Field(85.0, gt=0, le=100)
    fail_percent: float = Field(95.0, gt=0, le=100)


class MemoryCheckConfig(_UsageCheck):
    type: Literal["memory"]
    warn_percent: float = Field(90.0, gt=0, le=100)
    fail_percent: float = Field(98.0, gt=0, le=100)


class ProbeCheckConfig(_Check):
    type: Literal["probe"]
    probe: ProbeConfig
    #: TLS probes: warn when the certificate expires within this many days.
    warn_days: float = Field(14.0, ge=0)


class CallableCheckConfig(_Check):
    type: Literal["callable"]
    #: ``package.module:function``; returns bool, None (pass), a status string or raises.
    target: str

    @field_validator("target")
    @classmethod
    def _module_colon_attr(cls, value: str) -> str:
        if ":" not in value:
            raise ValueError(f"expected 'package.module:function', got {value!r}")
        return value


CheckConfig = Annotated[
    PostgresCheckConfig
    | MySQLCheckConfig
    | RedisCheckConfig
    | CeleryCheckConfig
    | RabbitMQCheckConfig
    | DiskCheckConfig
    | MemoryCheckConfig
    | ProbeCheckConfig
    | CallableCheckConfig,
    Field(discriminator="type"),
]


def _default_checks() -> list[CheckConfig]:
    # Useful with no configuration at all; warn-only, so a nearly full disk
    # shows in /health without taking the service out of a load balancer.
    return [
        DiskCheckConfig(name="disk", type="disk", critical=False),
        MemoryCheckConfig(name="memory", type="memory", critical=False),
    ]


class HealthConfig(StrictModel):
    """``health:`` in watchkeeper.yml."""

    #: Results are reused this long, so a load balancer polling every second
    #: costs the database one query per period, not one per request. 0 disables.
    cache: Annotated[Duration, Field(ge=0, le=300)] = 5.0
    #: Default timeout of a check.
    timeout: Timeout = 2.0
    #: ``watchkeeper run`` records the checks' results (``health_check_status``)
    #: this often, for their history and the HealthCheckFailing alert; 0: never.
    interval: Annotated[Duration, Field(ge=0, le=3600)] = 30.0

    @field_validator("interval")
    @classmethod
    def _off_or_a_second(cls, value: float) -> float:
        if 0 < value < 1:
            raise ValueError(f"must be 0 (off) or between 1 and 3600, got {value:g}")
        return value

    #: Default: warn-only disk (/) and memory checks.
    checks: list[CheckConfig] = Field(default_factory=_default_checks)

    @field_validator("checks")
    @classmethod
    def _unique(cls, checks: list[CheckConfig]) -> list[CheckConfig]:
        require_unique(
            [c.name for c in checks],
            (),
            "name",
            "duplicate check name {name!r}: /health/{name} and the report could not tell "
            "the two apart (give each check its own name)",
        )
        return checks
