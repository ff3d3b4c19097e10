"""PromQL functions.

Range-vector functions work on every (series, step) window at once. Where
Prometheus folds a window sample by sample (sums, means, regressions, counter
resets), the fold runs in *lockstep*: iteration ``j`` handles the ``j``-th
sample of every window with one numpy operation. That keeps Prometheus's
exact floating-point order while the Python loop runs only window-length
times, not once per series.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import promql_parser as pp

from watchkeeper.model import NAME_LABEL, Labels, MatchOp, is_valid_label_name
from watchkeeper.query.aggregate import nan_first_sort, quantile_sorted
from watchkeeper.query.blocks import (
    F64,
    I64,
    Bool,
    MBlock,
    SBlock,
    StrVal,
    VBlock,
    drop_name,
    merge_rows,
)
from watchkeeper.query.selector import matchers_of
from watchkeeper.query.values import QueryError

if TYPE_CHECKING:
    from watchkeeper.query.engine import Evaluator

__all__ = ["FUNCTIONS", "eval_call"]


# -- helpers -----------------------------------------------------------------
def _kahan_inc(inc: F64, s: F64, c: F64) -> tuple[F64, F64]:
    t = s + inc
    big = np.abs(s) >= np.abs(inc)
    c = c + np.where(big, (s - t) + inc, (inc - t) + s)
    return t, c


class _Windows:
    """The (series, step) windows of a range vector, flattened to 1-D."""

    def __init__(self, m: MBlock) -> None:
        self.m = m
        lo, hi = m.windows()
        self.shape = lo.shape
        self.lo = lo.ravel()
        self.hi = hi.ravel()
        self.count = self.hi - self.lo
        self.maxlen = int(self.count.max()) if self.count.size else 0
        self.refs = np.broadcast_to(m.refs[None, :], self.shape).ravel()

    def at(self, j: int) -> tuple[F64, I64, Bool]:
        """Value, timestamp and activity of the j-th sample of every window."""
        active = self.count > j
        idx = np.minimum(self.lo + j, max(len(self.m.v) - 1, 0))
        if len(self.m.v) == 0:
            return np.zeros(len(self.lo)), np.zeros(len(self.lo), dtype=np.int64), active
        return self.m.v[idx], self.m.ts[idx], active

    def first(self) -> tuple[F64, I64]:
        idx = np.minimum(self.lo, max(len(self.m.v) - 1, 0))
        return self._get(idx)

    def last(self, back: int = 1) -> tuple[F64, I64]:
        idx = np.clip(self.hi - back, 0, max(len(self.m.v) - 1, 0))
        return self._get(idx)

    def _get(self, idx: Any) -> tuple[F64, I64]:
        if len(self.m.v) == 0:
            n = len(idx)
            return np.zeros(n), np.zeros(n, dtype=np.int64)
        return self.m.v[idx], self.m.ts[idx]

    def result(self, values: F64, present: Bool, *, keep_name: bool = False) -> VBlock:
        labels = self.m.labels if keep_name else [drop_name(lab) for lab in self.m.labels]
        out = VBlock(labels, values.reshape(self.shape), present.reshape(self.shape)).compact()
        return merge_rows(out)


def _fold_kahan(w: _Windows, values_of: Callable[[F64, I64], F64]) -> F64:
    s = np.zeros(len(w.lo))
    c = np.zeros(len(w.lo))
    for j in range(w.maxlen):
        v, t, act = w.at(j)
        ns, nc = _kahan_inc(values_of(v, t), s, c)
        s = np.where(act, ns, s)
        c = np.where(act, nc, c)
    return s + c


# -- range-vector functions ----------------------------------------------------
def _over_time(name: str, w: _Windows, param: F64 | None) -> VBlock:
    cnt = w.count
    has = cnt > 0
    with np.errstate(all="ignore"):
        if name == "count_over_time":
            return w.result(cnt.astype(np.float64), has)
        if name == "present_over_time":
            return w.result(np.ones(len(cnt)), has)
        if name == "last_over_time":
            return w.result(w.last()[0], has, keep_name=True)
        if name == "sum_over_time":
            return w.result(_fold_kahan(w, lambda v, t: v), has)
        if name == "avg_over_time":
            return w.result(_avg_over_time(w), has)
        if name in ("min_over_time", "max_over_time"):
            return w.result(_minmax(w, name == "max_over_time"), has)
        if name in ("stddev_over_time", "stdvar_over_time"):
            var = _variance(w)
            return w.result(np.sqrt(var) if name == "stddev_over_time" else var, has)
        if name == "quantile_over_time":
            assert param is not None
            qs = np.broadcast_to(param[None, :], w.shape).ravel()
            out = np.full(len(cnt), np.nan)
            for i in np.flatnonzero(has):
                vals = nan_first_sort(w.m.v[w.lo[i] : w.hi[i]])
                out[i] = quantile_sorted(float(qs[i]), vals)
            return w.result(out, has)
        if name in ("changes", "resets"):
            return w.result(_changes(w, name == "resets"), has)
    raise QueryError(f"unsupported function {name}")


def _avg_over_time(w: _Windows) -> F64:
    # Prometheus 2.x: incremental mean folded with Kahan compensation.
    n = len(w.lo)
    mean = np.zeros(n)
    c = np.zeros(n)
    inf_mode = np.zeros(n, dtype=bool)
    for j in range(w.maxlen):
        v, _, act = w.at(j)
        count = float(j + 1)
        now_inf = act & np.isinf(mean)
        # Once the mean is infinite it only changes to NaN (opposite infinity) or stays.
        flip = now_inf & np.isinf(v) & (np.sign(v) != np.sign(mean))
        mean = np.where(flip, np.nan, mean)
        upd = act & ~now_inf
        nm, nc = _kahan_inc(v / count - mean / count, mean, c)
        mean = np.where(upd, nm, mean)
        c = np.where(upd, nc, c)
        inf_mode |= now_inf
    return np.where(np.isinf(mean), mean, mean + c)


def _variance(w: _Windows) -> F64:
    n = len(w.lo)
    mean = np.zeros(n)
    cmean = np.zeros(n)
    aux = np.zeros(n)
    caux = np.zeros(n)
    for j in range(w.maxlen):
        v, _, act = w.at(j)
        count = float(j + 1)
        delta = v - (mean + cmean)
        nm, ncm = _kahan_inc(delta / count, mean, cmean)
        na, nca = _kahan_inc(delta * (v - (nm + ncm)), aux, caux)
        mean = np.where(act, nm, mean)
        cmean = np.where(act, ncm, cmean)
        aux = np.where(act, na, aux)
        caux = np.where(act, nca, caux)
    out: F64 = (aux + caux) / np.maximum(w.count, 1)
    return out


def _minmax(w: _Windows, is_max: bool) -> F64:
    out = np.full(len(w.lo), np.nan)
    for j in range(w.maxlen):
        v, _, act = w.at(j)
        better = (v > out) if is_max else (v < out)
        take = act & (better | np.isnan(out))
        out = np.where(take, v, out)
    return out


def _changes(w: _Windows, resets: bool) -> F64:
    out = np.zeros(len(w.lo))
    prev, _ = w.first()
    for j in range(1, w.maxlen):
        v, _, act = w.at(j)
        hit = v < prev if resets else (v != prev) & ~(np.isnan(v) & np.isnan(prev))
        out = np.where(act & hit, out + 1, out)
        prev = np.where(act, v, prev)
    return out


def _extrapolated_rate(w: _Windows, *, counter: bool, rate: bool) -> VBlock:
    has = w.count >= 2
    first, first_t = w.first()
    last, last_t = w.last()
    with np.errstate(all="ignore"):
        result = last - first
        if counter:
            prev = first
            for j in range(1, w.maxlen):
                v, _, act = w.at(j)
                reset = act & (v < prev)
                result = np.where(reset, result + prev, result)
                prev = np.where(act, v, prev)
        range_s = w.m.range_ms / 1000
        range_start = w.refs - w.m.range_ms
        to_start = (first_t - range_start) / 1000
        to_end = (w.refs - last_t) / 1000
        sampled = (last_t - first_t) / 1000
        avg = sampled / np.maximum(w.count - 1, 1)
        if counter:
            to_zero = sampled * (first / result)
            use_zero = (result > 0) & (first >= 0) & (to_zero < to_start)
            to_start = np.where(use_zero, to_zero, to_start)
        threshold = avg * 1.1
        interval = sampled.copy()
        interval += np.where(to_start < threshold, to_start, avg / 2)
        interval += np.where(to_end < threshold, to_end, avg / 2)
        factor = interval / sampled
        if rate:
            factor = factor / range_s
        result = result * factor
    return w.result(result, has)


def _instant_rate(w: _Windows, *, rate: bool) -> VBlock:
    last, last_t = w.last(1)
    prev, prev_t = w.last(2)
    with np.errstate(all="ignore"):
        value = np.where(last < prev, last, last - prev) if rate else last - prev
        interval = last_t - prev_t
        has = (w.count >= 2) & (interval != 0)
        if rate:
            value = value / (interval / 1000)
    return w.result(value, has)


def _linear_regression(w: _Windows, intercept_t: I64 | None) -> tuple[F64, F64]:
    n = len(w.lo)
    first, first_t = w.first()
    base_t = first_t if intercept_t is None else intercept_t
    sx = np.zeros(n)
    cx = np.zeros(n)
    sy = np.zeros(n)
    cy = np.zeros(n)
    sxy = np.zeros(n)
    cxy = np.zeros(n)
    sx2 = np.zeros(n)
    cx2 = np.zeros(n)
    const_y = np.ones(n, dtype=bool)
    cnt = np.zeros(n)
    for j in range(w.maxlen):
        v, t, act = w.at(j)
        const_y &= ~(act & (v != first))
        cnt = np.where(act, cnt + 1, cnt)
        x = (t - base_t) / 1e3
        for acc in (("x", x), ("y", v), ("xy", x * v), ("x2", x * x)):
            name, inc = acc
            if name == "x":
                a, b = _kahan_inc(inc, sx, cx)
                sx, cx = np.where(act, a, sx), np.where(act, b, cx)
            elif name == "y":
                a, b = _kahan_inc(inc, sy, cy)
                sy, cy = np.where(act, a, sy), np.where(act, b, cy)
            elif name == "xy":
                a, b = _kahan_inc(inc, sxy, cxy)
                sxy, cxy = np.where(act, a, sxy), np.where(act, b, cxy)
            else:
                a, b = _kahan_inc(inc, sx2, cx2)
                sx2, cx2 = np.where(act, a, sx2), np.where(act, b, cx2)
    with np.errstate(all="ignore"):
        sx, sy, sxy, sx2 = sx + cx, sy + cy, sxy + cxy, sx2 + cx2
        cov = sxy - sx * sy / cnt
        var = sx2 - sx * sx / cnt
        slope = cov / var
        intercept = sy / cnt - slope * sx / cnt
    inf_y = np.isinf(first)
    slope = np.where(const_y, np.where(inf_y, np.nan, 0.0), slope)
    intercept = np.where(const_y, np.where(inf_y, np.nan, first), intercept)
    return slope, intercept


def _range_function(ev: Evaluator, name: str, args: list[Any]) -> VBlock:
    param: F64 | None = None
    marg = args[0]
    if name == "quantile_over_time":
        param = ev.eval_scalar(args[0]).values
        marg = args[1]
    m = ev.eval(marg)
    if not isinstance(m, MBlock):
        raise QueryError(f"{name} expects a range vector")
    w = _Windows(m)
    if name in ("rate", "increase", "delta"):
        return _extrapolated_rate(w, counter=name != "delta", rate=name == "rate")
    if name in ("irate", "idelta"):
        return _instant_rate(w, rate=name == "irate")
    if name == "deriv":
        slope, _ = _linear_regression(w, None)
        return w.result(slope, w.count >= 2)
    if name == "predict_linear":
        horizon = ev.eval_scalar(args[1]).values
        steps = np.broadcast_to(ev.steps[None, :], w.shape).ravel()
        slope, intercept = _linear_regression(w, steps)
        h = np.broadcast_to(horizon[None, :], w.shape).ravel()
        return w.result(slope * h + intercept, w.count >= 2)
    if name == "absent_over_time":
        any_present: Bool = np.asarray((w.count.reshape(w.shape) > 0).any(axis=0))
        return _absent_block(~any_present, marg)
    return _over_time(name, w, param)


RANGE_FUNCTIONS = {
    "rate", "increase", "delta", "irate", "idelta", "deriv", "predict_linear",
    "changes", "resets", "absent_over_time", "quantile_over_time",
    "avg_over_time", "min_over_time", "max_over_time", "sum_over_time",
    "count_over_time", "last_over_time", "stddev_over_time", "stdvar_over_time",
    "present_over_time",
}  # fmt: skip


# -- instant-vector functions --------------------------------------------------
_MATH: dict[str, Callable[[F64], F64]] = {
    "abs": np.abs,
    "ceil": np.ceil,
    "floor": np.floor,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "ln": np.log,
    "log2": lambda v: _go_log2(v),
    "log10": lambda v: _go_log2(v) * _LN2_OVER_LN10,
    "sgn": np.sign,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
    "deg": np.degrees,
    "rad": np.radians,
}


# Go folds these constant expressions exactly, then rounds once.
_INV_LN2 = 1.442695040888963407359924681001892137426645954152985934135
_LN2_OVER_LN10 = 0.301029995663981195213738894724493026768189881462108541310


def _go_log2(v: F64) -> F64:
    """Go's math.Log2 (frexp-based), which rounds differently from C's log2."""
    frac, exp = np.frexp(v)
    with np.errstate(all="ignore"):
        out = np.log(frac) * _INV_LN2 + exp
    out = np.where(frac == 0.5, exp - 1.0, out)
    special = ~np.isfinite(v) | (v <= 0)
    with np.errstate(all="ignore"):
        return np.where(special, np.log2(v), out)


def _map_values(vec: VBlock, fn: Callable[[F64], F64]) -> VBlock:
    with np.errstate(all="ignore"):
        values = fn(vec.values)
    out = VBlock([drop_name(lab) for lab in vec.labels], values, vec.present)
    return merge_rows(out)


def _round(values: F64, to_nearest: F64) -> F64:
    inv = 1.0 / to_nearest[None, :]
    return np.floor(values * inv + 0.5) / inv


def _date_part(name: str, seconds: float) -> float:
    if math.isnan(seconds) or math.isinf(seconds):
        return math.nan
    d = datetime.fromtimestamp(int(seconds), UTC)
    if name == "minute":
        return d.minute
    if name == "hour":
        return d.hour
    if name == "day_of_week":
        return (d.weekday() + 1) % 7
    if name == "day_of_month":
        return d.day
    if name == "day_of_year":
        return d.timetuple().tm_yday
    if name == "days_in_month":
        return calendar.monthrange(d.year, d.month)[1]
    if name == "month":
        return d.month
    if name == "year":
        return d.year
    raise QueryError(f"unknown function {name}")


_DATE_FUNCS = {
    "minute", "hour", "day_of_week", "day_of_month", "day_of_year",
    "days_in_month", "month", "year",
}  # fmt: skip


def _absent_labels(arg: Any) -> Labels:
    while isinstance(arg, pp.ParenExpr):
        arg = arg.expr
    if isinstance(arg, pp.MatrixSelector):
        arg = arg.vector_selector
    if not isinstance(arg, pp.VectorSelector):
        return Labels()
    out: dict[str, str] = {}
    emptied: list[str] = []
    for m in matchers_of(arg):
        if m.name == NAME_LABEL:
            continue
        if m.op is MatchOp.EQ and m.name not in out:
            out[m.name] = m.value
        else:
            emptied.append(m.name)
    for name in emptied:
        out.pop(name, None)
    return Labels(out)


def _absent_block(mask: Bool, arg: Any) -> VBlock:
    k = len(mask)
    if not mask.any():
        return VBlock.empty(k)
    return VBlock([_absent_labels(arg)], np.ones((1, k)), mask[None, :].copy())


_GROUP_REF = re.compile(r"\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


def _go_expand(template: str, match: re.Match[str]) -> str:
    """Expand ``$1``, ``${1}``, ``$name`` and ``$$`` like Go's Regexp.Expand."""

    def repl(m: re.Match[str]) -> str:
        if m.group(1) == "$":
            return "$"
        name = m.group(2) or m.group(3)
        try:
            group = match.group(int(name)) if name.isdigit() else match.group(name)
        except IndexError:  # no such group: Go expands it to ""
            return ""
        return group or ""

    return _GROUP_REF.sub(repl, template)


