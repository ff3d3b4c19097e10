"""The ``watchkeeper`` command line: one Typer app, one module per command.

Commands are loaded on first use: ``watchkeeper run`` is a long-lived
process, and importing every other command's module (web users, alerts,
store maintenance...) would cost it memory for nothing; short commands start
faster too. ``watchkeeper --help`` still lists them all.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

from watchkeeper._version import __version__

__all__ = ["app", "main"]

#: name -> (module, attribute). An attribute that is a Typer app becomes a
#: command group; a function becomes a command. Help text comes from each.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("watchkeeper.cli.run", "run_command"),
    "collect": ("watchkeeper.cli.collect", "collect_command"),
    "status": ("watchkeeper.cli.status", "status_command"),
    "query": ("watchkeeper.cli.query", "query_command"),
    "report": ("watchkeeper.cli.report", "report_command"),
    "health": ("watchkeeper.cli.health", "health_command"),
    "init": ("watchkeeper.cli.config_cmd", "init_command"),
    "config": ("watchkeeper.cli.config_cmd", "config_app"),
    "rules": ("watchkeeper.cli.rules", "app"),
    "store": ("watchkeeper.cli.store", "app"),
    "user": ("watchkeeper.cli.users", "user_app"),
    "token": ("watchkeeper.cli.users", "token_app"),
    "alerts": ("watchkeeper.cli.alerts", "alerts_app"),
    "silence": ("watchkeeper.cli.alerts", "silence_app"),
    "maintenance": ("watchkeeper.cli.alerts", "maintenance_app"),
    "notify": ("watchkeeper.cli.alerts", "notify_app"),
    "outbox": ("watchkeeper.cli.alerts", "outbox_app"),
}


def load_command(name: str) -> Any:
    """The click command for ``name``, importing its module now."""
    module, attr = COMMANDS[name]
    target = getattr(importlib.import_module(module), attr)
    command: Any
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        return load_command(cmd_name)


app = typer.Typer(
    name="watchkeeper",
    cls=LazyGroup,
    help="Production monitoring and alerting for Python web applications.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"watchkeeper {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Production monitoring and alerting for Python web applications."""


def main() -> None:
    app()
