"""Evaluator behaviour beyond the promtool conformance suite."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from watchkeeper.model import Labels, Matcher, Sample
from watchkeeper.query import MemoryStore, QueryError, instant_query, range_query
from watchkeeper.query.values import STALE_NAN, Matrix, Scalar, Vector
from watchkeeper.store.base import SeriesData


class RecordingStore(MemoryStore):
    """Remembers every window read, to prove evaluations read only what they need."""

    def __init__(self) -> None:
        super().__init__()
        self.windows: list[tuple[int, int]] = []

    def read_range(
        self, matchers: Sequence[Matcher], start_ms: int, end_ms: int, *, min_step_ms: int = 0
    ) -> list[SeriesData]:
        self.windows.append((start_ms, end_ms))
        return super().read_range(matchers, start_ms, end_ms, min_step_ms=min_step_ms)


def _store(store: MemoryStore | None = None) -> MemoryStore:
    st = store or MemoryStore()
    samples = []
    for i in range(0, 121):  # 20 minutes of 10 s points
        samples.append(Sample("c", Labels({"i": "a"}), i * 10_000, float(i * 5)))
        samples.append(Sample("g", Labels({"i": "a"}), i * 10_000, float(i % 7)))
    st.append(samples)
    return st


def test_reads_only_the_window() -> None:
    st = _store(RecordingStore())
    assert isinstance(st, RecordingStore)
    instant_query(st, "rate(c[2m]) + g offset 1m", 1_000_000)
    assert sorted(st.windows) == [(940_000 - 300_000, 940_000), (1_000_000 - 120_000, 1_000_000)]


def test_instant_vector_and_json() -> None:
    res = instant_query(_store(), "rate(c[1m])", 600_000)
    assert isinstance(res, Vector)
    assert res.to_json() == {
        "resultType": "vector",
        "result": [{"metric": {"i": "a"}, "value": [600.0, "0.5"]}],
    }


def test_scalar_and_matrix_results() -> None:
    st = _store()
    res = instant_query(st, "scalar(g) * 2", 600_000)
    assert isinstance(res, Scalar)
    assert res.value == 2 * (60 % 7)
    mat = instant_query(st, "c[30s]", 600_000)
    assert isinstance(mat, Matrix)
    assert mat.series[0].timestamps.tolist() == [570_000, 580_000, 590_000, 600_000]


def test_range_query_matches_instant_queries() -> None:
    st = _store()
    expr = "max_over_time(g[1m]) - avg_over_time(c[90s])"
    mat = range_query(st, expr, 300_000, 900_000, 60_000)
    for ts, v in zip(mat.series[0].timestamps, mat.series[0].values, strict=True):
        inst = instant_query(st, expr, int(ts))
        assert isinstance(inst, Vector)
        assert inst.samples[0].value == pytest.approx(v)


def test_stale_marker_hides_series_at_once() -> None:
    st = MemoryStore()
    st.append([Sample("s", Labels(), 0, 1.0), Sample("s", Labels(), 60_000, STALE_NAN)])
    assert len(instant_query(st, "s", 30_000)) == 1  # type: ignore[arg-type]
    assert len(instant_query(st, "s", 90_000)) == 0  # type: ignore[arg-type]


def test_lookback_is_five_minutes() -> None:
    st = MemoryStore()
    st.append([Sample("s", Labels(), 0, 1.0)])
    assert len(instant_query(st, "s", 300_000)) == 1  # type: ignore[arg-type]
    assert len(instant_query(st, "s", 300_001)) == 0  # type: ignore[arg-type]


def test_many_to_many_is_an_error() -> None:
    st = MemoryStore()
    st.append(
        [
            Sample("a", Labels({"x": "1", "y": "1"}), 0, 1.0),
            Sample("a", Labels({"x": "1", "y": "2"}), 0, 1.0),
            Sample("b", Labels({"x": "1", "z": "1"}), 0, 1.0),
            Sample("b", Labels({"x": "1", "z": "2"}), 0, 1.0),
        ]
    )
    with pytest.raises(QueryError, match="many-to-many"):
        instant_query(st, "a + on(x) b", 0)


def test_parse_errors_are_query_errors() -> None:
    with pytest.raises(QueryError, match="parse error"):
        instant_query(MemoryStore(), "sum(", 0)


def test_vectorised_over_many_series() -> None:
    st = MemoryStore()
    rng = np.random.default_rng(1)
    samples = [
        Sample("m", Labels({"i": str(i)}), t * 10_000, float(v))
        for i in range(300)
        for t, v in enumerate(np.cumsum(rng.uniform(0, 5, 40)))
    ]
    st.append(samples)
    res = instant_query(st, "sum(rate(m[2m]))", 390_000)
    assert isinstance(res, Vector)
    single = sum(
        instant_query(st, f'rate(m{{i="{i}"}}[2m])', 390_000).samples[0].value  # type: ignore[union-attr]
        for i in range(300)
    )
    assert res.samples[0].value == pytest.approx(single)
