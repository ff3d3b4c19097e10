"""Random PromQL cases compared between watchkeeper and ``promtool test rules``.

Hypothesis draws input series (promtool's expanding notation with noisy
values, gaps and staleness markers) and an expression from a grammar of the
supported subset. Each case becomes a ``promql_expr_test`` file whose
expected samples are watchkeeper's result; then

- watchkeeper's own runner must pass the file (the written expectation
  round-trips), and
- promtool either passes it, or its ``got:`` samples equal watchkeeper's
  within Prometheus's test epsilon (relative 1e-6, the ``defaultEpsilon`` of
  promql/test.go; promtool itself compares exactly, and NaN never equals).
- An expression promtool refuses to parse is not a valid case; an expression
  that fails at evaluation must fail in both.

Left out of the grammar on purpose: ``exp``/``ln``/``log10`` (Go's and C's
libm differ by an ulp) and anything whose result depends on Go map order
beyond rounding (the tolerance covers the summation order of ``sum``/``avg``).

Run many cases and print the agreement count:

    python -m tests.rules.random_promql --examples 500
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watchkeeper.model import NAME_LABEL, Labels, Sample
from watchkeeper.query.api import instant_query
from watchkeeper.query.memory import MemoryStore
from watchkeeper.query.values import QueryError, Scalar, Vector
from watchkeeper.rules.unittest import expand_series_values, parse_metric, run_test_file

__all__ = ["Case", "Outcome", "cases", "compare", "main"]

EPSILON = 1e-6
_MIN_NORMAL = 2.2250738585072014e-308
INTERVAL_S = 60

# -- the grammar -------------------------------------------------------------------
METRICS = ("a", "b")
JOBS = ("api", "web")
RANGES = ("2m", "3m", "5m", "10m")
RANGE_FUNCS = (
    "rate", "increase", "delta", "irate", "idelta", "deriv", "changes", "resets",
    "avg_over_time", "min_over_time", "max_over_time", "sum_over_time",
    "count_over_time", "last_over_time", "stddev_over_time", "stdvar_over_time",
    "present_over_time",
)  # fmt: skip
MATH_FUNCS = ("abs", "ceil", "floor", "sqrt", "sgn")
AGGS = ("sum", "avg", "min", "max", "count", "stddev", "stdvar", "group")
ARITH = ("+", "-", "*", "/", "%")
COMPARE = ("==", "!=", ">", "<", ">=", "<=")


@dataclass(frozen=True)
class Case:
    series: tuple[tuple[str, str], ...]  # (series text, values text)
    expr: str
    eval_s: int

    def test_file(self, expected: list[tuple[Labels, float]] | None) -> dict[str, Any]:
        exp = [{"labels": _labels_text(lab), "value": _yaml_float(v)} for lab, v in expected or []]
        return {
            "evaluation_interval": "1m",
            "tests": [
                {
                    "interval": "1m",
                    "input_series": [{"series": s, "values": v} for s, v in self.series],
                    "promql_expr_test": [
                        {"expr": self.expr, "eval_time": f"{self.eval_s}s", "exp_samples": exp}
                    ],
                }
            ],
        }


def _number() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-5, 20).map(str),
        st.floats(-10, 100, allow_nan=False).map(lambda f: f"{f:.2f}"),
    )


@st.composite
def _values(draw: st.DrawFn) -> str:
    """Expanding notation: noisy literals, ramps, gaps, staleness markers."""
    parts: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(("lit", "lit", "ramp", "ramp", "gap", "stale")))
        if kind == "lit":
            parts.append(draw(_number()))
        elif kind == "ramp":
            start = draw(st.integers(0, 50))
            step = draw(st.sampled_from(("+1", "+2.5", "-1", "+0", "+10", "-0.5")))
            parts.append(f"{start}{step}x{draw(st.integers(1, 8))}")
        elif kind == "gap":
            n = draw(st.integers(1, 3))
            parts.append("_" if n == 1 else f"_x{n}")
        else:
            parts.append("stale")
    return " ".join(parts)


@st.composite
def _series(draw: st.DrawFn) -> tuple[tuple[str, str], ...]:
    out = []
    for metric in METRICS:
        insts = draw(
            st.lists(st.sampled_from(("1", "2", "3")), min_size=1, max_size=3, unique=True)
        )
        for inst in insts:
            job = draw(st.sampled_from(JOBS))
            out.append((f'{metric}{{job="{job}", inst="{inst}"}}', draw(_values())))
    return tuple(out)


def _selector(draw: st.DrawFn) -> str:
    metric = draw(st.sampled_from(METRICS))
    matcher = draw(
        st.sampled_from(("", 'job="api"', 'job!="api"', 'inst=~"1|2"', 'inst!~"3"', 'job=~"a.*"'))
    )
    sel = f"{metric}{{{matcher}}}" if matcher else metric
    if draw(st.integers(0, 5)) == 0:
        sel += " offset 1m"
    return sel


def _range_arg(draw: st.DrawFn, depth: int) -> str:
    if depth > 0 and draw(st.integers(0, 6)) == 0:
        inner = _vector(draw, depth - 1)
        return f"({inner})[{draw(st.sampled_from(RANGES))}:1m]"
    sel = _selector(draw)
    rng = draw(st.sampled_from(RANGES))
    if " offset " in sel:
        base, off = sel.split(" offset ")
        return f"{base}[{rng}] offset {off}"
    return f"{sel}[{rng}]"


def _scalar(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(("0", "1", "2", "0.5", "3", "-1", "10", "100")))


def _grouping(draw: st.DrawFn) -> str:
    labels = draw(st.sampled_from(("", "job", "inst", "job, inst")))
    kind = draw(st.sampled_from(("by", "without")))
    return f" {kind} ({labels})"


def _vector(draw: st.DrawFn, depth: int) -> str:
    if depth <= 0:
        return _selector(draw)
    kind = draw(
        st.sampled_from(
            ("sel", "range", "range", "math", "agg", "agg", "scalar_op", "vec_op", "set_op",
             "clamp", "round", "absent", "topk", "quantile", "label_replace", "timestamp")
        )
    )  # fmt: skip
    if kind == "sel":
        return _selector(draw)
    if kind == "range":
        fn = draw(st.sampled_from((*RANGE_FUNCS, "quantile_over_time", "predict_linear")))
        arg = _range_arg(draw, depth - 1)
        if fn == "quantile_over_time":
            return f"quantile_over_time({draw(st.sampled_from(('0', '0.5', '0.9', '1')))}, {arg})"
        if fn == "predict_linear":
            return f"predict_linear({arg}, {draw(st.sampled_from(('0', '60', '600')))})"
        return f"{fn}({arg})"
    if kind == "math":
        return f"{draw(st.sampled_from(MATH_FUNCS))}({_vector(draw, depth - 1)})"
    if kind == "agg":
        op = draw(st.sampled_from(AGGS))
        return f"{op}{_grouping(draw)} ({_vector(draw, depth - 1)})"
    if kind == "topk":
        op = draw(st.sampled_from(("topk", "bottomk")))
        k = draw(st.sampled_from(("1", "2")))
        return f"{op}{_grouping(draw)} ({k}, {_vector(draw, depth - 1)})"
    if kind == "quantile":
        q = draw(st.sampled_from(("0", "0.25", "0.5", "0.9", "1")))
        return f"quantile{_grouping(draw)} ({q}, {_vector(draw, depth - 1)})"
    if kind == "scalar_op":
        op = draw(st.sampled_from(ARITH + COMPARE))
        if op in COMPARE and draw(st.booleans()):
            op += " bool"
        lhs, rhs = _vector(draw, depth - 1), _scalar(draw)
        return f"({lhs}) {op} {rhs}" if draw(st.booleans()) else f"{rhs} {op} ({lhs})"
    if kind == "vec_op":
        op = draw(st.sampled_from(ARITH + COMPARE))
        if op in COMPARE and draw(st.booleans()):
            op += " bool"
        match = draw(
            st.sampled_from(
                ("", " on (inst)", " ignoring (job)", " on (job) group_left", " on (inst, job)")
            )
        )
        return f"({_vector(draw, depth - 1)}) {op}{match} ({_vector(draw, depth - 1)})"
    if kind == "set_op":
        op = draw(st.sampled_from(("and", "or", "unless")))
        match = draw(st.sampled_from(("", " on (inst)", " ignoring (job)")))
        return f"({_vector(draw, depth - 1)}) {op}{match} ({_vector(draw, depth - 1)})"
    if kind == "clamp":
        fn = draw(st.sampled_from(("clamp_min", "clamp_max", "clamp")))
        inner = _vector(draw, depth - 1)
        if fn == "clamp":
            return f"clamp({inner}, {draw(st.sampled_from(('0', '1', '5')))}, 10)"
        return f"{fn}({inner}, {_scalar(draw)})"
    if kind == "round":
        return f"round({_vector(draw, depth - 1)}, {draw(st.sampled_from(('1', '0.5', '3')))})"
    if kind == "absent":
        fn = draw(st.sampled_from(("absent", "absent_over_time")))
        if fn == "absent":
            return f"absent({_selector(draw)})"
        return f"absent_over_time({_range_arg(draw, 0)})"
    if kind == "label_replace":
        return f'label_replace({_vector(draw, depth - 1)}, "dst", "x-$1", "inst", "(.*)")'
    return f"timestamp({_selector(draw)})"


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """One random case: series, an expression, an evaluation time."""
    series = draw(_series())
    expr = _vector(draw, draw(st.integers(1, 3)))
    if draw(st.integers(0, 4)) == 0:
        expr = f"scalar({expr}) * 2"
    eval_s = draw(st.integers(0, 24)) * INTERVAL_S + draw(st.sampled_from((0, 0, 30)))
    return Case(series, expr, eval_s)


# -- running both ------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    #: "agree", "disagree" or "invalid" (promtool rejects the case).
    verdict: str
    detail: str = ""


def watchkeeper_result(case: Case) -> list[tuple[Labels, float]] | str:
    """Watchkeeper's samples, loaded as the rule-test runner loads them; str on error."""
    store = MemoryStore()
    for text, values in case.series:
        name, labels = parse_metric(text)
        vals = expand_series_values(values)
        store.append(
            [
                Sample(name, labels, i * INTERVAL_S * 1000, v)
                for i, v in enumerate(vals)
                if v is not None
            ]
        )
    try:
        res = instant_query(store, case.expr, case.eval_s * 1000, subquery_step_ms=60_000)
    except QueryError as exc:
        return f"error: {exc}"
    if isinstance(res, Scalar):
        return [(Labels(), res.value)]
    if isinstance(res, Vector):
        return [(s.labels, s.value) for s in res.samples]
    return "error: rule result is not a vector or scalar"


