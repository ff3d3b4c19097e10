"""``watchkeeper query``: stored points of a selector, or any PromQL expression."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Annotated

import typer

from watchkeeper.cli.common import (
    ConfigOption,
    duration_ms_option,
    fail,
    load_or_exit,
    time_ms_option,
)
from watchkeeper.cli.render import format_time, format_value, sparkline
from watchkeeper.model import NAME_LABEL, Labels
from watchkeeper.store import open_store

if TYPE_CHECKING:
    from rich.console import Console

    from watchkeeper.query.values import QueryResult
    from watchkeeper.store import SeriesData, Store

__all__ = ["query_command"]

#: Points a range query aims for when --step is not given.
AUTO_POINTS = 120


def query_command(
    expr: Annotated[
        str,
        typer.Argument(
            metavar="PROMQL",
            help="A series selector (host_cpu_usage_percent, "
            'host_disk_usage_percent{mountpoint="/"}) or any PromQL expression '
            "(rate(host_network_receive_bytes_total[5m])).",
            show_default=False,
        ),
    ],
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            "-s",
            help="Look back this far (10m, 1h, 2d). A selector shows its stored points; "
            "an expression is evaluated over the window. Default: 1h for a selector.",
            show_default=False,
        ),
    ] = None,
    step: Annotated[
        str | None,
        typer.Option(
            "--step", help="Evaluate a range query every STEP (30s, 1m). Implies a range query."
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="Evaluate an instant query at this time (Unix seconds or ISO 8601). "
            "Default for an expression without --since: now.",
        ),
    ] = None,
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
    """Query the store: stored points of a selector, or PromQL, instant or over a range.

    Reads the store directly, so it works while `watchkeeper run` writes.
    Exits 1 when the result is empty, 2 on a bad expression or option.
    """
    from rich.console import Console

    from watchkeeper.query import QueryError, SelectorError, parse_selector

    cfg = load_or_exit(config).config
    if at is not None and (since is not None or step is not None):
        fail("--at is for an instant query; it cannot be combined with --since or --step", 2)
    now = int(time.time() * 1000)
    window_ms = duration_ms_option(since, "--since") if since else 3600_000
    step_ms = duration_ms_option(step, "--step") if step else None
    at_ms = time_ms_option(at) if at else now

    try:
        _, matchers = parse_selector(expr)
        is_selector = True
    except SelectorError:
        is_selector = False
        matchers = []
        _check_syntax(expr)

    path = cfg.storage.path
    if not path.exists():
        fail(f"no data yet at {path} (start `watchkeeper run` first)")
    console = Console()
    with open_store(path, readonly=True) as store:
        if is_selector and at is None and step_ms is None:
            raw = store.read_range(matchers, now - window_ms, now)
            if not raw:
                fail(f"no samples for {expr} in the last {since or '1h'}")
            _print_raw(console, raw, limit, max_series)
            return
        try:
            if at is not None or (since is None and step_ms is None):
                result = _instant(store, expr, at_ms)
            else:
                step_ms = step_ms or max(1000, window_ms // AUTO_POINTS)
                result = _range(store, expr, now - window_ms, now, step_ms)
        except QueryError as exc:
            fail(str(exc), 2)
    _print_result(console, result, limit, max_series)


def _check_syntax(expr: str) -> None:
    import promql_parser

    try:
        promql_parser.parse(expr)
    except ValueError as exc:
        fail(f"invalid PromQL {expr!r}: {exc}", 2)


def _instant(store: Store, expr: str, at_ms: int) -> QueryResult:
    from watchkeeper.query import instant_query

    return instant_query(store, expr, at_ms)


def _range(store: Store, expr: str, start: int, end: int, step: int) -> QueryResult:
    from watchkeeper.query import range_query

    return range_query(store, expr, start, end, step)


def _series_name(labels: Labels) -> str:
    name = labels.get(NAME_LABEL) or ""
    rest = labels.without(NAME_LABEL)
    return name + (str(rest) if rest or not name else "")


def _print_points(
    console: Console, title: str, stamps: list[int], values: list[float], limit: int
) -> None:
    from rich.table import Table

    finite = [v for v in values if math.isfinite(v)]
    console.print(f"[bold]{title}[/]  {len(values)} points")
    if finite:
        console.print(
            f"  {sparkline(values)}  min {format_value(min(finite))}"
            f"  max {format_value(max(finite))}  last {format_value(values[-1])}"
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


def _print_raw(console: Console, found: list[SeriesData], limit: int, max_series: int) -> None:
    for data in found[:max_series]:
        _print_points(
            console, str(data.series), data.timestamps.tolist(), data.values.tolist(), limit
        )
    if len(found) > max_series:
        console.print(f"... {len(found) - max_series} more series (raise --max-series)")


def _print_result(console: Console, result: QueryResult, limit: int, max_series: int) -> None:
    from rich.table import Table

    from watchkeeper.query import Matrix, Scalar, String, Vector

    if isinstance(result, Scalar):
        console.print(f"scalar {format_value(result.value)} at {format_time(result.timestamp_ms)}")
        return
    if isinstance(result, String):
        console.print(f"string {result.value!r}")
        return
    if isinstance(result, Vector):
        if not len(result):
            fail("empty result")
        table = Table(show_header=True, box=None, padding=(0, 2))
        table.add_column("series")
        table.add_column("value", justify="right")
        for sample in list(result)[:max_series]:
            table.add_row(_series_name(sample.labels), format_value(sample.value))
        console.print(table)
        if len(result) > max_series:
            console.print(f"... {len(result) - max_series} more series (raise --max-series)")
        return
    assert isinstance(result, Matrix)
    if not len(result):
        fail("empty result")
    for series in list(result)[:max_series]:
        _print_points(
            console,
            _series_name(series.labels),
            series.timestamps.tolist(),
            series.values.tolist(),
            limit,
        )
    if len(result) > max_series:
        console.print(f"... {len(result) - max_series} more series (raise --max-series)")
