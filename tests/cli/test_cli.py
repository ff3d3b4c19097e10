"""The command line as a user runs it: real processes, real store, real host."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from watchkeeper.cli.app import app
from watchkeeper.collect.host import HostCollector

runner = CliRunner()


def wk(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watchkeeper", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        check=False,
    )


def test_collect_once_prints_every_host_metric_family(data_dir: Path) -> None:
    result = runner.invoke(app, ["collect", "--once"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for meta in HostCollector.metrics:
        if meta.name.startswith("host_process_"):
            continue  # only with configured processes; see the next test
        assert meta.name in result.output, meta.name
    assert "ok" in result.output


def test_collect_once_with_a_watched_process(data_dir: Path) -> None:
    cfg = data_dir / "wk.yml"
    cfg.write_text("collectors:\n  host:\n    processes: [python, {name: init, match: nope}]\n")
    result = runner.invoke(
        app, ["collect", "--once", "--all", "-c", str(cfg)], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    assert "host_process_instances{instance" not in result.output  # no global labels in test mode
    assert 'host_process_instances{name="init"}' in result.output
    assert 'host_process_resident_memory_bytes{name="python"}' in result.output


def test_collect_named_collectors_only(data_dir: Path) -> None:
    cfg = data_dir / "wk.yml"
    cfg.write_text("collectors:\n  probes:\n    - {name: dead, type: tcp, url: '127.0.0.1:9'}\n")
    result = runner.invoke(app, ["collect", "host", "-c", str(cfg)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "host_cpu_usage_percent" in result.output
    assert "probe:dead" not in result.output
    probe = runner.invoke(app, ["collect", "probe:dead", "-c", str(cfg)], env={"COLUMNS": "200"})
    assert probe.exit_code == 0, probe.output  # a probe that fails is data: probe_success 0
    assert "probe_success" in probe.output
    assert "host_cpu_usage_percent" not in probe.output
    unknown = runner.invoke(app, ["collect", "postgres", "-c", str(cfg)])
    assert unknown.exit_code == 2
    assert "no collector named 'postgres'" in unknown.output
    assert "host, probe:dead" in unknown.output


def test_invalid_regex_in_config_is_a_config_error(data_dir: Path) -> None:
    cfg = data_dir / "wk.yml"
    cfg.write_text("collectors:\n  host:\n    exclude_mountpoints: ['^/snap', '(']\n")
    result = wk("collect", "--once", "-c", str(cfg))
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"{cfg}:3: collectors.host.exclude_mountpoints.1: invalid regular expression '('"
    )


def test_bad_config_exits_2_naming_file_line_and_field(data_dir: Path) -> None:
    cfg = data_dir / "watchkeeper.yml"
    cfg.write_text("collectors:\n  host:\n    interval: 0\n")
    for command in (["run"], ["collect", "--once"], ["status"], ["config", "check"]):
        result = (
            wk(*command, "--config", str(cfg))
            if command != ["config", "check"]
            else wk("config", "check", str(cfg))
        )
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        out = result.stdout + result.stderr
        assert f"{cfg}:3: collectors.host.interval: must be between 1 and 3600, got 0" in out


def test_init_writes_a_valid_config_and_refuses_to_overwrite(data_dir: Path) -> None:
    target = data_dir / "watchkeeper.yml"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0
    assert target.read_text().startswith("# watchkeeper.yml")
    check = runner.invoke(app, ["config", "check", str(target)])
    assert check.exit_code == 0
    assert "OK" in check.output
    again = runner.invoke(app, ["init", str(target)])
    assert again.exit_code == 1


def test_every_command_has_complete_help() -> None:
    for command in ("run", "collect", "status", "query", "init", "config check"):
        result = runner.invoke(app, [*command.split(), "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0
        assert "Usage" in result.output
        assert len(result.output.splitlines()) > 5


@pytest.fixture
def running(data_dir: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "watchkeeper", "run", "--interval", "1", "-v"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "WATCHKEEPER_DATA_DIR": str(data_dir)},
    )
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


_READERS: dict[int, queue.Queue[str]] = {}


def _wait_for_line(proc: subprocess.Popen[str], needle: str, lines: list[str]) -> None:
    """Read ``proc``'s stderr until a line contains ``needle`` (60 s at most, even if quiet)."""
    assert proc.stderr is not None
    stream = proc.stderr
    if proc.pid not in _READERS:
        lines_q: queue.Queue[str] = queue.Queue()
        _READERS[proc.pid] = lines_q

        def pump() -> None:
            for line in stream:
                lines_q.put(line)
            lines_q.put("")  # end of output

        threading.Thread(target=pump, daemon=True).start()
    pending = _READERS[proc.pid]
    deadline = time.monotonic() + 60
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = pending.get(timeout=left)
        except queue.Empty:
            break
        if not line:
            break
        lines.append(line)
        if needle in line:
            return
    raise AssertionError(f"{needle!r} never logged:\n{''.join(lines)}")