def almost_equal(a: float, b: float) -> bool:
    """promql/test.go's almostEqual with its defaultEpsilon."""
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    if math.isinf(a) or math.isinf(b) or math.isnan(a) or math.isnan(b):
        return False
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    if a == 0 or b == 0 or abs_sum < _MIN_NORMAL:
        return diff < EPSILON * _MIN_NORMAL
    return diff / min(abs_sum, sys.float_info.max) < EPSILON


_GOT = re.compile(r"(\{[^{}]*\}) (\S+)(?:, |$)")


def _parse_got(line: str) -> list[tuple[Labels, float]]:
    text = line.split("got:", 1)[1].strip()
    if text in ("nil", "(empty)", ""):
        return []
    out = []
    for m in _GOT.finditer(text):
        name, labels = parse_metric(m.group(1))
        full = Labels((*labels, (NAME_LABEL, name))) if name else labels
        out.append((full, float(m.group(2).replace("+Inf", "inf").replace("-Inf", "-inf"))))
    return out


def _same(a: list[tuple[Labels, float]], b: list[tuple[Labels, float]]) -> bool:
    if len(a) != len(b):
        return False
    sa, sb = sorted(a, key=lambda x: x[0]), sorted(b, key=lambda x: x[0])
    return all(la == lb and almost_equal(va, vb) for (la, va), (lb, vb) in zip(sa, sb, strict=True))


