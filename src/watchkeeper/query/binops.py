"""Binary operators: arithmetic, comparison (with ``bool``), set operators,
and vector matching with ``on``/``ignoring`` and ``group_left``/``group_right``.

Matching is computed once per series (label sets do not change across steps);
only the cardinality checks and the values are per step, done with numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from watchkeeper.model import NAME_LABEL, Labels
from watchkeeper.query.blocks import F64, Bool, SBlock, VBlock, drop_name, merge_rows
from watchkeeper.query.values import QueryError

if TYPE_CHECKING:
    from watchkeeper.query.engine import Evaluator

__all__ = ["eval_binary"]

ARITH = {"+", "-", "*", "/", "%", "^", "atan2"}
COMPARE = {"==", "!=", ">", "<", ">=", "<="}
SETOPS = {"and", "or", "unless"}


def _arith(op: str, a: F64, b: F64) -> F64:
    with np.errstate(all="ignore"):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a / b
        if op == "%":
            return np.fmod(a, b)
        if op == "^":
            return np.power(a, b)
        if op == "atan2":
            return np.arctan2(a, b)
    raise QueryError(f"unknown operator {op}")


def _compare(op: str, a: F64, b: F64) -> Bool:
    out: Bool = _compare_any(op, a, b)
    return out


def _compare_any(op: str, a: F64, b: F64) -> Any:
    with np.errstate(invalid="ignore"):
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        if op == ">":
            return a > b
        if op == "<":
            return a < b
        if op == ">=":
            return a >= b
        if op == "<=":
            return a <= b
    raise QueryError(f"unknown operator {op}")


class _Matching:
    """The parsed vector-matching modifier, with Prometheus's defaults."""

    def __init__(self, modifier: Any, op: str) -> None:
        self.card = "OneToOne"
        self.on = False
        self.labels: tuple[str, ...] = ()
        self.include: tuple[str, ...] = ()
        self.return_bool = False
        if op in SETOPS:
            self.card = "ManyToMany"
        if modifier is not None:
            self.card = str(modifier.card).rsplit(".", 1)[-1]
            self.return_bool = bool(modifier.return_bool)
            if modifier.matching is not None:
                self.on = str(modifier.matching.type).endswith("Include")
                self.labels = tuple(modifier.matching.labels)
            if modifier.group_labels:
                self.include = tuple(modifier.group_labels)

    def signature(self, labels: Labels) -> tuple[tuple[str, str], ...]:
        if self.on:
            wanted = self.labels
            return tuple((k, v) for k, v in labels if k in wanted)
        ignored = self.labels
        return tuple((k, v) for k, v in labels if k != NAME_LABEL and k not in ignored)


def eval_binary(ev: Evaluator, node: Any) -> Any:
    op = str(node.op)
    lhs = ev.eval(node.lhs)
    rhs = ev.eval(node.rhs)
    m = _Matching(node.modifier, op)
    if op in SETOPS:
        if not (isinstance(lhs, VBlock) and isinstance(rhs, VBlock)):
            raise QueryError(f"set operator {op} not allowed in binary scalar expression")
        return _set_op(op, lhs, rhs, m)
    if isinstance(lhs, SBlock) and isinstance(rhs, SBlock):
        if op in COMPARE:
            return SBlock(_compare(op, lhs.values, rhs.values).astype(np.float64))
        return SBlock(_arith(op, lhs.values, rhs.values))
    if isinstance(lhs, VBlock) and isinstance(rhs, SBlock):
        return _vector_scalar(op, lhs, rhs.values, swap=False, return_bool=m.return_bool)
    if isinstance(lhs, SBlock) and isinstance(rhs, VBlock):
        return _vector_scalar(op, rhs, lhs.values, swap=True, return_bool=m.return_bool)
    if isinstance(lhs, VBlock) and isinstance(rhs, VBlock):
        return _vector_vector(op, lhs, rhs, m)
    raise QueryError(f"operator {op} not defined on these operand types")


def _vector_scalar(op: str, vec: VBlock, scalar: F64, *, swap: bool, return_bool: bool) -> VBlock:
    lv = vec.values
    rv = np.broadcast_to(scalar[None, :], lv.shape)
    a, b = (rv, lv) if swap else (lv, rv)
    present = vec.present
    if op in COMPARE:
        keep = _compare(op, a, b)
        if return_bool:
            values = keep.astype(np.float64)
        else:
            values = lv  # the vector's value, whichever side it is on
            present = present & keep
    else:
        values = _arith(op, a, b)
    drop = op in ARITH or return_bool
    labels = [drop_name(lab) for lab in vec.labels] if drop else vec.labels
    out = VBlock(labels, values, present)
    return merge_rows(out.compact()) if drop else out.compact()


