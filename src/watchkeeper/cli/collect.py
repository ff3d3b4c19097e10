"""``watchkeeper collect --once``: one round of every collector, shown as tables."""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer

from watchkeeper.cli.common import ConfigOption, fail, load_or_exit
from watchkeeper.cli.render import format_value
from watchkeeper.collect.registry import build_collectors
from watchkeeper.model import Sample
from watchkeeper.runtime.scheduler import CollectorTask
from watchkeeper.runtime.stats import RuntimeStats

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["collect_command"]


def collect_command(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Only these collectors (as `watchkeeper status` names them: host, "
            "postgres:main, probe:shop, ...); default: every enabled one.",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    once: Annotated[
        bool, typer.Option("--once", help="One round of every collector, then exit (the default).")
    ] = True,
    show_all: Annotated[
        bool, typer.Option("--all", "-a", help="List every series, not one line per metric family.")
    ] = False,
) -> None:
    """Run every enabled collector (or the named ones) once and print what each collected.

    The test mode for a new set-up: nothing is written to the store. Exits 1
    if any collector failed, so it can run in CI or cron.
    """
    cfg = load_or_exit(config).config
    collectors = build_collectors(cfg.collectors)
    if names:
        known = {c.name for c in collectors}
        unknown = [n for n in names if n not in known]
        if unknown:
            for c in collectors:
                c.close()
            fail(
                f"no collector named {', '.join(map(repr, unknown))} in this configuration; "
                f"there are: {', '.join(sorted(known))}",
                code=2,
            )
        collectors = [c for c in collectors if c.name in names]
    stats = RuntimeStats()
    results: dict[str, list[Sample]] = {}

    async def one_round() -> None:
        tasks = [
            CollectorTask(c, partial(results.__setitem__, c.name), stats.collector(c.name), {})
            for c in collectors
        ]
        await asyncio.gather(*(t.collect_once() for t in tasks))

    try:
        asyncio.run(one_round())
    finally:
        for c in collectors:
            c.close()

    from rich.console import Console
    from rich.table import Table

    console = Console()
    summary = Table(title="Collectors", title_justify="left")
    for col in ("collector", "status", "duration", "samples", "error"):
        summary.add_column(col)
    failed = 0
    for c in collectors:
        st = stats.collector(c.name)
        failed += not st.up
        summary.add_row(
            c.name,
            "[green]ok[/]" if st.up else "[red]FAILED[/]",
            f"{st.last_duration_s * 1000:.1f} ms",
            str(st.samples),
            st.last_error or "",
        )
    console.print(summary)
    for c in collectors:
        samples = [s for s in results.get(c.name, []) if not s.name.startswith("watchkeeper_")]
        if samples:
            console.print(_samples_table(c.name, samples, show_all))
    raise typer.Exit(1 if failed else 0)


def _samples_table(collector: str, samples: list[Sample], show_all: bool) -> Table:
    from rich.table import Table

    table = Table(title=f"{collector}: {len(samples)} samples", title_justify="left")
    if show_all:
        table.add_column("series")
        table.add_column("value", justify="right")
        for s in sorted(samples):
            table.add_row(s.series_text(), format_value(s.value))
        return table
    families: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        families[s.name].append(s)
    table.add_column("metric", no_wrap=True)
    table.add_column("series", justify="right")
    table.add_column("value (or min .. max)", justify="right")
    table.add_column("labels")
    for name in sorted(families):
        group = families[name]
        values = [s.value for s in group if not math.isnan(s.value)]
        if len(group) == 1:
            shown = format_value(group[0].value)
        elif values:
            shown = f"{format_value(min(values))} .. {format_value(max(values))}"
        else:
            shown = "NaN"
        label_names = sorted({k for s in group for k in s.labels.names()})
        table.add_row(name, str(len(group)), shown, ", ".join(label_names))
    return table
