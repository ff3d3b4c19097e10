"""``watchkeeper health``: a table, and exit 1 when a critical check fails."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from watchkeeper.cli.health import health_command
from wk_testing import free_port

app = typer.Typer()
app.command()(health_command)


def write(tmp_path: Path, checks: str) -> Path:
    path = tmp_path / "watchkeeper.yml"
    path.write_text(f"health:\n  checks:\n{checks}")
    return path


def test_passing_checks_exit_0(tmp_path: Path, data_dir: Path) -> None:
    path = write(
        tmp_path, "    - {name: disk, type: disk, warn_percent: 99.9, fail_percent: 100}\n"
    )
    result = CliRunner().invoke(app, ["--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "disk" in result.output
    assert "pass" in result.output


def test_failing_critical_check_exits_1_with_json(tmp_path: Path, data_dir: Path) -> None:
    port = free_port()
    path = write(
        tmp_path,
        f"    - {{name: api, type: probe, probe: {{type: tcp, target: '127.0.0.1:{port}'}}}}\n",
    )
    result = CliRunner().invoke(app, ["--config", str(path), "--json"])
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["status"] == "fail"
    assert body["checks"]["api:status"][0]["output"] == f"connection refused to 127.0.0.1:{port}"
