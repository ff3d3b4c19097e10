"""The ``watchkeeper`` command line: one Typer app, one module per command."""

from __future__ import annotations

import typer

from watchkeeper._version import __version__
from watchkeeper.cli.alerts import register as register_alert_commands
from watchkeeper.cli.collect import collect_command
from watchkeeper.cli.config_cmd import config_app, init_command
from watchkeeper.cli.health import health_command
from watchkeeper.cli.query import query_command
from watchkeeper.cli.rules import app as rules_app
from watchkeeper.cli.run import run_command
from watchkeeper.cli.status import status_command
from watchkeeper.cli.store import app as store_app
from watchkeeper.cli.users import token_app, user_app

__all__ = ["app", "main"]

app = typer.Typer(
    name="watchkeeper",
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


app.command("run")(run_command)
app.command("collect")(collect_command)
app.command("status")(status_command)
app.command("query")(query_command)
app.command("health")(health_command)
app.command("init")(init_command)
app.add_typer(config_app, name="config")
app.add_typer(rules_app, name="rules")
app.add_typer(store_app, name="store")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
register_alert_commands(app)


def main() -> None:
    app()
