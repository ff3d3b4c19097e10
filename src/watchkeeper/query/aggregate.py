"""Aggregation operators with ``by``/``without``, vectorised over groups and steps.

Small inputs take an exact sequential path that reproduces Prometheus 2.x's
floating-point order (incremental mean, Welford variance), so results agree
with ``promtool`` bit for bit; large inputs use whole-array numpy reductions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from watchkeeper.model import NAME_LABEL, Labels
from watchkeeper.query.blocks import F64, SBlock, StrVal, VBlock, sorted_labels
from watchkeeper.query.values import QueryError, format_value

if TYPE_CHECKING:
    from watchkeeper.query.engine import Evaluator

__all__ = ["eval_aggregate", "quantile_sorted"]

#: Up to this many input series, use Prometheus's exact sequential arithmetic.
EXACT_LIMIT = 64


def _group_keys(labels: list[Labels], modifier: Any) -> list[Labels]:
    if modifier is None:
        empty = Labels()
        return [empty] * len(labels)
    names = set(modifier.labels)
    if str(modifier.type).endswith("By"):
        return [sorted_labels([p for p in lab if p[0] in names]) for lab in labels]
    names.add(NAME_LABEL)
    return [sorted_labels([p for p in lab if p[0] not in names]) for lab in labels]


def eval_aggregate(ev: Evaluator, node: Any) -> VBlock:
    op = str(node.op)
    vec = ev.eval_vector(node.expr)
    k = ev.k
    param: Any = None
    if node.param is not None:
        param = ev.eval(node.param)
    if op == "count_values":
        if not isinstance(param, StrVal):
            raise QueryError("count_values needs a string parameter")
        return _count_values(vec, node.modifier, param.value)
    keys = _group_keys(vec.labels, node.modifier)
    index: dict[Labels, int] = {}
    gid = np.array([index.setdefault(key, len(index)) for key in keys], dtype=np.intp)
    g = len(index)
    groups = list(index)
    if op in ("topk", "bottomk"):
        if not isinstance(param, SBlock):
            raise QueryError(f"{op} needs a scalar parameter")
        return _topk(vec, gid, param.values, bottom=op == "bottomk")
    if g == 0:
        return VBlock.empty(k)
    pres = vec.present
    counts = np.zeros((g, k))
    np.add.at(counts, gid, pres.astype(np.float64))
    present = counts > 0
    vals = np.where(pres, vec.values, 0.0)
    exact = len(vec.labels) <= EXACT_LIMIT
    with np.errstate(all="ignore"):
        if op == "sum":
            out = np.zeros((g, k))
            np.add.at(out, gid, vals)
        elif op == "count":
            out = counts
        elif op == "group":
            out = np.ones((g, k))
        elif op in ("min", "max"):
            out = np.full((g, k), np.nan)
            ufunc = np.fmin if op == "min" else np.fmax
            ufunc.at(out, gid, np.where(pres, vec.values, np.nan))
        elif op == "avg":
            out = _avg_exact(vec, gid, g) if exact else _sum(vals, gid, g) / counts
        elif op in ("stddev", "stdvar"):
            if exact:
                out = _var_exact(vec, gid, g)
            else:
                mean = _sum(vals, gid, g) / counts
                dev = np.where(pres, vec.values - mean[gid], 0.0)
                out = _sum(dev * dev, gid, g) / counts
            if op == "stddev":
                out = np.sqrt(out)
        elif op == "quantile":
            if not isinstance(param, SBlock):
                raise QueryError("quantile needs a scalar parameter")
            out = _quantile(vec, gid, g, param.values)
        else:
            raise QueryError(f"unsupported aggregation {op}")
    return VBlock(groups, out, present).compact()


def _sum(vals: F64, gid: Any, g: int) -> F64:
    out = np.zeros((g, vals.shape[1]))
    np.add.at(out, gid, vals)
    return out


def _avg_exact(vec: VBlock, gid: Any, g: int) -> F64:
    # Prometheus 2.x: mean += v/count - mean/count, with an Inf guard.
    k = vec.k
    mean = np.zeros((g, k))
    count = np.zeros((g, k))
    for i in range(len(vec.labels)):
        p = vec.present[i]
        j = gid[i]
        for s in np.flatnonzero(p):
            v = float(vec.values[i, s])
            count[j, s] += 1
            c = count[j, s]
            m = float(mean[j, s])
            if math.isinf(m):
                if math.isinf(v) and (m > 0) == (v > 0):
                    continue
                if not math.isinf(v) and not math.isnan(v):
                    continue
            mean[j, s] = m + v / c - m / c
    return mean


def _var_exact(vec: VBlock, gid: Any, g: int) -> F64:
    k = vec.k
    mean = np.zeros((g, k))
    acc = np.zeros((g, k))
    count = np.zeros((g, k))
    for i in range(len(vec.labels)):
        j = gid[i]
        for s in np.flatnonzero(vec.present[i]):
            v = float(vec.values[i, s])
            count[j, s] += 1
            delta = v - mean[j, s]
            mean[j, s] += delta / count[j, s]
            acc[j, s] += delta * (v - mean[j, s])
    with np.errstate(all="ignore"):
        return acc / count


def nan_first_sort(values: F64) -> F64:
    """Sort with NaNs first, as Prometheus's value heap orders them."""
    nan = np.isnan(values)
    return np.concatenate([values[nan], np.sort(values[~nan])])


