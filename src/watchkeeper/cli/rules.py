"""``watchkeeper rules``: check and test rule files, list rules and alerts.

``check`` and ``test`` work like ``promtool check rules`` / ``promtool test
rules`` on the same files. ``list`` reads the store (``ALERTS`` and
``watchkeeper_rule_health`` series), so it works while ``watchkeeper run``
evaluates in another process.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from watchkeeper.rules.loader import load_rule_files
from watchkeeper.rules.unittest import run_test_file

__all__ = ["app"]

app = typer.Typer(help="Check, test and list alerting and recording rules.", no_args_is_help=True)

FilesArg = Annotated[list[Path], typer.Argument(help="Rule files.", show_default=False)]


@app.command("check")
def check(files: FilesArg) -> None:
    """Validate rule files; print every error (file:line:col, group, rule) and exit 1."""
    failed = False
    for f in files:
        res = load_rule_files([f])
        if res.errors:
            failed = True
            typer.echo(f"Checking {f}\n  FAILED:", err=True)
            for e in res.errors:
                typer.echo(f"    {e}", err=True)
        else:
            n = sum(len(g.rules) for g in res.groups)
            typer.echo(f"Checking {f}\n  SUCCESS: {n} rules found")
    if failed:
        raise typer.Exit(1)


@app.command("test")
def test(
    files: Annotated[list[Path], typer.Argument(help="Unit-test files (promtool format).")],
) -> None:
    """Run rule unit tests in `promtool test rules` format; exit 1 on any failure."""
    failed = False
    for f in files:
        typer.echo(f"Unit Testing:  {f}")
        res = run_test_file(f)
        if res.ok:
            typer.echo("  SUCCESS\n")
        else:
            failed = True
            for e in res.errors:
                typer.echo(e, err=True)
            typer.echo("", err=True)
    if failed:
        raise typer.Exit(1)


@app.command("list")
def list_rules(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="watchkeeper.yml")] = None,
) -> None:
    """Each rule with its health, state and active alerts (read from the store)."""
    from watchkeeper.cli.common import fail, load_or_exit
    from watchkeeper.config.rules import RulesConfig
    from watchkeeper.query.api import instant_query
    from watchkeeper.query.values import Vector
    from watchkeeper.rules.loader import RuleFileError
    from watchkeeper.rules.setup import load_rule_groups
    from watchkeeper.store import open_store

    cfg = load_or_exit(config).config
    rules_cfg = getattr(cfg, "rules", None) or RulesConfig()
    path = cfg.storage.path
    if not path.exists():
        fail(f"no data yet at {path} (start `watchkeeper run` first)")
    store = open_store(path, readonly=True)
    try:
        try:
            groups = load_rule_groups(rules_cfg, store, restore=False)
        except RuleFileError as exc:
            fail("invalid rules:\n" + "\n".join(exc.errors))
        now = int(time.time() * 1000)
        alerts = instant_query(store, "ALERTS", now)
        health = instant_query(store, "watchkeeper_rule_health", now)
    finally:
        store.close()
    by_rule: dict[str, list[tuple[str, str]]] = {}
    if isinstance(alerts, Vector):
        for s in alerts.samples:
            d = dict(s.labels)
            name = d.pop("alertname", "")
            state = d.pop("alertstate", "")
            d.pop("__name__", None)
            text = ",".join(f"{k}={v}" for k, v in sorted(d.items()))
            by_rule.setdefault(name, []).append((state, text))
    ok: dict[tuple[str, str], float] = {}
    if isinstance(health, Vector):
        for s in health.samples:
            ok[(s.labels.get("rule_group") or "", s.labels.get("rule") or "")] = s.value
    table = Table(title="Rules")
    for col in ("group", "rule", "kind", "health", "state", "active alerts"):
        table.add_column(col)
    for g in groups:
        for r in g.rules:
            kind = "record" if r.__class__.__name__ == "RecordingRule" else "alert"
            h = ok.get((g.name, r.name))
            health_text = "unknown" if h is None else ("ok" if h == 1 else "[red]err[/red]")
            active = by_rule.get(r.name, []) if kind == "alert" else []
            state = "inactive"
            if any(s == "firing" for s, _ in active):
                state = "[red]firing[/red]"
            elif active:
                state = "[yellow]pending[/yellow]"
            if kind == "record":
                state = ""
            table.add_row(
                g.name, r.name, kind, health_text, state, "\n".join(f"{s}: {t}" for s, t in active)
            )
    Console().print(table)
