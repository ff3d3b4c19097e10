"""The PromQL evaluator: walks promql-parser's AST over the store.

Semantics follow Prometheus 2.x (the version ``promtool`` 2.42 implements):
instant selectors look back 5 minutes for the newest sample at or before the
evaluation time, range selectors take ``[t - range, t]`` inclusive, staleness
markers hide a series, ``offset`` and ``@`` shift the reference time. Each
selector reads only ``[first step - window, last step]`` from the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import promql_parser as pp

from watchkeeper.model import NAME_LABEL, Labels, Matcher
from watchkeeper.query.blocks import F64, I64, MBlock, SBlock, StrVal, VBlock
from watchkeeper.query.diagnose import describe_parse_error
from watchkeeper.query.nodekey import node_info
from watchkeeper.query.selector import matchers_of
from watchkeeper.query.values import QueryError, is_stale_nan
from watchkeeper.store.base import Series, SeriesColumns, Store

__all__ = ["DEFAULT_LOOKBACK_MS", "Evaluator", "Value", "parse_expr"]

DEFAULT_LOOKBACK_MS = 5 * 60 * 1000

Value = VBlock | SBlock | StrVal | MBlock

_ReadKey = tuple[Matcher, ...]


@dataclass(slots=True)
class FlatRead:
    """One store read, flattened: row ``i``'s points are the i-th run of
    ``lengths`` in ``ts``/``v``. Narrower windows are cut out of it with
    whole-array operations, so a selector used with ``[5m]`` and ``[15m]``
    in one group evaluation reads the store once.
    """

    start_ms: int
    end_ms: int
    labels: list[Labels]
    ts: I64
    v: F64
    lengths: I64

    @staticmethod
    def of(data: SeriesColumns, start_ms: int, end_ms: int) -> FlatRead:
        if not len(data):
            z = np.zeros(0, dtype=np.int64)
            return FlatRead(start_ms, end_ms, [], z, np.zeros(0), z)
        labels = [_full_labels(s) for s in data.series]
        lengths = np.diff(data.offsets).astype(np.int64, copy=False)
        ts = data.timestamps.astype(np.int64, copy=False)
        v = data.values.astype(np.float64, copy=False)
        whole = FlatRead(start_ms - 1, end_ms + 1, labels, ts, v, lengths)
        # Trust no store to return only the asked range: cut() checks.
        return whole.cut(start_ms, end_ms)

    def cut(self, start_ms: int, end_ms: int) -> FlatRead:
        """The points in ``[start_ms, end_ms]`` (rows kept, possibly empty)."""
        if start_ms <= self.start_ms and end_ms >= self.end_ms:
            return self
        ts = self.ts
        if ts.size and int(ts.min()) >= start_ms and int(ts.max()) <= end_ms:
            return FlatRead(start_ms, end_ms, self.labels, ts, self.v, self.lengths)
        keep = (ts >= start_ms) & (ts <= end_ms)
        n = len(self.labels)
        rows = np.repeat(np.arange(n, dtype=np.int64), self.lengths)
        lengths = np.bincount(rows[keep], minlength=n).astype(np.int64)
        return FlatRead(start_ms, end_ms, self.labels, ts[keep], self.v[keep], lengths)


#: A hint never widens a read beyond this (a guard against odd offsets).
_MAX_HINTED_READ_MS = 7 * 24 * 3600 * 1000

#: Memoised subtree results: key -> (value, metric names the subtree reads).
Memo = dict[Any, tuple["Value", frozenset[str] | None]]

#: Node kinds worth memoising (the leaves are cheaper to redo than to key).
_MEMO_TYPES = (
    pp.VectorSelector,
    pp.MatrixSelector,
    pp.SubqueryExpr,
    pp.Call,
    pp.AggregateExpr,
    pp.BinaryExpr,
)


def parse_expr(text: str) -> Any:
    """Parse PromQL with promql-parser; a syntax error becomes a QueryError."""
    try:
        return pp.parse(text)
    except (ValueError, TypeError) as exc:
        raise QueryError(describe_parse_error(text, str(exc))) from None


def duration_ms(td: timedelta | None) -> int:
    if td is None:
        return 0
    return int(td // timedelta(milliseconds=1))


def _labels_with_name(name: str, labels: Labels) -> Labels:
    return Labels((*labels, (NAME_LABEL, name)))


#: Series labels with ``__name__`` added, shared by all evaluations (a series'
#: identity never changes, and rebuilding sorted label tuples is costly).
#: Keyed by the Series object (kept alive, so its id is not reused): a
#: store hands out the same objects every read, and hashing a label tuple
#: costs more than the lookup it keys.
_NAME_CACHE: dict[int, tuple[Series, Labels]] = {}
_CACHE_LIMIT = 200_000


def _full_labels(series: Series) -> Labels:
    hit = _NAME_CACHE.get(id(series))
    if hit is not None and hit[0] is series:
        return hit[1]
    if len(_NAME_CACHE) > _CACHE_LIMIT:
        _NAME_CACHE.clear()
    lab = _labels_with_name(series.name, series.labels)
    _NAME_CACHE[id(series)] = (series, lab)
    return lab


#: A selector node's matchers, by node object (rule ASTs live as long as their
#: rules; reading matchers out of promql-parser's objects is slow).
_MATCHERS: dict[int, tuple[Any, list[Matcher]]] = {}


class Evaluator:
    """Evaluates one expression at the steps ``start, start+step, ..., end``.

    ``reads`` is shared with sub-evaluators (subqueries) and across the rules
    of one group evaluation, so a selector used twice reads the store once.
    ``memo``, when given, goes further: a subtree already evaluated at the
    same steps (same canonical key, see :mod:`~watchkeeper.query.nodekey`)
    returns its earlier result. Results are never mutated after they are
    built, so sharing them is safe; the group runner drops entries whose
    metric names a rule has just written.
    """

    def __init__(
        self,
        store: Store,
        start_ms: int,
        end_ms: int,
        step_ms: int,
        *,
        lookback_ms: int = DEFAULT_LOOKBACK_MS,
        subquery_step_ms: int = 60_000,
        query_start_ms: int | None = None,
        query_end_ms: int | None = None,
        reads: dict[_ReadKey, FlatRead] | None = None,
        memo: Memo | None = None,
        read_hints: dict[_ReadKey, int] | None = None,
    ) -> None:
        if end_ms < start_ms:
            raise QueryError("end timestamp must not be before start time")
        if step_ms <= 0:
            step_ms = 1
        self.store = store
        self.steps: I64 = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.step_ms = step_ms
        self.lookback_ms = lookback_ms
        self.subquery_step_ms = subquery_step_ms
        self.query_start_ms = start_ms if query_start_ms is None else query_start_ms
        self.query_end_ms = end_ms if query_end_ms is None else query_end_ms
        self.reads: dict[_ReadKey, FlatRead] = {} if reads is None else reads
        #: Earliest time each selector is read at in this group evaluation,
        #: so the first read of a selector covers every later window of it.
        self.read_hints = read_hints or {}
        self.memo = memo
        self._frame = (
            start_ms, end_ms, step_ms, lookback_ms, subquery_step_ms,
            self.query_start_ms, self.query_end_ms,
        )  # fmt: skip

    @property
    def k(self) -> int:
        return int(self.steps.shape[0])

    # -- dispatch ----------------------------------------------------------
    def eval(self, node: Any) -> Value:
        memo = self.memo
        if memo is None or not isinstance(node, _MEMO_TYPES):
            return self._eval(node)
        info = node_info(node)
        key = (info.key, self._frame)
        hit = memo.get(key)
        if hit is not None:
            return hit[0]
        val = self._eval(node)
        memo[key] = (val, info.names)
        return val

    def _eval(self, node: Any) -> Value:
        if isinstance(node, pp.NumberLiteral):
            return SBlock(np.full(self.k, float(node.val)))
        if isinstance(node, pp.StringLiteral):
            return StrVal(node.val)
        if isinstance(node, pp.ParenExpr):
            return self.eval(node.expr)
        if isinstance(node, pp.VectorSelector):
            return self.select_vector(node)
        if isinstance(node, pp.MatrixSelector):
            return self.select_matrix(node)
        if isinstance(node, pp.SubqueryExpr):
            return self.subquery(node)
        if isinstance(node, pp.UnaryExpr):
            return self._unary(node)
        if isinstance(node, pp.BinaryExpr):
            from watchkeeper.query.binops import eval_binary

            result: Value = eval_binary(self, node)
            return result
        if isinstance(node, pp.AggregateExpr):
            from watchkeeper.query.aggregate import eval_aggregate

            return eval_aggregate(self, node)
        if isinstance(node, pp.Call):
            from watchkeeper.query.functions import eval_call

            called: Value = eval_call(self, node)
            return called
        raise QueryError(f"unsupported expression {node}")

    def eval_vector(self, node: Any) -> VBlock:
        val = self.eval(node)
        if not isinstance(val, VBlock):
            raise QueryError(f"expected instant vector, got {_kind(val)} in {node}")
        return val

    def eval_scalar(self, node: Any) -> SBlock:
        val = self.eval(node)
        if not isinstance(val, SBlock):
            raise QueryError(f"expected scalar, got {_kind(val)} in {node}")
        return val

    def _unary(self, node: Any) -> Value:
        val = self.eval(node.expr)
        if isinstance(val, SBlock):
            return SBlock(-val.values)
        if isinstance(val, VBlock):
            from watchkeeper.query.blocks import drop_name, merge_rows

            out = VBlock([drop_name(lab) for lab in val.labels], -val.values, val.present)
            return merge_rows(out)
        raise QueryError(f"unary minus needs a scalar or instant vector, got {_kind(val)}")

    # -- time references ---------------------------------------------------
    def refs(self, at: Any, offset: timedelta | None) -> I64:
        """The reference time of each step for a selector: (@ or step) - offset."""
        base = self.steps if at is None else np.full(self.k, self.at_ms(at), dtype=np.int64)
        return base - duration_ms(offset)

    def at_ms(self, at: Any) -> int:
        kind = str(at.type).rsplit(".", 1)[-1]
        if kind == "Start":
            return self.query_start_ms
        if kind == "End":
            return self.query_end_ms
        when: datetime = at.at
        return round(when.timestamp() * 1000)

    # -- storage -----------------------------------------------------------
    def read(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> FlatRead:
        """Points of the matching series in ``[start_ms, end_ms]``, shared via ``reads``."""
        key = tuple(matchers)
        found = self.reads.get(key)
        if found is None or found.start_ms > start_ms or found.end_ms < end_ms:
            lo, hi = start_ms, end_ms
            hint = self.read_hints.get(key)
            if hint is not None and hint < lo and hi - hint <= _MAX_HINTED_READ_MS:
                lo = hint
            if found is not None:
                lo, hi = min(lo, found.start_ms), max(hi, found.end_ms)
            found = FlatRead.of(self.store.read_columns(matchers, lo, hi), lo, hi)
            self.reads[key] = found
        return found.cut(start_ms, end_ms)

    @staticmethod
    def _matchers(vs: Any) -> list[Matcher]:
        hit = _MATCHERS.get(id(vs))
        if hit is not None and hit[0] is vs:
            return hit[1]
        if vs.matchers.or_matchers:
            raise QueryError("'or' between label matchers is not supported")
        found = matchers_of(vs)
        if len(_MATCHERS) > _CACHE_LIMIT:
            _MATCHERS.clear()
        _MATCHERS[id(vs)] = (vs, found)
        return found

    # -- selectors ---------------------------------------------------------
    def select_vector(self, vs: Any) -> VBlock:
        refs = self.refs(vs.at, vs.offset)
        k = self.k
        if k > 1:
            # A range query: the store picks each step's point, so the (often
            # many times larger) raw range is never copied out.
            got = self.store.read_instants(self._matchers(vs), refs, self.lookback_ms)
            if not got.series:
                return VBlock.empty(k)
            labels = [_full_labels(s) for s in got.series]
            present = got.found & ~is_stale_nan(got.values)
            return VBlock(labels, got.values, present, got.timestamps).compact()
        lo_bound = int(refs.min()) - self.lookback_ms
        flat = self.read(self._matchers(vs), lo_bound, int(refs.max()))
        n = len(flat.labels)
        if n == 0 or not flat.ts.size:
            return VBlock.empty(k)
        # One step, and the read holds exactly its lookback window: each
        # series' newest point is its last one.
        ts, v, lengths = flat.ts, flat.v, flat.lengths
        ends = np.cumsum(lengths)
        has = lengths > 0
        last = np.maximum(ends - 1, 0)
        values = v[last][:, None]
        sample_ts = ts[last][:, None]
        present = (has & ~is_stale_nan(v[last]))[:, None]
        return VBlock(flat.labels, values, present, sample_ts).compact()

    def select_matrix(self, ms: Any) -> MBlock:
        vs = ms.vector_selector
        range_ms = duration_ms(ms.range)
        refs = self.refs(vs.at, vs.offset)
        flat = self.read(self._matchers(vs), int(refs.min()) - range_ms, int(refs.max()))
        n = len(flat.labels)
        if n == 0:
            return _mblock([], [], [], refs, range_ms)
        labels, ts, v, lengths = flat.labels, flat.ts, flat.v, flat.lengths
        stale = is_stale_nan(v)
        if stale.any():
            # Staleness markers are not points of a range.
            keep = ~stale
            rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
            lengths = np.bincount(rows[keep], minlength=n).astype(np.int64)
            ts, v = ts[keep], v[keep]
        nonempty = lengths > 0
        if not nonempty.all():  # series without a point in the range are left out
            labels = [labels[i] for i in np.flatnonzero(nonempty)]
            lengths = lengths[nonempty]
        offsets = np.zeros(len(labels) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return MBlock(labels, ts, v, offsets, refs, range_ms)

    def subquery(self, sq: Any) -> MBlock:
        range_ms = duration_ms(sq.range)
        step = duration_ms(sq.step) or self.subquery_step_ms
        refs = self.refs(sq.at, sq.offset)
        lo = int(refs.min()) - range_ms
        start = step * (lo // step)
        if start < lo:
            start += step
        end = int(refs.max())
        if end < start:
            return _mblock([], [], [], refs, range_ms)
        child = Evaluator(
            self.store,
            start,
            end,
            step,
            lookback_ms=self.lookback_ms,
            subquery_step_ms=self.subquery_step_ms,
            query_start_ms=self.query_start_ms,
            query_end_ms=self.query_end_ms,
            reads=self.reads,
            memo=self.memo,
            read_hints=self.read_hints,
        )
        inner = child.eval(sq.expr)
        if isinstance(inner, SBlock):
            raise QueryError("subquery is only allowed on instant vector")
        if not isinstance(inner, VBlock):
            raise QueryError(f"subquery needs an instant vector, got {_kind(inner)}")
        labels: list[Labels] = []
        ts_parts = []
        v_parts = []
        for i, lab in enumerate(inner.labels):
            p = inner.present[i]
            if p.any():
                labels.append(lab)
                ts_parts.append(child.steps[p])
                v_parts.append(inner.values[i, p])
        return _mblock(labels, ts_parts, v_parts, refs, range_ms)


def _mblock(
    labels: list[Labels],
    ts_parts: list[Any],
    v_parts: list[Any],
    refs: I64,
    range_ms: int,
) -> MBlock:
    n = len(labels)
    offsets = np.zeros(n + 1, dtype=np.int64)
    if n:
        np.cumsum([len(p) for p in ts_parts], out=offsets[1:])
        ts = np.concatenate(ts_parts).astype(np.int64, copy=False)
        v = np.concatenate(v_parts).astype(np.float64, copy=False)
    else:
        ts = np.zeros(0, dtype=np.int64)
        v = np.zeros(0)
    return MBlock(labels, ts, v, offsets, refs, range_ms)


def _kind(val: Value) -> str:
    return {
        VBlock: "instant vector",
        SBlock: "scalar",
        StrVal: "string",
        MBlock: "range vector",
    }[type(val)]
