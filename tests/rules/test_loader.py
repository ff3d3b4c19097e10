from __future__ import annotations

import re
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from watchkeeper.cli.rules import app
from watchkeeper.rules import default_pack_files, load_rule_files, parse_rule_text
from watchkeeper.web.runbooks import runbook_anchors
from wk_testing import require_tool

SEED = Path("/work/shared/seeds/003_aec02aa0d4518a8f.txt")
SEED_RULES = """\
groups:
  - name: system
    rules:
      - alert: HighCpuUsage
        expr: cpu_usage_percent > 85
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "High CPU usage detected"
          description: "CPU usage is above 85% for more than 5 minutes"
  - name: application
    rules:
      - alert: HighErrorRate
        expr: error_rate > 5
        for: 2m
        labels:
          severity: critical
        annotations:
          summary: "High error rate detected"
          description: "Error rate is above 5% for more than 2 minutes"
"""

BAD = """\
groups:
- name: a
  rules:
  - alert: X
    expr: foo{
    for: 5x
  - record: "bad name"
    expr: sum(x)
    for: 5m
  - alert: Y
    record: z
    expr: up
- name: a
  bogus: 1
"""


def test_seed_rule_file_loads_verbatim(tmp_path: Path) -> None:
    text = SEED.read_text() if SEED.exists() else ""
    block = re.search(r"```yaml\n(# alert_rules.yml\n.*?)```", text, re.DOTALL)
    rules = block.group(1) if block else SEED_RULES
    res = parse_rule_text(rules, "alert_rules.yml")
    assert res.errors == []
    names = [r.name for g in res.groups for r in g.rules]
    assert "HighCpuUsage" in names
    assert "HighErrorRate" in names
    cpu = res.groups[0].rules[0]
    assert cpu.for_s == 300  # type: ignore[union-attr]


def test_every_error_is_reported_with_position() -> None:
    res = parse_rule_text(BAD, "f.yml")
    joined = "\n".join(res.errors)
    assert "f.yml:5:11: group 'a', rule 1 (X): could not parse expression" in joined
    assert 'for: not a valid duration string: "5x"' in joined
    assert "invalid recording rule name: bad name" in joined
    assert "invalid field 'for' in recording rule" in joined
    assert "only one of 'record' and 'alert' must be set" in joined
    assert "field bogus not found" in joined
    assert "repeated in the same file" in joined
    assert len(res.errors) >= 7


def test_template_errors_name_the_rule() -> None:
    res = parse_rule_text(
        "groups:\n- name: g\n  rules:\n  - alert: T\n    expr: up\n"
        "    annotations: {summary: '{{ $value'}\n",
        "t.yml",
    )
    assert len(res.errors) == 1
    assert "rule 1 (T): annotation summary" in res.errors[0]


def test_default_pack_is_valid_here_and_for_promtool() -> None:
    files = default_pack_files()
    assert len(files) >= 2
    res = load_rule_files(files)
    assert res.errors == []
    rules = [r for g in res.groups for r in g.rules]
    for r in rules:
        ann = getattr(r, "annotations", None)
        if ann is not None:
            assert {"summary", "description", "runbook_url"} <= set(ann), r.name
    anchors = runbook_anchors()
    for r in rules:
        anchor = r.name.lower()
        if getattr(r, "annotations", None):
            page, _, section = r.annotations["runbook_url"].partition("#")  # type: ignore[union-attr]
            assert page == "/runbooks", r.name
            assert section in anchors, r.name
    promtool = require_tool("promtool")
    for f in files:
        proc = subprocess.run([promtool, "check", "rules", str(f)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    del anchor


def test_cli_check_exits_1_with_all_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD)
    good = tmp_path / "good.yml"
    good.write_text(SEED_RULES)
    result = CliRunner().invoke(app, ["check", str(good), str(bad)])
    assert result.exit_code == 1
    assert "SUCCESS: 2 rules found" in result.output
    assert "could not parse expression" in result.output
    assert "repeated in the same file" in result.output