def compare(case: Case, promtool: str, workdir: Path) -> Outcome:
    ours = watchkeeper_result(case)
    path = workdir / "case.test.yml"
    expected = None if isinstance(ours, str) else ours
    path.write_text(yaml.safe_dump(case.test_file(expected), sort_keys=False))
    proc = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    output = proc.stdout + proc.stderr
    if "parse error" in output or "could not parse" in output:
        return Outcome("invalid", output)
    theirs_error = ", err: " in output
    if isinstance(ours, str):
        if theirs_error:
            return Outcome("agree")
        return Outcome("disagree", f"watchkeeper {ours}; promtool:\n{output}")
    # Watchkeeper's runner must accept what watchkeeper computed (NaN never
    # equals, in both runners, so those cases rely on the parsed comparison).
    if not any(math.isnan(v) for _, v in ours):
        mine = run_test_file(path)
        if not mine.ok:
            return Outcome("disagree", "watchkeeper runner: " + "\n".join(mine.errors))
    if proc.returncode == 0:
        return Outcome("agree")
    if theirs_error:
        return Outcome("disagree", f"promtool failed to evaluate:\n{output}")
    got_lines = [ln for ln in output.splitlines() if "got:" in ln]
    if len(got_lines) != 1:
        return Outcome("disagree", f"unexpected promtool output:\n{output}")
    theirs = _parse_got(got_lines[0])
    if _same(ours, theirs):
        return Outcome("agree")
    return Outcome("disagree", f"watchkeeper {ours}\npromtool:\n{output}")


def _describe(case: Case) -> str:
    return json.dumps({"expr": case.expr, "eval_s": case.eval_s, "series": case.series})


def main(argv: list[str] | None = None) -> int:
    import shutil

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=300)
    ap.add_argument("--show", type=int, default=5, help="disagreements to print")
    args = ap.parse_args(argv)
    promtool = shutil.which("promtool")
    if promtool is None:
        print("promtool is not installed", file=sys.stderr)
        return 2
    tally = {"agree": 0, "disagree": 0, "invalid": 0}
    shown: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:

        @settings(
            max_examples=args.examples,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=cases())
        def run(case: Case) -> None:
            out = compare(case, promtool, Path(tmp))
            tally[out.verdict] += 1
            if out.verdict == "disagree" and len(shown) < args.show:
                shown.append(f"{_describe(case)}\n{out.detail}")

        run()
    for text in shown:
        print(text, "\n---")
    valid = tally["agree"] + tally["disagree"]
    print(json.dumps({**tally, "valid": valid, "examples": sum(tally.values())}))
    return 0 if tally["disagree"] == 0 else 1


def _labels_text(labels: Labels) -> str:
    name = labels.get(NAME_LABEL)
    rest = ", ".join(
        f'{k}="{_escape(v)}"' for k, v in labels if k != NAME_LABEL
    )  # promtool parses this as a selector
    return f"{name or ''}{{{rest}}}"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"')


def _yaml_float(v: float) -> float | str:
    return v  # yaml.safe_dump writes .nan/.inf and shortest round-trip reprs


if __name__ == "__main__":
    sys.exit(main())
