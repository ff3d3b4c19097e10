from __future__ import annotations

import pytest

from watchkeeper.rules.gofmt import go_float, go_sprintf
from watchkeeper.rules.template import TemplateError, expand, parse_template


def render(text: str, value: float = 0.8567, labels: dict[str, str] | None = None) -> str:
    labels = labels or {"instance": "h1", "job": "x"}
    data = {"Labels": labels, "Value": value, "ExternalLabels": {"c": "eu"}, "ExternalURL": "u"}
    variables = {"$labels": labels, "$value": value, "$externalLabels": {"c": "eu"}}
    return expand(parse_template(text, "t"), data, variables=variables)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("{{ $value }} {{ $labels.instance }} {{ .Labels.job }}", "0.8567 h1 x"),
        ("{{ $value | humanizePercentage }}", "85.67%"),
        (
            "{{ humanize 1234567.0 }}|{{ humanize 0.00012 }}|{{ humanize1024 1048576.0 }}",
            "1.235M|120u|1Mi",
        ),
        ("{{ humanizeDuration 90061.0 }}|{{ humanizeDuration 0.5 }}", "1d 1h 1m 1s|500ms"),
        ('{{ printf "%.1f%%" $value }}', "0.9%"),
        ("{{ if gt $value 0.5 }}hi{{ else if gt $value 0.1 }}mid{{ else }}lo{{ end }}", "hi"),
        ("{{- range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end -}}", "instance=h1;job=x;"),
        ("{{ with $labels.none }}x{{ else }}none{{ end }}", "none"),
        ("{{ $externalLabels.c }}", "eu"),
        ('{{ $x := "a" }}{{ $x }}{{/* comment */}}', "a"),
        ('{{ reReplaceAll "(h)(\\\\d)" "$2$1" $labels.instance }}', "1h"),
    ],
)
def test_expansions(text: str, want: str) -> None:
    assert render(text) == want


def test_go_number_formatting() -> None:
    assert go_float(1e6) == "1e+06"
    assert go_float(123456.0) == "123456"
    assert go_float(1e-5) == "1e-05"
    assert go_float(float("inf")) == "+Inf"
    assert go_sprintf("%d items, %s", 3, "ok") == "3 items, ok"


@pytest.mark.parametrize(
    "text", ["{{ $value", "{{ if true }}x", "{{ end }}", '{{ define "x" }}{{ end }}']
)
def test_parse_errors(text: str) -> None:
    with pytest.raises(TemplateError):
        parse_template(text, "t")


def test_runtime_errors_are_template_errors() -> None:
    with pytest.raises(TemplateError, match="incompatible types"):
        render("{{ gt $value 1 }}")
    with pytest.raises(TemplateError, match="not defined"):
        render("{{ nosuchfunc 1 }}")
