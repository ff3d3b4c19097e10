"""Parse errors name their position in the expression, as Prometheus's do."""

from __future__ import annotations

import promql_parser
import pytest

from watchkeeper.query.diagnose import describe_parse_error, locate_parse_error

# (expression, where the error is: the text from that point on, or "$" for the end)
CASES = [
    ("sum(rate(x[5m]) by (job)", "(rate"),  # the parenthesis left open
    ("abs(x", "(x"),
    # Brackets pair as written: the last ')' closes rate(, so sum's is the open one.
    ("sum by (job) (\n  rate(x[5m]\n)", "(\n  rate"),
    ("sum(x))", ")"),
    ("x[5m", "[5m"),
    ("x[5m:1m", "[5m:1m"),
    ('x{a="b"', '{a="b"'),
    ("rate(x[5m)", ")"),
    ('x{job="a", env=prod}', "prod}"),
    ("rate(x[5q])", "5q])"),
    ("unknown_fn(x)", "unknown_fn(x)"),
    ('x{a!~"("}', '"("}'),
    ('foo{job="a(b"} + bar{x=~"a("}', '"a("}'),  # only a regex matcher's string
    ('x{a="b', '"b'),
    ("x offset", "$"),
    ("foo and", "$"),
    ("sum(x) by", "$"),
    ('x{a="b"} ==', "$"),
    ("up + # a comment\n", " # a comment"),  # the end of the code, not of the comment
]


def parser_message(expr: str) -> str:
    """What promql-parser says of ``expr`` (which must not parse)."""
    try:
        promql_parser.parse(expr)
    except ValueError as exc:
        return str(exc)
    raise AssertionError(f"{expr!r} parsed")


@pytest.mark.parametrize(("expr", "where"), CASES)
def test_each_parser_message_is_located(expr: str, where: str) -> None:
    message = parser_message(expr)
    expected = len(expr.rstrip()) if where == "$" else expr.rindex(where)
    assert locate_parse_error(expr, message) == expected, message


def test_brackets_inside_strings_and_comments_do_not_count() -> None:
    expr = 'sum(x{a="(("}) # ((\n+ abs(y'
    assert describe_parse_error(expr, parser_message(expr)) == (
        "2:6: parse error: unclosed left parenthesis"
    )


def test_a_message_it_cannot_place_goes_out_without_a_position() -> None:
    # "invalid promql query" in the middle of an expression: no guess.
    expr = "sum by (a b) (x)"
    message = parser_message(expr)
    assert locate_parse_error(expr, message) is None
    assert describe_parse_error(expr, message) == f"parse error: {message}"


def test_lines_and_columns_are_one_based() -> None:
    assert describe_parse_error("abs(x", "unclosed left parenthesis") == (
        "1:4: parse error: unclosed left parenthesis"
    )
    assert describe_parse_error("a +\n  abs(x", "unclosed left parenthesis") == (
        "2:6: parse error: unclosed left parenthesis"
    )