def _set_op(op: str, lhs: VBlock, rhs: VBlock, m: _Matching) -> VBlock:
    k = lhs.k
    sig_index: dict[tuple[tuple[str, str], ...], int] = {}
    r_sig = np.array(
        [sig_index.setdefault(m.signature(lab), len(sig_index)) for lab in rhs.labels],
        dtype=np.intp,
    )
    l_sig = np.array(
        [sig_index.setdefault(m.signature(lab), len(sig_index)) for lab in lhs.labels],
        dtype=np.intp,
    )
    g = len(sig_index)
    if op in ("and", "unless"):
        r_any = np.zeros((g, k), dtype=bool)
        if len(r_sig):
            np.logical_or.at(r_any, r_sig, rhs.present)
        hit = r_any[l_sig] if len(l_sig) else np.zeros((0, k), dtype=bool)
        present = lhs.present & (hit if op == "and" else ~hit)
        return VBlock(lhs.labels, lhs.values, present).compact()
    # or
    l_any = np.zeros((g, k), dtype=bool)
    if len(l_sig):
        np.logical_or.at(l_any, l_sig, lhs.present)
    r_present = rhs.present & ~l_any[r_sig] if len(r_sig) else rhs.present
    out = VBlock(
        lhs.labels + rhs.labels,
        np.concatenate([lhs.values, rhs.values]),
        np.concatenate([lhs.present, r_present]),
    )
    return merge_rows(out.compact())


def _describe(sig: tuple[tuple[str, str], ...]) -> str:
    return str(Labels(sig))


def _vector_vector(op: str, lhs: VBlock, rhs: VBlock, m: _Matching) -> VBlock:
    k = lhs.k
    if m.card == "ManyToMany":
        raise QueryError("many-to-many only allowed for set operators")
    swapped = m.card == "OneToMany"
    many, one = (rhs, lhs) if swapped else (lhs, rhs)
    one_side = "left" if swapped else "right"

    # The "one" side: one combined row per signature; duplicates present at the
    # same step are the error Prometheus reports.
    one_index: dict[tuple[tuple[str, str], ...], int] = {}
    one_owner = np.empty(len(one.labels), dtype=np.intp)
    for i, lab in enumerate(one.labels):
        one_owner[i] = one_index.setdefault(m.signature(lab), len(one_index))
    g = len(one_index)
    counts = np.zeros((g, k), dtype=np.int64)
    if len(one_owner):
        np.add.at(counts, one_owner, one.present.astype(np.int64))
    if (counts > 1).any():
        sig = next(s for s, j in one_index.items() if (counts[j] > 1).any())
        raise QueryError(
            f"found duplicate series for the match group {_describe(sig)} on the {one_side} "
            "hand-side of the operation; many-to-many matching not allowed: "
            "matching labels must be unique on one side"
        )
    one_vals = np.zeros((g, k))
    one_row = np.full(g, -1, dtype=np.intp)  # a representative row for labels
    for i in range(len(one.labels)):
        p = one.present[i]
        one_vals[one_owner[i], p] = one.values[i, p]
        if one_row[one_owner[i]] < 0 or p.any():
            one_row[one_owner[i]] = i
    one_present = counts > 0

    # Pair each "many" row with its signature's row on the other side.
    pairs_many = []
    pairs_one = []
    for i, lab in enumerate(many.labels):
        j = one_index.get(m.signature(lab))
        if j is not None:
            pairs_many.append(i)
            pairs_one.append(j)
    if not pairs_many:
        return VBlock.empty(k)
    pm = np.array(pairs_many, dtype=np.intp)
    po = np.array(pairs_one, dtype=np.intp)
    present = many.present[pm] & one_present[po]
    if m.card == "OneToOne":
        # Two left series matching the same right one at the same step.
        hits = np.zeros((g, k), dtype=np.int64)
        np.add.at(hits, po, present.astype(np.int64))
        if (hits > 1).any():
            raise QueryError(
                "multiple matches for labels: many-to-one matching must be explicit "
                "(group_left/group_right)"
            )
    mv = many.values[pm]
    ov = one_vals[po]
    vl, vr = (ov, mv) if swapped else (mv, ov)
    if op in COMPARE:
        keep = _compare(op, vl, vr)
        if m.return_bool:
            values = keep.astype(np.float64)
        else:
            values = vl
            present = present & keep
    else:
        values = _arith(op, vl, vr)
    labels = []
    drop = op in ARITH or m.return_bool
    for i, j in zip(pm, po, strict=True):
        labels.append(_result_labels(many.labels[i], one.labels[one_row[j]], m, drop))
    out = VBlock(labels, values, present).compact()
    return merge_rows(
        out, "multiple matches for labels: grouping labels must ensure unique matches"
    )


def _result_labels(many: Labels, one: Labels, m: _Matching, drop: bool) -> Labels:
    d = dict(many)
    if drop:
        d.pop(NAME_LABEL, None)
    if m.card == "OneToOne":
        if m.on:
            d = {k: v for k, v in d.items() if k in m.labels}
        else:
            for name in m.labels:
                d.pop(name, None)
    if m.include:
        od = dict(one)
        for name in m.include:
            val = od.get(name, "")
            if val:
                d[name] = val
            else:
                d.pop(name, None)
    return Labels(d)
