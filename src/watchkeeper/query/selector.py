"""Turn a PromQL series selector (``foo{job="api"}``) into the model's matchers.

The CLI, the web API's ``match[]`` parameters and the evaluator all need this;
parsing goes through ``promql-parser`` so the accepted syntax is exactly
PromQL's, with no hand-written grammar to drift from it.
"""

from __future__ import annotations

import promql_parser

from watchkeeper.model import NAME_LABEL, Matcher, MatchOp

__all__ = ["SelectorError", "matchers_of", "parse_selector"]

_OPS = {
    "Equal": MatchOp.EQ,
    "NotEqual": MatchOp.NE,
    "Re": MatchOp.RE,
    "NotRe": MatchOp.NRE,
}


class SelectorError(ValueError):
    """The text is not a valid series selector."""


def _op(op: object) -> MatchOp:
    # promql_parser.MatchOp is an enum; its name says which operator it is.
    name = getattr(op, "name", None) or str(op).rsplit(".", 1)[-1]
    try:
        return _OPS[name]
    except KeyError:  # pragma: no cover - the parser has exactly four operators
        raise SelectorError(f"unknown match operator {op!r}") from None


def matchers_of(vs: promql_parser.VectorSelector) -> list[Matcher]:
    """The complete matcher list of a parsed vector selector.

    The metric name, when written as ``foo{...}``, becomes a ``__name__="foo"``
    matcher first, so the list can go straight to ``Store.select``.
    """
    out: list[Matcher] = []
    has_name_matcher = any(m.name == NAME_LABEL for m in vs.matchers.matchers)
    if vs.name is not None and not has_name_matcher:
        out.append(Matcher(NAME_LABEL, MatchOp.EQ, vs.name))
    for m in vs.matchers.matchers:
        try:
            out.append(Matcher(m.name, _op(m.op), m.value))
        except ValueError as exc:
            raise SelectorError(str(exc)) from None
    return out


def parse_selector(text: str) -> tuple[str | None, list[Matcher]]:
    """Parse ``text`` as one series selector.

    Returns ``(metric name or None, matchers)``. The matchers are complete:
    they include ``__name__="name"`` when a name was given, so callers can
    pass them to ``Store.select``/``read_range`` unchanged. A selector that
    matches everything (``{a=~".*"}``) is refused, as Prometheus does.
    """
    text = text.strip()
    if not text:
        raise SelectorError("empty selector")
    try:
        expr = promql_parser.parse(text)
    except ValueError as exc:
        raise SelectorError(f"invalid selector {text!r}: {exc}") from None
    if not isinstance(expr, promql_parser.VectorSelector):
        raise SelectorError(f'{text!r} is not a series selector (expected e.g. foo{{job="api"}})')
    if expr.offset is not None or expr.at is not None:
        raise SelectorError(f"{text!r}: offset and @ are not allowed in a series selector")
    if expr.matchers.or_matchers:
        raise SelectorError(f"{text!r}: 'or' inside braces is not supported")
    matchers = matchers_of(expr)
    name = expr.name
    if name is None:
        name_eq = [m.value for m in matchers if m.name == NAME_LABEL and m.op is MatchOp.EQ]
        name = name_eq[0] if name_eq else None
    return name, matchers
