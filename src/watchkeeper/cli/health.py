"""``watchkeeper health``: run the configured health checks once and print a table.

Exits 1 when the overall status is ``fail`` (a critical check failed), so
cron jobs and CI steps can use it; ``--json`` prints the same IETF
health-check body the ``/health`` endpoint serves to authenticated users.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from watchkeeper.cli.common import ConfigOption, fail, load_or_exit
from watchkeeper.health.base import Status
from watchkeeper.health.build import build_health_runner
from watchkeeper.health.runner import HealthReport

__all__ = ["health_command"]

_STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "red"}


def health_command(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print application/health+json.")] = False,
) -> None:
    """Run every health check once; exit 1 if a critical check fails."""
    health = load_or_exit(config).config.health
    if not health.checks:
        fail("no health checks configured (add a `health: checks:` section)", code=2)
    try:
        runner = build_health_runner(health)
    except ValueError as exc:
        fail(str(exc), code=2)
    try:
        report = asyncio.run(runner.report())
    finally:
        runner.close()
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        _print_table(report)
    if report.status is Status.FAIL:
        raise typer.Exit(1)


def _print_table(report: HealthReport) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Health: {report.status.value}", title_justify="left")
    for col in ("component", "type", "critical", "status", "observed", "time", "output"):
        table.add_column(col)
    for name, result in report.results.items():
        check = report.checks[name]
        observed = ""
        if result.observed_value is not None:
            observed = f"{result.observed_value} {result.observed_unit or ''}".strip()
        style = _STYLE[result.status]
        table.add_row(
            name,
            check.component_type,
            "yes" if check.critical else "no",
            f"[{style}]{result.status.value}[/]",
            observed,
            f"{result.duration * 1000:.1f} ms",
            result.output,
        )
    Console().print(table)