def _label_replace(vec: VBlock, args: list[str]) -> VBlock:
    dst, replacement, src, regex = args
    try:
        pattern = re.compile(f"^(?:{regex})$", re.DOTALL)
    except re.error as exc:
        raise QueryError(f"invalid regular expression in label_replace(): {regex}: {exc}") from None
    if not (is_valid_label_name(dst) or dst == NAME_LABEL):
        raise QueryError(f"invalid destination label name in label_replace(): {dst}")
    labels = []
    for lab in vec.labels:
        m = pattern.match(lab.get(src) or "")
        labels.append(lab if m is None else _with_label(lab, dst, _go_expand(replacement, m)))
    return merge_rows(VBlock(labels, vec.values, vec.present))


def _label_join(vec: VBlock, dst: str, sep: str, srcs: list[str]) -> VBlock:
    if not (is_valid_label_name(dst) or dst == NAME_LABEL):
        raise QueryError(f"invalid destination label name in label_join(): {dst}")
    labels = [_with_label(lab, dst, sep.join(lab.get(s) or "" for s in srcs)) for lab in vec.labels]
    return merge_rows(VBlock(labels, vec.values, vec.present))


def _with_label(lab: Labels, name: str, value: str) -> Labels:
    """``lab`` with ``name`` set to ``value``; an empty value removes it (Prometheus)."""
    d = dict(lab)
    if value:
        d[name] = value
    else:
        d.pop(name, None)
    return Labels(d)


