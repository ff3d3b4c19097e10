"""The shared data model: labels are canonical, matchers follow Prometheus."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchkeeper.model import (
    Labels,
    Matcher,
    MatchOp,
    Sample,
    is_valid_label_name,
    is_valid_metric_name,
)

label_names = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)


@given(st.dictionaries(label_names, st.text(max_size=5), max_size=6))
def test_labels_are_order_independent(pairs: dict[str, str]) -> None:
    forward = Labels(pairs)
    backward = Labels(dict(reversed(list(pairs.items()))))
    assert forward == backward
    assert hash(forward) == hash(backward)
    assert forward.as_dict() == pairs
    assert list(forward.names()) == sorted(pairs)


def test_labels_merge_keeps_existing_values() -> None:
    own = Labels({"instance": "db-1", "device": "sda"})
    merged = own.merge({"instance": "host", "env": "prod"})
    assert merged.as_dict() == {"instance": "db-1", "device": "sda", "env": "prod"}
    assert own.merge({}) is own
    assert merged.without("env") == own
    assert merged.get("missing") is None
    assert "device" in merged


def test_series_text_escapes_values() -> None:
    s = Sample("m", Labels({"path": 'a"b\\c\nd'}), 1, 1.0)
    assert s.series_text() == 'm{path="a\\"b\\\\c\\nd"}'
    assert Sample("m", Labels(), 1, 1.0).series_text() == "m"


@pytest.mark.parametrize(
    ("op", "pattern", "value", "expected"),
    [
        (MatchOp.EQ, "a", "a", True),
        (MatchOp.EQ, "", "", True),  # a missing label equals ""
        (MatchOp.NE, "a", "b", True),
        (MatchOp.RE, "ab|cd", "cd", True),
        (MatchOp.RE, "a", "ab", False),  # fully anchored
        (MatchOp.RE, ".*", "", True),
        (MatchOp.NRE, "sd.", "sda", False),
        (MatchOp.NRE, "sd.", "nvme0", True),
        (MatchOp.RE, "a.b", "a\nb", True),  # . matches newlines, as in RE2 with (?s)
    ],
)
def test_matcher_semantics(op: MatchOp, pattern: str, value: str, expected: bool) -> None:
    assert Matcher("x", op, pattern).matches(value) is expected


def test_invalid_regex_is_refused_with_reason() -> None:
    with pytest.raises(ValueError, match="invalid regular expression"):
        Matcher("x", MatchOp.RE, "(")


def test_name_validation() -> None:
    assert is_valid_metric_name("host_cpu_usage_percent")
    assert is_valid_metric_name("job:rate5m")
    assert not is_valid_metric_name("9lives")
    assert not is_valid_metric_name("a-b")
    assert is_valid_label_name("mountpoint")
    assert not is_valid_label_name("__name__")
    assert not is_valid_label_name("a:b")


def test_public_api_is_reexported_from_the_root() -> None:
    import watchkeeper

    for name in watchkeeper.__all__:
        assert getattr(watchkeeper, name) is not None, name
    with pytest.raises(AttributeError):
        _ = watchkeeper.NoSuchThing  # type: ignore[attr-defined]
