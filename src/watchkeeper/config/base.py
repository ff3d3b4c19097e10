"""Shared pieces of the configuration models."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

from watchkeeper.config.duration import Duration

__all__ = ["CollectorConfig", "Interval", "Regex", "StrictModel", "Timeout", "repeated"]


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo in watchkeeper.yml must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def repeated(names: Iterable[str]) -> list[str]:
    """The names that occur more than once, sorted: for "duplicate name" errors."""
    seen: set[str] = set()
    twice: set[str] = set()
    for name in names:
        (twice if name in seen else seen).add(name)
    return sorted(twice)


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


#: A regular expression, checked when the configuration is loaded.
Regex = Annotated[str, AfterValidator(_regex)]


class CollectorConfig(StrictModel):
    """What every collector has: on/off, how often, how long it may take."""

    enabled: bool = True
    interval: Interval = 10.0
    #: Defaults to 80 % of the interval (capped at 30 s) when unset.
    timeout: Timeout | None = None
