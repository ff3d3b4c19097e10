from __future__ import annotations

import pytest

from watchkeeper.model import Matcher, MatchOp
from watchkeeper.query.selector import SelectorError, parse_selector


def test_name_and_all_four_matchers() -> None:
    name, ms = parse_selector('foo{a="1",b!="2",c=~"x|y",d!~"z.*"}')
    assert name == "foo"
    assert ms == [
        Matcher("__name__", MatchOp.EQ, "foo"),
        Matcher("a", MatchOp.EQ, "1"),
        Matcher("b", MatchOp.NE, "2"),
        Matcher("c", MatchOp.RE, "x|y"),
        Matcher("d", MatchOp.NRE, "z.*"),
    ]


def test_name_given_as_matcher() -> None:
    name, ms = parse_selector('{__name__="up",job="x"}')
    assert name == "up"
    assert Matcher("job", MatchOp.EQ, "x") in ms


@pytest.mark.parametrize("text", ["", "foo{", "rate(x[5m])", "x[5m]", '{a=~".*"}', "x offset 5m"])
def test_bad_selectors_raise_clear_errors(text: str) -> None:
    with pytest.raises(SelectorError):
        parse_selector(text)
