"""``watchkeeper run``: monitor in the foreground until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from watchkeeper.cli.common import EXIT_CONFIG, ConfigOption, fail, load_or_exit
from watchkeeper.logs import configure_logging

if TYPE_CHECKING:
    from watchkeeper.config.model import Config

__all__ = ["run_command"]


def run_command(
    config: ConfigOption = None,
    interval: Annotated[
        float | None,
        typer.Option(
            "--interval",
            "-i",
            min=1,
            max=3600,
            help="Collect every N seconds (1-3600), overriding every collector's interval.",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (debug).")
    ] = 0,
) -> None:
    """Monitor this host (and configured services) in the foreground.

    Collects on each collector's interval and writes to the embedded store.
    Logs go to stderr. SIGTERM or Ctrl-C stops it after writing everything
    collected so far. SIGHUP reloads the rule files and the rules section of
    the configuration (a bad file is reported and the running rules stay).
    """
    from watchkeeper.runtime.memory import limit_malloc_arenas

    limit_malloc_arenas()
    loaded = load_or_exit(config)
    cfg = loaded.config
    configure_logging(cfg.log.level, cfg.log.format, cfg.log.loggers, verbose=verbose)
    log = logging.getLogger("watchkeeper")
    log.info(
        "configuration: %s; store: %s",
        loaded.path or "built-in defaults",
        cfg.storage.path,
    )
    from watchkeeper.config.load import load_config
    from watchkeeper.rules.loader import RuleFileError
    from watchkeeper.runtime.build import build_runner

    path = loaded.path

    def reload_config() -> Config:
        # The same file again (SIGHUP); a bad one raises and nothing changes.
        if path is None:
            log.info("reload: no configuration file; the built-in rules are read again")
            return cfg
        return load_config(path).config

    try:
        runner = build_runner(cfg, interval=interval, reload_config=reload_config)
    except RuleFileError as exc:
        for problem in exc.errors:
            print(problem, file=sys.stderr)
        raise typer.Exit(EXIT_CONFIG) from None
    except Exception as exc:  # e.g. an unwritable store path
        fail(f"cannot start: {exc}")
    asyncio.run(runner.run(install_signal_handlers=True))
