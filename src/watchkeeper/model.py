"""The data model every room shares: Prometheus's.

A sample is a metric name, a set of labels, a timestamp in milliseconds and a
float value. Keeping exactly Prometheus's model (rather than the seeds'
``metric_type``/``unit`` rows) is what lets rule files, Grafana and a real
Prometheus work with watchkeeper's data unchanged.
"""

from __future__ import annotations

import enum
import re
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "LABEL_NAME_RE",
    "METRIC_NAME_RE",
    "NAME_LABEL",
    "STALE_NAN",
    "STALE_NAN_BITS",
    "Labels",
    "MatchOp",
    "Matcher",
    "MetricMeta",
    "MetricType",
    "Sample",
    "is_stale",
    "is_valid_label_name",
    "is_valid_metric_name",
]

#: Prometheus's staleness marker: a NaN with this payload ends a series.
STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]


def is_stale(value: float) -> bool:
    """Whether ``value`` is the staleness marker (not just any NaN)."""
    return value != value and struct.pack("<d", value) == struct.pack("<Q", STALE_NAN_BITS)


METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
#: The pseudo-label under which matchers address the metric name.
NAME_LABEL = "__name__"


def is_valid_metric_name(name: str) -> bool:
    return bool(METRIC_NAME_RE.match(name))


def is_valid_label_name(name: str) -> bool:
    # Names starting with "__" are reserved for internal use, as in Prometheus.
    return bool(LABEL_NAME_RE.match(name)) and not name.startswith("__")


class Labels(tuple[tuple[str, str], ...]):
    """An immutable, hashable, sorted set of label pairs.

    Sorted so that two label sets with the same pairs are equal and hash the
    same, which is what a series identity needs.
    """

    __slots__ = ()

    def __new__(cls, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> Labels:
        pairs = items.items() if isinstance(items, Mapping) else items
        return super().__new__(cls, tuple(sorted(pairs)))

    def get(self, name: str, default: str | None = None) -> str | None:
        for key, value in self:
            if key == name:
                return value
        return default

    def __contains__(self, name: object) -> bool:
        return any(key == name for key, _ in self)

    def names(self) -> Iterator[str]:
        return (key for key, _ in self)

    def as_dict(self) -> dict[str, str]:
        return dict(self)

    def merge(self, other: Mapping[str, str]) -> Labels:
        """Return these labels with ``other`` added; existing names win.

        Existing names win because a collector knows better than the global
        defaults (e.g. a scrape target's own ``instance``).
        """
        if not other:
            return self
        merged = dict(other)
        merged.update(self)
        return Labels(merged)

    def without(self, *names: str) -> Labels:
        return Labels((k, v) for k, v in self if k not in names)

    def __str__(self) -> str:
        inner = ",".join(f'{k}="{_escape(v)}"' for k, v in self)
        return "{" + inner + "}"

    def __repr__(self) -> str:
        return f"Labels({self.as_dict()!r})"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Sample(NamedTuple):
    """One observation: (metric name, labels, timestamp in ms, value)."""

    name: str
    labels: Labels
    timestamp_ms: int
    value: float

    def series_text(self) -> str:
        """The series in PromQL notation, e.g. ``host_cpu_usage_percent{cpu="0"}``."""
        return self.name + (str(self.labels) if self.labels else "")


class MetricType(enum.StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"
    SUMMARY = "summary"
    INFO = "info"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class MetricMeta:
    """What a metric family is: served by ``/api/v1/metadata`` and ``# HELP`` lines."""

    name: str
    type: MetricType
    help: str
    unit: str = ""
    labels: tuple[str, ...] = ()


class MatchOp(enum.StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


@dataclass(frozen=True, slots=True)
class Matcher:
    """A label matcher with Prometheus semantics.

    Regular expressions are fully anchored, and a missing label matches as the
    empty string (so ``{env=""}`` selects series without ``env``).
    """

    name: str
    op: MatchOp
    value: str

    def __post_init__(self) -> None:
        if self.op in (MatchOp.RE, MatchOp.NRE):
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {self.value!r}: {exc}") from exc

    @property
    def regex(self) -> re.Pattern[str]:
        return _anchored(self.value)

    def matches(self, value: str) -> bool:
        if self.op is MatchOp.EQ:
            return value == self.value
        if self.op is MatchOp.NE:
            return value != self.value
        found = self.regex.fullmatch(value) is not None
        return found if self.op is MatchOp.RE else not found

    def matches_empty(self) -> bool:
        return self.matches("")

    def __str__(self) -> str:
        return f'{self.name}{self.op.value}"{_escape(self.value)}"'

    @classmethod
    def equal(cls, name: str, value: str) -> Matcher:
        return cls(name, MatchOp.EQ, value)


_REGEX_CACHE: dict[str, re.Pattern[str]] = {}


def _anchored(pattern: str) -> re.Pattern[str]:
    compiled = _REGEX_CACHE.get(pattern)
    if compiled is None:
        if len(_REGEX_CACHE) > 4096:
            _REGEX_CACHE.clear()
        compiled = re.compile(f"(?:{pattern})", re.DOTALL)
        _REGEX_CACHE[pattern] = compiled
    return compiled
