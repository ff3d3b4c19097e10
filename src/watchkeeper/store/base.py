"""The store's interface, kept small so the engine behind it can change.

Five verbs: append a batch, select series by matchers, read a time range,
delete before a time, and report stats. Everything above the store (the
query engine, the rules, the API, the CLI) speaks only these.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from watchkeeper.model import Labels, Matcher, Sample

__all__ = [
    "Series",
    "SeriesColumns",
    "SeriesData",
    "SeriesInstants",
    "Store",
    "StoreStats",
    "instants_of",
]


@dataclass(frozen=True, slots=True)
class Series:
    """A series identity: the metric name and its labels (without ``__name__``)."""

    id: int
    name: str
    labels: Labels

    def __str__(self) -> str:
        return self.name + (str(self.labels) if self.labels else "")


@dataclass(slots=True)
class SeriesData:
    """The points of one series in a time range, oldest first, as numpy arrays."""

    series: Series
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.timestamps.shape[0])


@dataclass(slots=True)
class SeriesColumns:
    """The points of many series back to back: series ``i`` owns
    ``timestamps[offsets[i]:offsets[i + 1]]`` (and the same slice of ``values``).

    Why a second shape besides ``list[SeriesData]``: a rule evaluation reads
    thousands of series per selector and works on whole arrays anyway; one
    object and one array view per series is most of the cost of such a read.
    """

    series: list[Series]
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    offsets: npt.NDArray[np.int64]  # len(series) + 1 entries, offsets[0] == 0

    def __len__(self) -> int:
        return len(self.series)

    @classmethod
    def of(cls, data: Sequence[SeriesData]) -> SeriesColumns:
        """Concatenate per-series data (the default ``Store.read_columns``)."""
        offsets = np.zeros(len(data) + 1, dtype=np.int64)
        if not data:
            return cls([], np.zeros(0, dtype=np.int64), np.zeros(0), offsets)
        np.cumsum([len(sd) for sd in data], out=offsets[1:])
        return cls(
            [sd.series for sd in data],
            np.concatenate([sd.timestamps for sd in data]).astype(np.int64, copy=False),
            np.concatenate([sd.values for sd in data]).astype(np.float64, copy=False),
            offsets,
        )

    def to_series_data(self) -> list[SeriesData]:
        """One ``SeriesData`` per series (views into the columns)."""
        bounds = self.offsets.tolist()
        ts, vs = self.timestamps, self.values
        return [
            SeriesData(s, ts[a:b], vs[a:b])
            for s, a, b in zip(self.series, bounds, bounds[1:], strict=False)
        ]


@dataclass(slots=True)
class SeriesInstants:
    """Each series' newest point at or before each of ``k`` instants.

    Arrays of shape ``(len(series), k)``; ``found[i, j]`` says series ``i`` has
    a point in ``[instants[j] - lookback, instants[j]]``, and then
    ``timestamps``/``values`` hold the newest such point (elsewhere they are
    meaningless). This is what a graph of a plain selector draws: a range query
    at a 60 s step needs one point per step, not the 6 the store holds per step.
    """

    series: list[Series]
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    found: npt.NDArray[np.bool_]


def instants_of(
    columns: SeriesColumns, instants: npt.NDArray[np.int64], lookback_ms: int
) -> SeriesInstants:
    """``columns`` sampled at ``instants`` (ascending): the newest point at or
    before each, if it is at most ``lookback_ms`` older.

    One ``searchsorted`` over a (series, time) composite key answers every
    series and instant at once.
    """
    n, k = len(columns.series), int(instants.shape[0])
    ts, vals, offsets = columns.timestamps, columns.values, columns.offsets
    if n == 0 or k == 0 or not ts.size:
        return SeriesInstants(
            columns.series, np.zeros((n, k), np.int64), np.zeros((n, k)), np.zeros((n, k), bool)
        )
    lo_bound = int(instants.min()) - lookback_ms
    base = min(int(ts.min()), lo_bound)
    span = max(int(ts.max()), int(instants.max())) - base + 2
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    comp = rows * span + (ts - base)
    row_base = (np.arange(n, dtype=np.int64) * span)[:, None]
    idx = np.searchsorted(comp, row_base + (instants - base)[None, :], "right") - 1
    found = idx >= offsets[:-1, None]
    safe = np.where(found, idx, 0)
    at = ts[safe]
    found &= at >= (instants - lookback_ms)[None, :]
    values = vals[safe]
    keep = np.flatnonzero(found.any(axis=1))
    if keep.size == n:
        return SeriesInstants(columns.series, at, values, found)
    series = [columns.series[i] for i in keep.tolist()]
    return SeriesInstants(series, at[keep], values[keep], found[keep])


@dataclass(frozen=True, slots=True)
class StoreStats:
    path: str
    series: int
    samples: int
    bytes: int
    oldest_ms: int | None
    newest_ms: int | None
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def bytes_per_sample(self) -> float:
        return self.bytes / self.samples if self.samples else 0.0


class Store(abc.ABC):
    """A time-series store. Implementations must allow readers in other processes."""

    @abc.abstractmethod
    def append(self, samples: Sequence[Sample]) -> int:
        """Write a batch durably; return how many samples were stored.

        When this returns, the batch survives a crash. A sample whose series
        already has a point at that timestamp replaces it.
        """

    @abc.abstractmethod
    def select(self, matchers: Sequence[Matcher]) -> list[Series]:
        """The series matching every matcher (``__name__`` addresses the name)."""

    @abc.abstractmethod
    def read_range(
        self,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
        *,
        min_step_ms: int = 0,
    ) -> list[SeriesData]:
        """Points of the matching series with ``start_ms <= t <= end_ms``.

        ``min_step_ms`` says the caller needs at most one point per that many
        milliseconds; an engine with rollups may then serve coarser data.
        Series with no point in the range are left out.
        """

    def read_columns(
        self,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
        *,
        min_step_ms: int = 0,
    ) -> SeriesColumns:
        """``read_range`` as one set of columns: same series, same order, same points.

        Engines override this when they can answer without building one
        ``SeriesData`` per series; the default concatenates ``read_range``.
        """
        return SeriesColumns.of(
            self.read_range(matchers, start_ms, end_ms, min_step_ms=min_step_ms)
        )

    def read_instants(
        self, matchers: Sequence[Matcher], instants: npt.NDArray[np.int64], lookback_ms: int
    ) -> SeriesInstants:
        """The matching series sampled at ``instants`` (ascending), as a plain
        PromQL selector sees them at each step of a range query.

        Series found at no instant are left out. Engines override this when they can pick the points
        without copying every point of the range; the default reads the
        columns and samples them.
        """
        start = int(instants.min()) - lookback_ms if instants.size else 0
        end = int(instants.max()) if instants.size else -1
        return instants_of(self.read_columns(matchers, start, end), instants, lookback_ms)

    @abc.abstractmethod
    def delete_before(self, ts_ms: int) -> int:
        """Delete every point older than ``ts_ms``; return how many went."""

    @abc.abstractmethod
    def stats(self) -> StoreStats:
        """Sizes and time span, for ``watchkeeper status`` and the dashboard."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Flush and release the files."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
