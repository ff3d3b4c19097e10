"""``watchkeeper report``: what happened over a period, for people and for cron."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from watchkeeper.cli.common import (
    ConfigOption,
    duration_ms_option,
    fail,
    load_or_exit,
    time_ms_option,
)

__all__ = ["report_command"]


def report_command(
    since: Annotated[
        str, typer.Option("--since", help="The period: the last 24h, 7d, 30m ...")
    ] = "24h",
    end: Annotated[
        str | None,
        typer.Option(
            "--end",
            help="The period's end (Unix seconds or ISO 8601); default: now.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help="text, markdown, html (an e-mail body) or json."),
    ] = "text",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write to this file instead of stdout.", show_default=False
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Summarise a period: host, HTTP, databases, caches, queues, availability and alerts.

    Each figure is PromQL over the stored history (CPU p95, 5xx share, p95
    latency, busiest and slowest routes, deadlocks, hit rates, probe and
    health-check availability...); sections whose metrics were never
    collected are left out. Alerts come from alerts.db: how often each fired
    in the period, and what fires now. Works while `watchkeeper run` runs.
    """
    from watchkeeper.alerts.db import default_alerts_db_path
    from watchkeeper.report import build_report, render_report
    from watchkeeper.store import open_store

    if fmt not in ("text", "markdown", "html", "json"):
        fail(f"--format: expected text, markdown, html or json, got {fmt!r}", 2)
    period_ms = duration_ms_option(since, "--since")
    end_ms = time_ms_option(end, "--end") if end else int(time.time() * 1000)
    cfg = load_or_exit(config).config
    path = cfg.storage.path.expanduser()
    if not path.exists():
        fail(f"no data yet at {path} (start `watchkeeper run` first)")
    alerts_db = cfg.notify.database or default_alerts_db_path(path)
    with open_store(path, readonly=True) as store:
        report = build_report(
            store, end_ms=end_ms, period_ms=period_ms, alerts_db=alerts_db.expanduser()
        )
    text = render_report(report, fmt)  # type: ignore[arg-type]
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)
