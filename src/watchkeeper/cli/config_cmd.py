"""``watchkeeper init`` and ``watchkeeper config check``."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from watchkeeper.cli.common import EXIT_CONFIG, fail
from watchkeeper.config.load import ConfigError, find_config_file, load_config

if TYPE_CHECKING:
    from watchkeeper.collect.discover import DiscoveredService

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
    discover: Annotated[
        bool,
        typer.Option(
            "--discover/--no-discover",
            help="Look for PostgreSQL, MySQL, Redis and RabbitMQ on 127.0.0.1 and add them.",
        ),
    ] = True,
) -> None:
    """Write a commented example configuration (every setting at its default).

    With discovery (the default), local services that answer on their usual
    port are added as collectors and health checks, credentials left as
    ${ENV:-default} references for you to set.
    """
    if path.exists() and not force:
        fail(f"{path} exists; use --force to overwrite it")
    text = example_config()
    if discover:
        from watchkeeper.collect.discover import describe_discovery, discover_services

        found = discover_services()
        print(describe_discovery(found))
        text += discovered_sections(found)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}; check it with: watchkeeper config check {path}")


def discovered_sections(found: Sequence[DiscoveredService]) -> str:
    """YAML for the services found: entries under ``collectors:`` and a ``health:`` section."""
    if not found:
        return ""
    import yaml

    collectors: dict[str, list[dict[str, Any]]] = {}
    checks: list[dict[str, Any]] = [
        {"name": "disk", "type": "disk", "critical": False},
        {"name": "memory", "type": "memory", "critical": False},
    ]
    for service in found:
        collectors.setdefault(service.kind, []).append(service.config)
        if service.health_check:
            checks.append(service.health_check)
    body = yaml.safe_dump(collectors, sort_keys=False, default_flow_style=False)
    indented = "".join(f"  {line}\n" for line in body.splitlines())
    health = yaml.safe_dump({"health": {"checks": checks}}, sort_keys=False)
    return (
        "  # Found by `watchkeeper init` on this machine:\n"
        + indented
        + "\n# Health checks behind /health, /readyz and `watchkeeper health`.\n"
        + health
    )


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
    enabled += [f"{name} x{len(c)}" for name, c in dumped.items() if isinstance(c, list) and c]
    print(f"{target}: OK (collectors: {', '.join(enabled) or 'none'}; store: {cfg.storage.path})")
