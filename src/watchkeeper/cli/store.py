"""``watchkeeper store stats|compact|check|backup``: look after the embedded store.

``stats``, ``check`` and ``backup`` open the store read-only, so they work
while ``watchkeeper run`` writes; ``compact`` and ``check --repair`` need the
writer's lock and say so when ``run`` holds it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from watchkeeper.cli.common import ConfigOption, fail, load_or_exit
from watchkeeper.store import StoreBusyError, open_store

__all__ = ["app"]

app = typer.Typer(help="Inspect, compact and check the embedded store.", no_args_is_help=True)

PathOption = Annotated[
    Path | None,
    typer.Option(
        "--path",
        "-p",
        help="Store file (default: storage.path from the configuration).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _store_path(path: Path | None, config: Path | None) -> Path:
    if path is None:
        path = load_or_exit(config).config.storage.path
    path = path.expanduser()
    if not path.exists():
        fail(f"no store at {path} (start `watchkeeper run` first)")
    return path


def _ms(ms: object) -> str:
    if ms is None:
        return "-"
    import datetime as dt

    return dt.datetime.fromtimestamp(int(ms) / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")  # type: ignore[call-overload]


def _days(ms: int) -> str:
    return f"{ms / 86_400_000:g} d"


@app.command("stats")
def stats_command(
    path: PathOption = None, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """Series, samples, bytes per sample, chunks, head size and retention per resolution."""
    target = _store_path(path, config)
    try:
        with open_store(target, readonly=True) as store:
            st = store.stats()
    except Exception as exc:
        fail(f"cannot read {target}: {exc}")
    extra: dict[str, Any] = dict(st.extra)
    if as_json:
        print(
            json.dumps(
                {
                    "path": st.path,
                    "series": st.series,
                    "samples": st.samples,
                    "bytes": st.bytes,
                    "bytes_per_sample": st.bytes_per_sample,
                    "oldest_ms": st.oldest_ms,
                    "newest_ms": st.newest_ms,
                    **extra,
                },
                default=str,
            )
        )
        return
    console = Console()
    info = Table(title=f"Store {st.path}", title_justify="left", show_header=False)
    for key, value in (
        ("series", f"{st.series:,}"),
        ("samples", f"{st.samples:,}"),
        ("size", f"{st.bytes:,} bytes ({st.bytes_per_sample:.2f} per sample)"),
        ("time span", f"{_ms(st.oldest_ms)} .. {_ms(st.newest_ms)}"),
        ("chunks", f"{extra['chunks']:,}"),
        (
            "head",
            f"{extra['head_samples']:,} samples, {extra['head_series']:,} series, "
            f"{extra['head_bytes']:,} bytes",
        ),
        ("WAL", f"{extra['wal_records']:,} records, {extra['wal_bytes']:,} bytes"),
        ("quarantined chunks", str(extra["quarantined_chunks"])),
    ):
        info.add_row(key, value)
    console.print(info)
    res = Table(title="Resolutions", title_justify="left")
    for col in ("resolution", "chunks", "points", "bytes", "oldest", "newest", "retention"):
        res.add_column(col)
    for name, r in extra["resolutions"].items():
        res.add_row(
            name,
            f"{r['chunks']:,}",
            f"{r['points']:,}",
            f"{r['chunk_bytes']:,}",
            _ms(r["oldest_ms"]),
            _ms(r["newest_ms"]),
            _days(r["retention_ms"]),
        )
    console.print(res)


@app.command("compact")
def compact_command(path: PathOption = None, config: ConfigOption = None) -> None:
    """Cut the head into chunks, merge chunks, apply retention and return free space."""
    target = _store_path(path, config)
    try:
        with open_store(target, background=False) as store:
            before = store.stats().bytes
            merged = store.compact(flush=True)
            dropped = store.enforce_retention()
            store.vacuum()
            after = store.stats().bytes
    except StoreBusyError as exc:
        fail(str(exc))
    print(
        f"merged {merged['chunks_merged']} chunks into {merged['chunks_written']}; "
        f"retention dropped {dropped}; {before:,} -> {after:,} bytes"
    )


@app.command("check")
def check_command(
    path: PathOption = None,
    config: ConfigOption = None,
    repair: Annotated[
        bool, typer.Option("--repair", help="Quarantine damaged chunks (needs the writer's lock).")
    ] = False,
) -> None:
    """Decode every chunk and WAL record; report damage (exit 1), quarantine it with --repair."""
    target = _store_path(path, config)
    try:
        with open_store(target, readonly=not repair, background=False) as store:
            report = store.check(quarantine=repair)
    except StoreBusyError as exc:
        fail(f"{exc}; run `watchkeeper store check` without --repair to only report")
    for bad in report.damaged:
        print(
            f"damaged chunk: resolution {bad['res']} series {bad['series_id']} "
            f"from {_ms(bad['min_t'])}: {bad['error']}"
        )
    print(
        f"{report.chunks} chunks, {report.wal_records} WAL records checked: "
        f"{len(report.damaged)} damaged chunks, {report.wal_damaged} damaged WAL records"
        + ("; damaged chunks quarantined" if report.quarantined else "")
    )
    if not report.ok:
        raise typer.Exit(1)


@app.command("backup")
def backup_command(
    directory: Annotated[
        Path, typer.Argument(help="Where to write the copies (created if missing).")
    ],
    config: ConfigOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace copies already in DIRECTORY.")
    ] = False,
) -> None:
    """Copy the store, alerts.db and web.db into DIRECTORY, consistent, while run runs.

    Each file is copied with SQLite's online backup (a snapshot of one
    moment, whatever is being written meanwhile), written beside its final
    name and renamed into place, then opened to check it reads back.
    """
    import sqlite3
    import stat

    from watchkeeper.alerts.db import default_alerts_db_path
    from watchkeeper.store.tsdb.db import connect

    cfg = load_or_exit(config).config
    store = cfg.storage.path.expanduser()
    if not store.exists():
        fail(f"no store at {store} (start `watchkeeper run` first)")
    sources = [
        store,
        cfg.notify.database.expanduser() if cfg.notify.database else default_alerts_db_path(store),
        cfg.web.database_path(store),
    ]
    present = [src for src in sources if src.exists()]
    directory = directory.expanduser()
    targets = [directory / src.name for src in present]
    if len({t.name for t in targets}) != len(targets):
        fail(f"two of {', '.join(map(str, present))} have one file name: their copies would clash")
    for src, target in zip(present, targets, strict=True):
        if src.resolve() == target.resolve():
            fail(f"{target} is the database itself: back up into another directory")
    clash = [str(t) for t in targets if t.exists()]
    if clash and not force:
        fail(f"already there: {', '.join(clash)} (use --force to replace)")
    directory.mkdir(parents=True, exist_ok=True)
    partials = [t.with_name(t.name + ".partial") for t in targets]

    def discard() -> None:
        for partial in partials:
            partial.unlink(missing_ok=True)

    # Every copy first, then every rename: a failure leaves the old set as it was.
    for src, partial in zip(present, partials, strict=True):
        partial.unlink(missing_ok=True)
        try:
            source = connect(src, readonly=True)
            try:
                copy = sqlite3.connect(partial)
                try:
                    source.backup(copy)
                    # A file of its own: no -wal/-shm beside it (run turns WAL on again).
                    copy.execute("PRAGMA journal_mode=DELETE")
                    (verdict,) = copy.execute("PRAGMA quick_check").fetchone()
                finally:
                    copy.close()
            finally:
                source.close()
        except sqlite3.Error as exc:
            discard()
            fail(f"cannot copy {src}: {exc}; nothing replaced")
        if verdict != "ok":
            discard()
            fail(f"the copy of {src} does not check out ({verdict}); nothing replaced")
        # web.db holds password and token hashes: a copy is as private as its source.
        partial.chmod(stat.S_IMODE(src.stat().st_mode))
    for src, partial, target in zip(present, partials, targets, strict=True):
        partial.replace(target)
        print(f"{src} -> {target} ({target.stat().st_size:,} bytes)")
    with open_store(targets[0], readonly=True, background=False) as copy_store:
        stats = copy_store.stats()
    print(f"the copy reads back: {stats.series:,} series")