def test_run_then_query_and_status_from_another_process(
    running: subprocess.Popen[str], data_dir: Path
) -> None:
    lines: list[str] = []
    _wait_for_line(running, "collected", lines)
    # The writer flushes at least every second: wait until a reader sees the data.
    deadline = time.monotonic() + 30
    while True:
        query = wk(
            "query",
            "host_cpu_usage_percent",
            "--since",
            "5m",
            env={"WATCHKEEPER_DATA_DIR": str(data_dir)},
        )
        if query.returncode == 0 or time.monotonic() > deadline:
            break
    assert query.returncode == 0, query.stderr
    assert "host_cpu_usage_percent{instance=" in query.stdout
    memory = wk("query", "host_memory_usage_percent", env={"WATCHKEEPER_DATA_DIR": str(data_dir)})
    assert memory.returncode == 0
    assert "points" in memory.stdout
    status = wk("status", env={"WATCHKEEPER_DATA_DIR": str(data_dir)})
    assert "host" in status.stdout
    assert "up" in status.stdout
    assert "series" in status.stdout

    running.send_signal(signal.SIGTERM)
    _wait_for_line(running, "watchkeeper stopped", lines)
    assert running.wait(timeout=30) == 0, "".join(lines)
    assert "NOT written" not in lines[-1]


def test_query_reports_bad_selector_and_no_data(data_dir: Path) -> None:
    bad = wk("query", "host_cpu{", env={"WATCHKEEPER_DATA_DIR": str(data_dir)})
    assert bad.returncode == 2
    assert "invalid PromQL" in bad.stderr
    missing = wk("query", "host_cpu_usage_percent", env={"WATCHKEEPER_DATA_DIR": str(data_dir)})
    assert missing.returncode == 1
    assert "no data yet" in missing.stderr


def test_init_discovers_local_services_and_the_result_validates(data_dir: Path) -> None:
    from wk_testing import require_service

    require_service("postgresql", port=5432)
    require_service("redis", port=6379)
    target = data_dir / "watchkeeper.yml"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert "found PostgreSQL on 127.0.0.1:5432" in result.output
    text = target.read_text()
    assert "  postgres:\n  - name: main" in text
    assert "password: ${PGPASSWORD:-}" in text  # credentials stay environment references
    check = runner.invoke(app, ["config", "check", str(target)])
    assert check.exit_code == 0, check.output
    assert "postgres x1" in check.output
    assert "redis x1" in check.output
    assert "name: database\n    type: postgres" in text  # and a health check for it


def _query_until_found(metric: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``watchkeeper query metric`` until it finds samples (the writer flushes every second)."""
    deadline = time.monotonic() + 30
    while True:
        found = wk("query", metric, "--since", "5m", env=env)
        if found.returncode == 0 or time.monotonic() > deadline:
            return found


def test_sighup_reloads_the_rule_files_and_a_bad_one_changes_nothing(data_dir: Path) -> None:
    rules = data_dir / "rules.yml"
    rule = (
        "groups:\n  - name: reload\n    interval: 1s\n    rules:\n"
        "      - record: {name}\n        expr: vector({value})\n"
    )
    rules.write_text(rule.format(name="wk_reload_before", value=1))
    config = data_dir / "watchkeeper.yml"
    config.write_text(
        f"web: {{enabled: false}}\nrules: {{default_pack: false, rule_files: [{rules}]}}\n"
    )
    env = {"WATCHKEEPER_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "watchkeeper", "run", "-c", str(config), "-i", "1"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    lines: list[str] = []
    try:
        _wait_for_line(proc, "watchkeeper running", lines)
        assert _query_until_found("wk_reload_before", env).returncode == 0
        # A broken file: reported, and the running group goes on.
        rules.write_text(
            "groups:\n  - name: reload\n    rules:\n      - record: x\n        expr: sum(\n"
        )
        proc.send_signal(signal.SIGHUP)
        _wait_for_line(proc, "reload failed, the running rules stay", lines)
        assert "could not parse expression" in lines[-1]
        rules.write_text(rule.format(name="wk_reload_after", value=2))
        proc.send_signal(signal.SIGHUP)
        _wait_for_line(proc, "reloaded: 0 rule group(s) unchanged, 1 stopped, 1 started", lines)
        assert lines[-1].rstrip().endswith("started: rules:reload")
        after = _query_until_found("wk_reload_after", env)
        assert after.returncode == 0, after.stderr
        assert "wk_reload_after" in after.stdout
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
