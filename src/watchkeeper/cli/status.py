"""``watchkeeper status``: collectors, freshness and store size, read from the store.

It reads what ``watchkeeper run`` wrote (its own ``watchkeeper_collector_up``
series), so it works from any shell while the monitor runs elsewhere.
"""

from __future__ import annotations

import time

import typer

from watchkeeper.cli.common import ConfigOption, fail, load_or_exit
from watchkeeper.cli.render import format_age, format_time
from watchkeeper.collect.registry import build_collectors
from watchkeeper.config.duration import format_duration
from watchkeeper.config.model import Config
from watchkeeper.model import NAME_LABEL, Matcher, is_stale
from watchkeeper.store import Store, open_store

__all__ = ["status_command"]

#: How far back status looks for collector heartbeats.
LOOKBACK_MS = 3600 * 1000


def status_command(config: ConfigOption = None) -> None:
    """Show each collector's state and last sample, and the store's size.

    Exits 1 when a collector is down or has not reported for three of its
    intervals, so it can be used in scripts.
    """
    from rich.console import Console
    from rich.table import Table

    cfg = load_or_exit(config).config
    path = cfg.storage.path
    if not path.exists():
        fail(f"no data yet at {path} (start `watchkeeper run` first)")
    now = int(time.time() * 1000)
    with open_store(path, readonly=True) as store:
        stats = store.stats()
        up = _latest(store, "watchkeeper_collector_up", now)
        durations = _latest(store, "watchkeeper_collection_duration_seconds", now)

    console = Console()
    table = Table(title="Collectors", title_justify="left")
    for col in ("collector", "state", "last sample", "last duration"):
        table.add_column(col)
    unhealthy = 0
    intervals = _configured_intervals(cfg)
    for name in sorted(set(up) | set(intervals)):
        if name not in up:
            table.add_row(name, "[yellow]no data[/]", "-", "-")
            unhealthy += 1
            continue
        ts, value = up[name]
        stale = now - ts > 3 * intervals.get(name, 60.0) * 1000
        if value != 1.0:
            state = "[red]DOWN[/]"
        elif stale:
            state = "[yellow]STALE[/]"
        else:
            state = "[green]up[/]"
        unhealthy += value != 1.0 or stale
        dur = durations.get(name)
        table.add_row(
            name,
            state,
            f"{format_time(ts)} ({format_age(ts, now)})",
            f"{dur[1] * 1000:.1f} ms" if dur else "-",
        )
    console.print(table)

    info = Table(title="Store", title_justify="left", show_header=False)
    info.add_column()
    info.add_column()
    info.add_row("path", str(stats.path))
    info.add_row("size", _bytes(stats.bytes))
    info.add_row("series", str(stats.series))
    info.add_row("samples", str(stats.samples))
    if stats.samples:
        info.add_row("bytes per sample", f"{stats.bytes_per_sample:.1f}")
    if stats.oldest_ms is not None and stats.newest_ms is not None:
        info.add_row("oldest", format_time(stats.oldest_ms))
        info.add_row(
            "newest", f"{format_time(stats.newest_ms)} ({format_age(stats.newest_ms, now)})"
        )
    st = cfg.storage
    info.add_row(
        "retention",
        f"raw {format_duration(st.retention)}, 1m rollups {format_duration(st.retention_1m)}, "
        f"1h rollups {format_duration(st.retention_1h)}",
    )
    for key, extra in stats.extra.items():
        if isinstance(extra, str | int | float):  # details: `watchkeeper store stats`
            info.add_row(str(key), f"{extra:,}" if isinstance(extra, int) else str(extra))
    console.print(info)
    raise typer.Exit(1 if unhealthy else 0)


def _latest(store: Store, metric: str, now: int) -> dict[str, tuple[int, float]]:
    out: dict[str, tuple[int, float]] = {}
    for data in store.read_range(
        [Matcher.equal(NAME_LABEL, metric)], now - LOOKBACK_MS, now + 60_000
    ):
        name = data.series.labels.get("collector") or "?"
        ts, value = int(data.timestamps[-1]), float(data.values[-1])
        if is_stale(value):
            continue  # ended: a collector that a reload or a new configuration removed
        if name not in out or out[name][0] < ts:
            out[name] = (ts, value)
    return out


def _configured_intervals(cfg: Config) -> dict[str, float]:
    out = {c.name: c.interval for c in build_collectors(cfg.collectors)}
    if cfg.collectors.self_.enabled:
        out["self"] = cfg.collectors.self_.interval
    return out


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{size:.1f} TiB"
