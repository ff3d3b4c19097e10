"""``watchkeeper report`` over a store with a known hour of data and an alerts.db."""

from __future__ import annotations

import json
import time
from pathlib import Path

from typer.testing import CliRunner

from watchkeeper.alerts.db import AlertRecord, AlertsDB
from watchkeeper.alerts.model import InboundAlert
from watchkeeper.cli.app import app
from watchkeeper.model import Labels, Sample
from watchkeeper.report import build_report, render_report
from watchkeeper.report.build import FIGURES
from watchkeeper.store import open_store

HOUR = 3_600_000
END = 1_767_225_600_000 + 2 * HOUR
START = END - HOUR
EVIL = "<script>alert(1)</script>"


def write_hour(path: Path) -> None:
    samples = []
    for i in range(0, 361):  # every 10 s over the hour, ending at END
        t = START + i * 10_000
        h = Labels({"instance": "web-1"})
        samples.append(Sample("host_cpu_usage_percent", h, t, 40.0 if i % 2 else 60.0))
        samples.append(Sample("host_memory_usage_percent", h, t, 30.0))
        for code, per_step, route in (("200", 9, "/shop"), ("500", 1, EVIL)):
            labels = Labels({"job": "shop", "code": code, "route": route, "method": "GET"})
            samples.append(Sample("http_requests_total", labels, t, float(per_step * i)))
    with open_store(path, background=False) as store:
        store.append(samples)


def write_alerts(path: Path) -> None:
    db = AlertsDB(path)
    alert = InboundAlert(
        Labels({"alertname": "HostHighCpuUsage", "instance": "web-1", "severity": "warning"}),
        {"summary": "hot"},
        starts_at_ms=START,
        ends_at_ms=END + HOUR,
    )
    rec = AlertRecord(alert, START)
    with db.transaction() as c:
        db.save_alert(c, rec, START)
        for at in (START + 60_000, START + 1_800_000, START - 2 * HOUR):  # the last is outside
            db.history(c, alert.fingerprint, at, "firing")
    db.close()


def test_an_hour_in_figures_and_alerts(tmp_path: Path) -> None:
    write_hour(tmp_path / "wk.db")
    write_alerts(tmp_path / "alerts.db")
    with open_store(tmp_path / "wk.db", readonly=True) as store:
        report = build_report(store, end_ms=END, period_ms=HOUR, alerts_db=tmp_path / "alerts.db")
    rows = {(r.figure, r.name): r.value for s in report.sections for r in s.rows}
    assert abs(rows[("CPU average", "web-1")] - 50.0) < 0.1
    assert rows[("CPU peak", "web-1")] == 60.0
    assert abs(rows[("Server errors (5xx)", "shop")] - 10.0) < 0.01
    assert abs(rows[("Requests", "shop")] - 3600.0) < 1
    assert [s.title for s in report.sections] == ["Host", "HTTP"]  # nothing else was collected
    assert [(a.name, a.times_fired, a.severity) for a in report.alerts_fired] == [
        ("HostHighCpuUsage", 2, "warning")
    ]
    assert report.firing_now == []  # a period in the past has no "now"
    assert report.errors == []
    with open_store(tmp_path / "wk.db", readonly=True) as store:
        today = build_report(
            store, end_ms=int(time.time() * 1000), period_ms=HOUR, alerts_db=tmp_path / "alerts.db"
        )
    assert [a["alertname"] for a in today.firing_now] == ["HostHighCpuUsage"]

    text = render_report(report, "text")
    assert "CPU average" in text
    assert "50.0 %" in text
    assert "HostHighCpuUsage [warning]: fired 2 time(s)" in text
    html = render_report(report, "html")
    assert EVIL not in html  # route labels come from the monitored site
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    markdown = render_report(report, "markdown")
    assert "| CPU peak | web-1 | 60.0 % |" in markdown
    data = json.loads(render_report(report, "json"))
    assert data["sections"][0]["title"] == "Host"


def test_the_command(tmp_path: Path) -> None:
    write_hour(tmp_path / "wk.db")
    config = tmp_path / "wk.yml"
    config.write_text(f"storage: {{path: {tmp_path / 'wk.db'}}}\n")
    runner = CliRunner()
    res = runner.invoke(
        app,
        ["report", "-c", str(config), "--since", "1h", "--end", str(END / 1000), "-f", "html",
         "-o", str(tmp_path / "r.html")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "Server errors (5xx)" in (tmp_path / "r.html").read_text()
    bad = runner.invoke(app, ["report", "-c", str(config), "-f", "pdf"])
    assert bad.exit_code == 2
    assert "--format" in bad.output


def test_every_figure_parses() -> None:
    import promql_parser

    for fig in FIGURES:
        promql_parser.parse(fig.expr.replace("{p}", "3600s"))
