"""The two entry points: ``instant_query`` and ``range_query``.

These are what ``watchkeeper query``, the web API and the rule engine call.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import promql_parser as pp

from watchkeeper.query.blocks import MBlock, SBlock, StrVal, VBlock
from watchkeeper.query.engine import DEFAULT_LOOKBACK_MS, Evaluator, parse_expr
from watchkeeper.query.values import (
    Matrix,
    QueryError,
    QueryResult,
    RangeSeries,
    Scalar,
    String,
    Vector,
    VectorSample,
)
from watchkeeper.store.base import Store

__all__ = ["instant_query", "range_query"]

#: Prometheus refuses range queries with more points per series than this.
MAX_POINTS = 11_000


def _sort_order(expr: Any) -> str | None:
    while isinstance(expr, pp.ParenExpr):
        expr = expr.expr
    if isinstance(expr, pp.Call) and expr.func.name in ("sort", "sort_desc"):
        return str(expr.func.name)
    return None


def instant_query(
    store: Store,
    expr: str | Any,
    at_ms: int,
    *,
    lookback_ms: int = DEFAULT_LOOKBACK_MS,
    subquery_step_ms: int = 60_000,
    evaluator: Evaluator | None = None,
) -> QueryResult:
    """Evaluate ``expr`` (text or a parsed AST) at one instant.

    Returns a Vector, Scalar or String; a bare range selector or subquery
    (``foo[5m]``) returns a Matrix of its raw points, as Prometheus does.
    """
    node = parse_expr(expr) if isinstance(expr, str) else expr
    ev = evaluator or Evaluator(
        store, at_ms, at_ms, 1, lookback_ms=lookback_ms, subquery_step_ms=subquery_step_ms
    )
    val = ev.eval(node)
    if isinstance(val, SBlock):
        return Scalar(at_ms, float(val.values[0]))
    if isinstance(val, StrVal):
        return String(at_ms, val.value)
    if isinstance(val, MBlock):
        series = []
        lo, hi = val.windows()
        for i, lab in enumerate(val.labels):
            a, b = int(lo[i, 0]), int(hi[i, 0])
            if b > a:
                series.append(RangeSeries(lab, val.ts[a:b].copy(), val.v[a:b].copy()))
        return Matrix(series)
    samples = [
        VectorSample(lab, at_ms, float(val.values[i, 0]))
        for i, lab in enumerate(val.labels)
        if val.present[i, 0]
    ]
    order = _sort_order(node)
    if order == "sort":
        samples.sort(key=lambda s: (np.isnan(s.value), s.value))
    elif order == "sort_desc":
        samples.sort(key=lambda s: (np.isnan(s.value), -s.value))
    else:
        samples.sort(key=lambda s: s.labels)
    return Vector(samples)


def range_query(
    store: Store,
    expr: str | Any,
    start_ms: int,
    end_ms: int,
    step_ms: int,
    *,
    lookback_ms: int = DEFAULT_LOOKBACK_MS,
    subquery_step_ms: int = 60_000,
) -> Matrix:
    """Evaluate ``expr`` at ``start, start+step, ..., end``; always a Matrix."""
    if step_ms <= 0:
        raise QueryError("zero or negative query resolution step widths are not accepted")
    if end_ms < start_ms:
        raise QueryError("end timestamp must not be before start time")
    if (end_ms - start_ms) // step_ms + 1 > MAX_POINTS:
        raise QueryError(
            "exceeded maximum resolution of 11,000 points per timeseries; "
            "try decreasing the query resolution (?step=XX)"
        )
    node = parse_expr(expr) if isinstance(expr, str) else expr
    ev = Evaluator(
        store, start_ms, end_ms, step_ms, lookback_ms=lookback_ms, subquery_step_ms=subquery_step_ms
    )
    val = ev.eval(node)
    if isinstance(val, SBlock):
        return Matrix([RangeSeries(_empty_labels(), ev.steps.copy(), val.values.copy())])
    if not isinstance(val, VBlock):
        raise QueryError("range queries need an expression of scalar or instant vector type")
    series = []
    # A series with a point at every step shares one read-only steps array
    # (the JSON writer formats shared steps once) and views its row.
    steps = ev.steps.copy()
    steps.flags.writeable = False
    full: np.ndarray = np.asarray(val.present.all(axis=1))
    for i, lab in enumerate(val.labels):
        if full[i]:
            series.append(RangeSeries(lab, steps, val.values[i]))
            continue
        p = val.present[i]
        if p.any():
            series.append(RangeSeries(lab, ev.steps[p].copy(), val.values[i, p].copy()))
    series.sort(key=lambda s: s.labels)
    return Matrix(series)


def _empty_labels() -> Any:
    from watchkeeper.model import Labels

    return Labels()
