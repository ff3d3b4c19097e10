"""The CLI works on alerts.db, beside a running notifier (here: another connection)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from watchkeeper.alerts.db import AlertRecord, AlertsDB
from watchkeeper.alerts.model import InboundAlert, now_ms
from watchkeeper.cli.alerts import register
from watchkeeper.model import Labels

from .peers import SmtpSink


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[typer.Typer, Path]:
    monkeypatch.setenv("WATCHKEEPER_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("WATCHKEEPER_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    app = typer.Typer()

    @app.callback()
    def _root() -> None: ...

    register(app)
    return app, tmp_path


def seed(db_path: Path) -> str:
    db = AlertsDB(db_path)
    rec = AlertRecord(
        InboundAlert(
            Labels({"alertname": "Disk", "instance": "db-1"}),
            {},
            now_ms() - 1000,
            now_ms() + 600_000,
        ),
        now_ms(),
    )
    with db.transaction() as c:
        db.save_alert(c, rec, now_ms())
    db.close()
    return rec.fingerprint


def test_alerts_list_ack_resolve_and_silences(cli: tuple[typer.Typer, Path]) -> None:
    app, tmp = cli
    fp = seed(tmp / "alerts.db")
    runner = CliRunner()
    out = runner.invoke(app, ["alerts", "list", "--json"])
    assert out.exit_code == 0, out.output
    assert [a["fingerprint"] for a in json.loads(out.output)] == [fp]
    out = runner.invoke(app, ["alerts", "ack", fp[:8], "--by", "erin", "--for", "2h"])
    assert out.exit_code == 0
    assert "acknowledged" in out.output
    assert json.loads(runner.invoke(app, ["alerts", "list", "--json"]).output)[0]["ackBy"] == "erin"
    out = runner.invoke(app, ["alerts", "resolve", fp, "--by", "erin"])
    assert out.exit_code == 0
    assert json.loads(runner.invoke(app, ["alerts", "list", "--json"]).output) == []
    out = runner.invoke(app, ["alerts", "ack", fp, "--by", "x"])
    assert out.exit_code == 1
    assert "is resolved" in out.output
    out = runner.invoke(app, ["alerts", "show", "nope"])
    assert out.exit_code == 1
    assert "no alert" in out.output
    history = json.loads(runner.invoke(app, ["alerts", "show", fp]).output)["history"]
    assert [h["event"] for h in history] == ["resolved", "acknowledged"]

    out = runner.invoke(app, ["silence", "add", 'alertname="Disk"', "-d", "2h", "--comment", "fix"])
    assert out.exit_code == 0, out.output
    sid = out.output.split()[1]
    listed = json.loads(runner.invoke(app, ["silence", "list", "--json"]).output)
    assert [s["id"] for s in listed] == [sid]
    out = runner.invoke(app, ["silence", "add", 'alertname="Disk"', "-d", "30d", "--comment", "x"])
    assert out.exit_code == 1
    assert "at most" in out.output
    assert runner.invoke(app, ["silence", "expire", sid]).exit_code == 0
    assert json.loads(runner.invoke(app, ["silence", "list", "--json"]).output) == []
    out = runner.invoke(app, ["outbox", "list", "--json"])
    assert out.exit_code == 0
    assert json.loads(out.output) == []


def test_notify_test_sends_a_marked_email(
    cli: tuple[typer.Typer, Path], smtp_sink: SmtpSink
) -> None:
    app, tmp = cli
    (tmp / "watchkeeper.yml").write_text(
        "notify:\n  receivers:\n    - name: mail\n      email_configs:\n"
        f"        - to: [ops@example.com]\n          smarthost: {smtp_sink.smarthost}\n"
    )
    runner = CliRunner()
    out = runner.invoke(app, ["notify", "test", "mail"])
    assert out.exit_code == 0, out.output
    assert smtp_sink.wait_for(1)
    msg = smtp_sink.items[0]
    assert msg["Subject"].startswith("[TEST]")
    assert msg["X-Watchkeeper-Test"] == "1"
    out = runner.invoke(app, ["notify", "test", "nobody"])
    assert out.exit_code == 2
    assert "unknown receiver" in out.output
