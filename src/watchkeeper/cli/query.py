"""``watchkeeper query``: the stored points of the series matching a selector."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from watchkeeper.cli.common import ConfigOption, fail, load_or_exit
from watchkeeper.cli.render import format_time, format_value, sparkline
from watchkeeper.config.duration import parse_duration
from watchkeeper.store import open_store

__all__ = ["query_command"]


def query_command(
    selector: Annotated[
        str,
        typer.Argument(
            help="A series selector, e.g. host_cpu_usage_percent or "
            'host_disk_usage_percent{mountpoint="/"}.',
            show_default=False,
        ),
    ],
    since: Annotated[
        str, typer.Option("--since", "-s", help="How far back to look (10m, 1h, 2d).")
    ] = "1h",
    limit: Annotated[
        int,
        typer.Option(
            "--limit", "-n", min=0, help="Points shown per series, newest last (0 = all)."
        ),
    ] = 20,
    max_series: Annotated[
        int, typer.Option("--max-series", min=1, help="Series shown at most.")
    ] = 50,
    config: ConfigOption = None,
) -> None:
    """Print the stored points of every series matching SELECTOR, with a sparkline.

    Reads the store directly, so it works while `watchkeeper run` writes.
    Exits 1 when nothing matches.
    """
    from rich.console import Console
    from rich.table import Table

    from watchkeeper.query.selector import SelectorError, parse_selector

    cfg = load_or_exit(config).config
    try:
        _, matchers = parse_selector(selector)
    except SelectorError as exc:
        fail(str(exc), 2)
    try:
        window_s = parse_duration(since)
    except ValueError as exc:
        fail(f"--since: {exc}", 2)
    path = cfg.storage.path
    if not path.exists():
        fail(f"no data yet at {path} (start `watchkeeper run` first)")
    end = int(time.time() * 1000)
    start = end - int(window_s * 1000)
    with open_store(path, readonly=True) as store:
        found = store.read_range(matchers, start, end)
    if not found:
        fail(f"no samples for {selector} in the last {since}")

    console = Console()
    for data in found[:max_series]:
        values = data.values.tolist()
        stamps = data.timestamps.tolist()
        console.print(f"[bold]{data.series}[/]  {len(values)} points")
        console.print(
            f"  {sparkline(values)}  min {format_value(min(values))}"
            f"  max {format_value(max(values))}  last {format_value(values[-1])}"
        )
        table = Table(show_header=True, box=None, padding=(0, 2))
        table.add_column("time")
        table.add_column("value", justify="right")
        shown = list(zip(stamps, values, strict=True))
        if limit:
            shown = shown[-limit:]
        for ts, value in shown:
            table.add_row(format_time(ts), format_value(value))
        console.print(table)
    if len(found) > max_series:
        console.print(f"... {len(found) - max_series} more series (raise --max-series)")