def _histogram_quantile(q: F64, vec: VBlock) -> VBlock:
    k = vec.k
    groups: dict[Labels, list[tuple[float, int]]] = {}
    for i, lab in enumerate(vec.labels):
        le = lab.get("le")
        if le is None:
            continue
        try:
            bound = float(le)
        except ValueError:
            continue
        key = Labels((a, b) for a, b in lab if a not in ("le", NAME_LABEL))
        groups.setdefault(key, []).append((bound, i))
    labels = list(groups)
    values = np.full((len(labels), k), np.nan)
    present = np.zeros((len(labels), k), dtype=bool)
    for gi, key in enumerate(labels):
        buckets = sorted(groups[key])
        bounds = np.array([b for b, _ in buckets])
        rows = np.array([i for _, i in buckets], dtype=np.intp)
        for s in range(k):
            p = vec.present[rows, s]
            if not p.any():
                continue
            present[gi, s] = True
            values[gi, s] = _bucket_quantile(float(q[s]), bounds[p], vec.values[rows[p], s])
    return VBlock(labels, values, present).compact()


def _bucket_quantile(q: float, bounds: F64, counts: F64) -> float:
    """Prometheus 2.x's bucketQuantile for classic histograms."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if not len(bounds) or not math.isinf(bounds[-1]) or bounds[-1] < 0:
        return math.nan
    # Coalesce equal bounds, then force monotonic counts.
    b_list: list[float] = []
    c_list: list[float] = []
    for b, c in zip(bounds.tolist(), counts.tolist(), strict=True):
        if b_list and b_list[-1] == b:
            c_list[-1] += c
        else:
            b_list.append(b)
            c_list.append(c)
    top = -math.inf
    for i, c in enumerate(c_list):
        if c > top:
            top = c
        elif c < top:
            c_list[i] = top
    if len(b_list) < 2:
        return math.nan
    observations = c_list[-1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = len(b_list) - 1
    for i in range(len(b_list) - 1):
        if c_list[i] >= rank:
            b = i
            break
    if b == len(b_list) - 1:
        return b_list[-2]
    if b == 0 and b_list[0] <= 0:
        return b_list[0]
    start = 0.0
    end = b_list[b]
    count = c_list[b]
    if b > 0:
        start = b_list[b - 1]
        count -= c_list[b - 1]
        rank -= c_list[b - 1]
    return start + (end - start) * (rank / count)


def eval_call(ev: Evaluator, node: Any) -> Any:
    name = node.func.name
    args = list(node.args)
    k = ev.k
    if name in RANGE_FUNCTIONS:
        return _range_function(ev, name, args)
    if name in _MATH:
        return _map_values(ev.eval_vector(args[0]), _MATH[name])
    if name == "time":
        return SBlock(ev.steps / 1000.0)
    if name == "pi":
        return SBlock(np.full(k, math.pi))
    if name == "vector":
        s = ev.eval_scalar(args[0])
        return VBlock([Labels()], s.values[None, :].copy(), np.ones((1, k), dtype=bool))
    if name == "scalar":
        vec = ev.eval_vector(args[0])
        out = np.full(k, np.nan)
        if len(vec.labels):
            one = vec.present.sum(axis=0) == 1
            picked = np.where(vec.present, vec.values, 0.0).sum(axis=0)
            out = np.where(one, picked, np.nan)
        return SBlock(out)
    if name == "round":
        vec = ev.eval_vector(args[0])
        to = ev.eval_scalar(args[1]).values if len(args) > 1 else np.ones(k)
        return _map_values(vec, lambda v: _round(v, to))
    if name in ("clamp", "clamp_min", "clamp_max"):
        vec = ev.eval_vector(args[0])
        if name == "clamp":
            lo = ev.eval_scalar(args[1]).values
            hi = ev.eval_scalar(args[2]).values
            clamped = _map_values(
                vec, lambda v: np.maximum(lo[None, :], np.minimum(hi[None, :], v))
            )
            clamped.present = clamped.present & (hi >= lo)[None, :]
            return clamped.compact()
        bound = ev.eval_scalar(args[1]).values[None, :]
        fn = np.maximum if name == "clamp_min" else np.minimum
        return _map_values(vec, lambda v: fn(v, bound))
    if name == "timestamp":
        arg = args[0]
        while isinstance(arg, pp.ParenExpr):
            arg = arg.expr
        vec = ev.eval_vector(arg)
        if isinstance(arg, pp.VectorSelector) and vec.sample_ts is not None:
            ts = vec.sample_ts / 1000.0
        else:
            ts = np.broadcast_to(ev.steps[None, :] / 1000.0, vec.values.shape)
        return merge_rows(VBlock([drop_name(lab) for lab in vec.labels], ts.copy(), vec.present))
    if name == "absent":
        vec = ev.eval_vector(args[0])
        return _absent_block(np.asarray(~vec.present.any(axis=0)), args[0])
    if name in ("sort", "sort_desc"):
        return ev.eval_vector(args[0])
    if name == "label_replace":
        vec = ev.eval_vector(args[0])
        strs = [_string(ev, a) for a in args[1:5]]
        return _label_replace(vec, strs)
    if name == "label_join":
        vec = ev.eval_vector(args[0])
        strs = [_string(ev, a) for a in args[1:]]
        return _label_join(vec, strs[0], strs[1], strs[2:])
    if name == "histogram_quantile":
        q = ev.eval_scalar(args[0]).values
        return _histogram_quantile(q, ev.eval_vector(args[1]))
    if name in _DATE_FUNCS:
        if args:
            vec = ev.eval_vector(args[0])
        else:
            vec = VBlock([Labels()], (ev.steps / 1000.0)[None, :], np.ones((1, k), dtype=bool))
        part = np.vectorize(lambda x: _date_part(name, float(x)), otypes=[np.float64])
        return _map_values(vec, lambda v: part(v) if v.size else v)
    raise QueryError(f"function {name}() is not supported")


def _string(ev: Evaluator, node: Any) -> str:
    val = ev.eval(node)
    if not isinstance(val, StrVal):
        raise QueryError("expected a string argument")
    return val.value


FUNCTIONS = sorted(
    RANGE_FUNCTIONS
    | set(_MATH)
    | _DATE_FUNCS
    | {
        "time", "pi", "vector", "scalar", "round", "clamp", "clamp_min", "clamp_max",
        "timestamp", "absent", "sort", "sort_desc", "label_replace", "label_join",
        "histogram_quantile",
    }
)  # fmt: skip