def quantile_sorted(q: float, values: F64) -> float:
    """Prometheus's ``quantile``: linear interpolation between closest ranks."""
    n = len(values)
    if n == 0 or math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    rank = q * (n - 1)
    lower = max(0.0, math.floor(rank))
    upper = min(n - 1.0, lower + 1)
    weight = rank - math.floor(rank)
    return float(values[int(lower)] * (1 - weight) + values[int(upper)] * weight)


def _quantile(vec: VBlock, gid: Any, g: int, qs: F64) -> F64:
    k = vec.k
    out = np.full((g, k), np.nan)
    for j in range(g):
        rows = np.flatnonzero(gid == j)
        for s in range(k):
            p = vec.present[rows, s]
            if p.any():
                vals = nan_first_sort(vec.values[rows[p], s])
                out[j, s] = quantile_sorted(float(qs[s]), vals)
    return out


def _topk(vec: VBlock, gid: Any, ks: F64, *, bottom: bool) -> VBlock:
    n, k = vec.values.shape
    keep = np.zeros((n, k), dtype=bool)
    if n == 0:
        return VBlock.empty(k)
    for s in range(k):
        kk = ks[s]
        if math.isnan(kk):
            raise QueryError("Parameter value is NaN")
        limit = int(kk) if kk < 2**62 else 2**62
        if limit < 1:
            continue
        rows = np.flatnonzero(vec.present[:, s])
        if not len(rows):
            continue
        vals = vec.values[rows, s]
        # NaN sorts last in both directions, as in Prometheus.
        nan = np.isnan(vals)
        key = np.where(nan, np.inf, vals if bottom else -vals)
        order = np.lexsort((nan, key, gid[rows]))
        ordered_g = gid[rows][order]
        first = np.searchsorted(ordered_g, ordered_g, "left")
        rank = np.arange(len(order)) - first
        keep[rows[order[rank < limit]], s] = True
    return VBlock(vec.labels, vec.values, vec.present & keep).compact()


def _count_values(vec: VBlock, modifier: Any, label: str) -> VBlock:
    from watchkeeper.model import is_valid_label_name

    if not is_valid_label_name(label) and label != NAME_LABEL:
        raise QueryError(f"invalid label name {label!r}")
    k = vec.k
    keys = _group_keys(vec.labels, modifier)
    counts: dict[Labels, F64] = {}
    for i, key in enumerate(keys):
        for s in np.flatnonzero(vec.present[i]):
            d = dict(key)
            d[label] = format_value(float(vec.values[i, s]))
            out_key = Labels(d)
            arr = counts.get(out_key)
            if arr is None:
                arr = counts[out_key] = np.zeros(k)
            arr[s] += 1
    if not counts:
        return VBlock.empty(k)
    labels = list(counts)
    values = np.array([counts[lab] for lab in labels])
    return VBlock(labels, values, values > 0)
