"""The conformance suite: every file must pass under promtool AND watchkeeper.

Expected values were produced by promtool 2.42 (see conformance/generate.py),
so Prometheus is the oracle; this test fails on any disagreement.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from watchkeeper.rules.unittest import run_test_file
from wk_testing import require_tool

CONFORMANCE = Path(__file__).parent / "conformance"
#: Unit tests of the default rule pack, over the series the collectors write.
PACK = Path(__file__).parent / "pack"
FILES = sorted(CONFORMANCE.glob("*.test.yml")) + sorted(PACK.glob("*.test.yml"))


def test_suite_is_large_enough() -> None:
    assert len(FILES) >= 60


@pytest.mark.parametrize("path", FILES, ids=[f.name.removesuffix(".test.yml") for f in FILES])
def test_watchkeeper_passes(path: Path) -> None:
    result = run_test_file(path)
    assert result.ok, "\n".join(result.errors)


@pytest.mark.parametrize("path", FILES, ids=[f.name.removesuffix(".test.yml") for f in FILES])
def test_promtool_agrees(path: Path) -> None:
    promtool = require_tool("promtool")
    proc = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    ours = run_test_file(path)
    assert (proc.returncode == 0) == ours.ok, (
        f"promtool rc={proc.returncode}, watchkeeper ok={ours.ok}\n{proc.stdout}{proc.stderr}"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_wrong_expectation_fails_in_both(tmp_path: Path) -> None:
    """The harness can fail: a deliberately wrong value is caught by both tools."""
    src = (CONFORMANCE / "rate.test.yml").read_text()
    bad = tmp_path / "bad.test.yml"
    bad.write_text(src.replace("value: 0.2", "value: 0.25", 1))
    assert src != bad.read_text()
    assert not run_test_file(bad).ok
    promtool = require_tool("promtool")
    proc = subprocess.run([promtool, "test", "rules", str(bad)], capture_output=True, text=True)
    assert proc.returncode != 0
