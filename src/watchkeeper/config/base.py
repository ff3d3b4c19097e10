"""Shared pieces of the configuration models."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from watchkeeper.config.duration import Duration, format_duration

__all__ = [
    "CollectorConfig",
    "Interval",
    "PositiveDuration",
    "Regex",
    "StrictModel",
    "Timeout",
    "field_error",
    "require_unique",
]


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo in watchkeeper.yml must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


#: The error kind of ``field_error``; its message always says what was given.
FIELD_ERROR = "invalid_setting"


def field_error(field: str | int | Sequence[str | int], message: str) -> PydanticCustomError:
    """An error about ``field``, a path below the model being validated.

    For model validators (and list validators) that compare several settings:
    pydantic would report their errors at the model, so ``load.py`` appends
    ``field`` to the location to name the setting and its line. A part written
    ``"url|target"`` is whichever of those keys the file has. ``message`` must
    say what was given and what is expected; it is printed as it is.
    """
    path = (field,) if isinstance(field, str | int) else tuple(field)
    return PydanticCustomError(FIELD_ERROR, message, {"field_path": path})


def require_unique(names: Sequence[str], at: Sequence[str | int], key: str, message: str) -> None:
    """Refuse the first entry whose ``key`` an earlier entry already has.

    Two entries with one name would collide (one collector, one route
    target, one ``/health/<name>``), so the error names the second entry:
    ``(*at, index, key)``. ``message`` is formatted with ``name``.
    """
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise field_error((*at, i, key), message.format(name=name))
        seen.add(name)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _between(low: float, high: float) -> AfterValidator:
    def check(value: float) -> float:
        if not low <= value <= high:
            raise PydanticCustomError(
                "out_of_range",
                "must be between {low} and {high}, got {got}",
                {"low": _number(low), "high": _number(high), "got": _number(value)},
            )
        return value

    return AfterValidator(check)


#: A collection interval in seconds: 1 s to 1 h.
Interval = Annotated[Duration, _between(1, 3600)]
#: A timeout in seconds: 10 ms to 10 min.
Timeout = Annotated[Duration, _between(0.01, 600)]


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise PydanticCustomError(
            "regex",
            "invalid regular expression '{pattern}': {reason}",
            {"pattern": value, "reason": str(exc)},
        ) from None
    return value


def _positive(value: float) -> float:
    if value <= 0:
        raise PydanticCustomError(
            "out_of_range", "must be greater than 0, got {got}", {"got": format_duration(value)}
        )
    return value


#: A duration that must be longer than zero (a zero interval would spin, a zero timeout fail).
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]


#: A regular expression, checked when the configuration is loaded.
Regex = Annotated[str, AfterValidator(_regex)]


class CollectorConfig(StrictModel):
    """What every collector has: on/off, how often, how long it may take."""

    enabled: bool = True
    interval: Interval = 10.0
    #: Defaults to 80 % of the interval (capped at 30 s) when unset.
    timeout: Timeout | None = None

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> CollectorConfig:
        # Collections of one collector never overlap: a timeout longer than the
        # interval would let one slow collection swallow the following ticks.
        if self.timeout is not None and self.timeout > self.interval:
            raise field_error(
                "timeout",
                f"the timeout {format_duration(self.timeout)} is longer than the interval "
                f"{format_duration(self.interval)}: a collection must end before the next one "
                "is due (give a timeout up to the interval)",
            )
        return self
