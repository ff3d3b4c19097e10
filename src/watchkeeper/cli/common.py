"""What every command shares: the --config option and turning config errors into exit 2."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from watchkeeper.config.load import ConfigError, LoadedConfig, load_config

__all__ = ["EXIT_CONFIG", "ConfigOption", "fail", "load_or_exit"]

#: Exit code for a configuration that cannot be used.
EXIT_CONFIG = 2

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Configuration file. Default: $WATCHKEEPER_CONFIG, else ./watchkeeper.yml if present, "
        "else built-in defaults.",
        show_default=False,
    ),
]


def fail(message: str, code: int = 1) -> NoReturn:
    print(f"watchkeeper: {message}", file=sys.stderr)
    raise typer.Exit(code)


def load_or_exit(path: Path | None) -> LoadedConfig:
    """The validated configuration, or every problem on stderr and exit 2."""
    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        raise typer.Exit(EXIT_CONFIG) from None


def duration_ms_option(text: str, option: str) -> int:
    """A positive duration option (``1h``, ``90s``, ``2d``) in ms, or exit 2 naming it."""
    from watchkeeper.config.duration import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        fail(f"{option}: {exc}", 2)
    if seconds <= 0:
        fail(f"{option}: must be positive, got {text!r}", 2)
    return int(seconds * 1000)


def time_ms_option(text: str, option: str = "--at") -> int:
    """A time option (Unix seconds or ISO 8601) in ms, or exit 2 naming it."""
    from datetime import datetime

    try:
        return int(float(text) * 1000)
    except ValueError:
        pass
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        fail(f"{option}: expected Unix seconds or ISO 8601, got {text!r}", 2)
