"""Canonical keys of parsed PromQL nodes, for sharing results between rules.

The rules of one group are evaluated at the same instant over the same data,
and real rule files repeat subexpressions a lot (a warning and a critical rule
on the same expression, ``rate(http_requests_total[5m])`` in five rules), so
the group runner memoises evaluated subtrees. The memo needs a key that is
equal exactly when two subtrees mean the same thing; promql-parser's ``str()``
is not one (it prints ``foo[1h:]`` as ``foo[1h]``), hence this module. Each
key comes with the metric names the subtree reads, so an entry can be dropped
when a rule writes one of them (``None``: reads any name).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import promql_parser as pp

from watchkeeper.model import NAME_LABEL, MatchOp
from watchkeeper.query.selector import matchers_of

__all__ = ["NodeInfo", "node_info", "selector_lookbacks"]


@dataclass(frozen=True, slots=True)
class NodeInfo:
    key: Any
    #: Metric names the subtree reads; None when a selector has no fixed name.
    names: frozenset[str] | None


#: id(node) -> (node, info). The node is kept alive so its id is not reused.
_CACHE: dict[int, tuple[Any, NodeInfo]] = {}
_CACHE_LIMIT = 100_000


def node_info(node: Any) -> NodeInfo:
    """The canonical key and read names of ``node`` (cached per node object)."""
    hit = _CACHE.get(id(node))
    if hit is not None and hit[0] is node:
        return hit[1]
    info = _build(node)
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[id(node)] = (node, info)
    return info


def _union(infos: list[NodeInfo]) -> frozenset[str] | None:
    out: set[str] = set()
    for i in infos:
        if i.names is None:
            return None
        out |= i.names
    return frozenset(out)


def _at_key(at: Any) -> Any:
    if at is None:
        return None
    kind = str(at.type).rsplit(".", 1)[-1]
    if kind in ("Start", "End"):
        return kind
    return round(at.at.timestamp() * 1000)


def _build(node: Any) -> NodeInfo:
    if isinstance(node, pp.NumberLiteral):
        return NodeInfo(("n", float(node.val).hex()), frozenset())
    if isinstance(node, pp.StringLiteral):
        return NodeInfo(("s", node.val), frozenset())
    if isinstance(node, pp.ParenExpr):
        return node_info(node.expr)
    if isinstance(node, pp.VectorSelector):
        matchers = tuple(matchers_of(node))
        ors = tuple(
            tuple((m.name, str(m.op), m.value) for m in group)
            for group in (node.matchers.or_matchers or [])
        )
        fixed = [m.value for m in matchers if m.name == NAME_LABEL and m.op is MatchOp.EQ]
        names = frozenset(fixed[:1]) if fixed and not ors else None
        return NodeInfo(("v", matchers, ors, node.offset, _at_key(node.at)), names)
    if isinstance(node, pp.MatrixSelector):
        inner = node_info(node.vector_selector)
        return NodeInfo(("m", inner.key, node.range), inner.names)
    if isinstance(node, pp.SubqueryExpr):
        inner = node_info(node.expr)
        key = ("q", inner.key, node.range, node.step, node.offset, _at_key(node.at))
        return NodeInfo(key, inner.names)
    if isinstance(node, pp.UnaryExpr):
        inner = node_info(node.expr)
        return NodeInfo(("u", inner.key), inner.names)
    if isinstance(node, pp.BinaryExpr):
        lhs, rhs = node_info(node.lhs), node_info(node.rhs)
        mod = node.modifier
        mkey: Any = None
        if mod is not None:
            matching = mod.matching
            mkey = (
                str(mod.card),
                None if matching is None else (str(matching.type), tuple(matching.labels)),
                tuple(mod.group_labels or ()),
                bool(mod.return_bool),
            )
        return NodeInfo(("b", str(node.op), lhs.key, rhs.key, mkey), _union([lhs, rhs]))
    if isinstance(node, pp.AggregateExpr):
        inner = node_info(node.expr)
        parts = [inner]
        pkey = None
        if node.param is not None:
            param = node_info(node.param)
            parts.append(param)
            pkey = param.key
        agg_mod = node.modifier
        mkey = None if agg_mod is None else (str(agg_mod.type), tuple(agg_mod.labels))
        return NodeInfo(("a", str(node.op), inner.key, pkey, mkey), _union(parts))
    if isinstance(node, pp.Call):
        args = [node_info(a) for a in node.args]
        return NodeInfo(("c", node.func.name, tuple(a.key for a in args)), _union(args))
    # Unknown node kinds never share a key with anything else.
    return NodeInfo(("?", id(node)), None)


def selector_lookbacks(
    node: Any, lookback_ms: int, out: dict[Any, int] | None = None
) -> dict[Any, int]:
    """How far back (ms before the evaluation time) each selector reads.

    Keys are matcher tuples as the evaluator reads them. Selectors under a
    subquery or with ``@`` read elsewhere in time and are left out (they are
    read on demand).
    """
    found: dict[Any, int] = {} if out is None else out

    def note(vs: Any, window_ms: int) -> None:
        if vs.at is not None or vs.matchers.or_matchers:
            return
        back = window_ms + (_ms(vs.offset) if vs.offset is not None else 0)
        key = tuple(matchers_of(vs))
        found[key] = max(found.get(key, 0), back)

    def visit(n: Any) -> None:
        if isinstance(n, pp.ParenExpr | pp.UnaryExpr):
            visit(n.expr)
        elif isinstance(n, pp.VectorSelector):
            note(n, lookback_ms)
        elif isinstance(n, pp.MatrixSelector):
            note(n.vector_selector, _ms(n.range))
        elif isinstance(n, pp.BinaryExpr):
            visit(n.lhs)
            visit(n.rhs)
        elif isinstance(n, pp.AggregateExpr):
            visit(n.expr)
            if n.param is not None:
                visit(n.param)
        elif isinstance(n, pp.Call):
            for a in n.args:
                visit(a)

    visit(node)
    return found


def _ms(td: Any) -> int:
    return int(td.total_seconds() * 1000)
