"""``watchkeeper init`` and ``watchkeeper config check``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from watchkeeper.cli.common import EXIT_CONFIG, fail
from watchkeeper.config.load import ConfigError, find_config_file, load_config

__all__ = ["config_app", "init_command"]

config_app = typer.Typer(help="Validate configuration files.", no_args_is_help=True)


def example_config() -> str:
    """The commented example configuration shipped with the package."""
    return resources.files("watchkeeper.config").joinpath("example.yml").read_text("utf-8")


def init_command(
    path: Annotated[Path, typer.Argument(help="Where to write the example configuration.")] = Path(
        "watchkeeper.yml"
    ),
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Overwrite an existing file.")
    ] = False,
) -> None:
    """Write a commented example configuration (every setting at its default)."""
    if path.exists() and not force:
        fail(f"{path} exists; use --force to overwrite it")
    path.write_text(example_config(), encoding="utf-8")
    print(f"wrote {path}; check it with: watchkeeper config check {path}")


@config_app.command("check")
def check_command(
    file: Annotated[
        Path | None,
        typer.Argument(help="File to check. Default: the file `watchkeeper run` would use."),
    ] = None,
) -> None:
    """Validate a configuration file; print every problem with its line, exit 2 if any."""
    target = find_config_file(file)
    if target is None:
        print("no configuration file found: watchkeeper runs on built-in defaults")
        return
    try:
        loaded = load_config(target)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem)
        raise typer.Exit(EXIT_CONFIG) from None
    cfg = loaded.config
    dumped = cfg.collectors.model_dump(by_alias=True)
    enabled = [name for name, c in dumped.items() if isinstance(c, dict) and c.get("enabled")]
    print(f"{target}: OK (collectors: {', '.join(enabled) or 'none'}; store: {cfg.storage.path})")
