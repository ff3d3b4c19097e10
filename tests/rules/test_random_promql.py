"""Random PromQL cases: watchkeeper and promtool 2.42 must agree (see random_promql.py).

A bounded, derandomized run keeps the normal suite fast and repeatable;
``python -m tests.rules.random_promql --examples N`` runs more.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from rules import random_promql as rp
from watchkeeper.model import Labels
from wk_testing import require_tool

EXAMPLES = 50


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_tool("promtool")


def test_random_cases_agree_with_promtool(
    promtool: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    workdir = tmp_path_factory.mktemp("random_promql")
    tally = {"agree": 0, "disagree": 0, "invalid": 0}
    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=rp.cases())
    def run(case: rp.Case) -> None:
        out = rp.compare(case, promtool, workdir)
        tally[out.verdict] += 1
        if out.verdict == "disagree":
            failures.append(f"{case.expr} @ {case.eval_s}s\n{case.series}\n{out.detail}")

    run()
    assert not failures, "\n---\n".join(failures[:3])
    # Most generated cases must be valid, or the comparison proves little.
    assert tally["agree"] >= EXAMPLES * 0.9, tally


def test_a_wrong_value_is_a_disagreement(
    promtool: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The harness can fail: a result off by more than the epsilon is caught."""
    case = rp.Case((('a{job="api", inst="1"}', "0+10x10"),), "rate(a[5m])", 300)
    assert rp.compare(case, promtool, tmp_path).verdict == "agree"
    right = rp.watchkeeper_result(case)
    assert isinstance(right, list)
    assert len(right) == 1
    labels, value = right[0]
    monkeypatch.setattr(rp, "watchkeeper_result", lambda c: [(labels, value * (1 + 1e-5))])
    assert rp.compare(case, promtool, tmp_path).verdict == "disagree"
    monkeypatch.setattr(rp, "watchkeeper_result", lambda c: [(Labels(), value)])
    assert rp.compare(case, promtool, tmp_path).verdict == "disagree"


def test_an_error_must_be_an_error_in_both(promtool: str, tmp_path: Path) -> None:
    series = (('a{job="api", inst="1"}', "1 2 3"), ('a{job="web", inst="1"}', "1 2 3"))
    many_to_many = rp.Case(series, "a / on (inst) a", 120)
    assert isinstance(rp.watchkeeper_result(many_to_many), str)
    assert rp.compare(many_to_many, promtool, tmp_path).verdict == "agree"


def test_a_case_promtool_cannot_parse_is_invalid(promtool: str, tmp_path: Path) -> None:
    case = rp.Case((('a{job="api", inst="1"}', "1 2 3"),), "rate(a[5m]", 120)
    assert rp.compare(case, promtool, tmp_path).verdict == "invalid"


def test_almost_equal_follows_promql_epsilon() -> None:
    assert rp.almost_equal(1.0, 1.0 + 1e-9)
    assert not rp.almost_equal(1.0, 1.0001)
    assert rp.almost_equal(float("nan"), float("nan"))
    assert not rp.almost_equal(0.0, 1e-300)
    assert not rp.almost_equal(float("inf"), float("-inf"))
