"""Query results, shaped like Prometheus's so the web API can serialise them.

``instant_query`` returns a :class:`Vector`, :class:`Scalar`, :class:`String`
or (for a bare range selector) a :class:`Matrix`; ``range_query`` always a
:class:`Matrix`. ``to_json()`` gives the ``data`` object of
``/api/v1/query[_range]``, values formatted as Prometheus formats them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from watchkeeper.model import NAME_LABEL, STALE_NAN, STALE_NAN_BITS, Labels

__all__ = [
    "STALE_NAN",
    "Matrix",
    "QueryError",
    "QueryResult",
    "RangeSeries",
    "Scalar",
    "String",
    "Vector",
    "VectorSample",
    "format_value",
    "is_stale_nan",
]


def is_stale_nan(values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Which values are staleness markers (not ordinary NaNs)."""
    out: npt.NDArray[np.bool_] = values.view(np.uint64) == np.uint64(STALE_NAN_BITS)
    return out


class QueryError(ValueError):
    """A query that cannot be parsed or evaluated; the message says why."""


def format_value(value: float) -> str:
    """Format a float as Go's ``strconv.FormatFloat(v, 'f', -1, 64)`` does."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return np.format_float_positional(value, unique=True, trim="-")


def _metric(labels: Labels) -> dict[str, str]:
    return dict(labels)


@dataclass(frozen=True, slots=True)
class Scalar:
    timestamp_ms: int
    value: float
    result_type: str = "scalar"

    def to_json(self) -> dict[str, Any]:
        return {
            "resultType": "scalar",
            "result": [self.timestamp_ms / 1000, format_value(self.value)],
        }


@dataclass(frozen=True, slots=True)
class String:
    timestamp_ms: int
    value: str
    result_type: str = "string"

    def to_json(self) -> dict[str, Any]:
        return {"resultType": "string", "result": [self.timestamp_ms / 1000, self.value]}


@dataclass(frozen=True, slots=True)
class VectorSample:
    """One element of an instant vector; ``labels`` include ``__name__`` if any."""

    labels: Labels
    timestamp_ms: int
    value: float

    @property
    def name(self) -> str | None:
        return self.labels.get(NAME_LABEL)


@dataclass(slots=True)
class Vector:
    samples: list[VectorSample] = field(default_factory=list)
    result_type: str = "vector"

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Any:
        return iter(self.samples)

    def to_json(self) -> dict[str, Any]:
        return {
            "resultType": "vector",
            "result": [
                {
                    "metric": _metric(s.labels),
                    "value": [s.timestamp_ms / 1000, format_value(s.value)],
                }
                for s in self.samples
            ],
        }


@dataclass(slots=True)
class RangeSeries:
    labels: Labels
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]


@dataclass(slots=True)
class Matrix:
    series: list[RangeSeries] = field(default_factory=list)
    result_type: str = "matrix"

    def __len__(self) -> int:
        return len(self.series)

    def __iter__(self) -> Any:
        return iter(self.series)

    def to_json(self) -> dict[str, Any]:
        return {
            "resultType": "matrix",
            "result": [
                {
                    "metric": _metric(s.labels),
                    "values": [
                        [int(t) / 1000, format_value(float(v))]
                        for t, v in zip(s.timestamps, s.values, strict=True)
                    ],
                }
                for s in self.series
            ],
        }


QueryResult = Scalar | String | Vector | Matrix
