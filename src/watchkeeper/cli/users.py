"""``watchkeeper user add|passwd|remove|list`` and ``watchkeeper token create|revoke|list``.

They work on the web's user database (``web.db`` beside the store, or
``web.database``), with or without ``watchkeeper run`` running. Passwords are
read without echo (or generated and printed once); tokens are printed once
and only their hash is kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from watchkeeper.cli.common import ConfigOption, fail, load_or_exit

__all__ = ["token_app", "user_app"]

user_app = typer.Typer(help="Manage dashboard/API users.", no_args_is_help=True)
token_app = typer.Typer(
    help="Manage API tokens (for scripts, Grafana, Prometheus).", no_args_is_help=True
)
#: The brief's name for the sub-app the lead registers (``user``).
app = user_app


def _db(config: Path | None):  # type: ignore[no-untyped-def]
    from watchkeeper.web.authdb import AuthDB

    cfg = load_or_exit(config).config
    return AuthDB(cfg.web.database_path(cfg.storage.path))


def _password(generate: bool) -> tuple[str, bool]:
    from watchkeeper.web.passwords import generate_password

    if generate:
        return generate_password(), True
    value = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return str(value), False


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[str, typer.Option("--role", "-r", help="viewer, operator or admin")] = "viewer",
    generate: Annotated[
        bool,
        typer.Option("--generate/--prompt", help="Generate a password (default) or ask for one."),
    ] = True,
    config: ConfigOption = None,
) -> None:
    """Add a user; prints the generated password once."""
    from watchkeeper.web.authdb import AuthError

    db = _db(config)
    password, generated = _password(generate)
    try:
        user = db.add_user(username, password, role)
    except AuthError as exc:
        fail(str(exc))
    db.audit("cli", "user.add", user.username, {"role": user.role.value})
    print(f"added {user.username} ({user.role.value})")
    if generated:
        print(f"password: {password}")


@user_app.command("passwd")
def user_passwd(
    username: str,
    generate: Annotated[bool, typer.Option("--generate/--prompt")] = False,
    config: ConfigOption = None,
) -> None:
    """Set a user's password (ends their sessions)."""
    from watchkeeper.web.authdb import AuthError

    db = _db(config)
    if db.user(username) is None:
        fail(f"no user {username!r}")
    password, generated = _password(generate)
    try:
        db.set_password(username, password)
    except AuthError as exc:
        fail(str(exc))
    db.audit("cli", "user.password", username)
    print(f"password of {username} changed")
    if generated:
        print(f"password: {password}")


@user_app.command("remove")
def user_remove(username: str, config: ConfigOption = None) -> None:
    """Remove a user (their tokens and sessions go too)."""
    from watchkeeper.web.authdb import AuthError

    db = _db(config)
    try:
        db.remove_user(username)
    except AuthError as exc:
        fail(str(exc))
    db.audit("cli", "user.remove", username)
    print(f"removed {username}")


@user_app.command("list")
def user_list(config: ConfigOption = None) -> None:
    """List users and roles."""
    for u in _db(config).users():
        print(f"{u.username}\t{u.role.value}")


@token_app.command("create")
def token_create(
    username: str,
    name: Annotated[str, typer.Option("--name", "-n", help="What the token is for.")] = "api",
    config: ConfigOption = None,
) -> None:
    """Create an API token for USERNAME; printed once (only its hash is stored)."""
    from watchkeeper.web.authdb import AuthError

    db = _db(config)
    try:
        token = db.create_token(username, name)
    except AuthError as exc:
        fail(str(exc))
    info = db.tokens(username)[-1]
    db.audit("cli", "token.create", f"{username}/{name}", {"id": info.id})
    print(f"token {info.id} for {username} ({name}):")
    print(token)


@token_app.command("revoke")
def token_revoke(token_id: int, config: ConfigOption = None) -> None:
    """Revoke a token by its id (see `watchkeeper token list`)."""
    from watchkeeper.web.authdb import AuthError

    db = _db(config)
    try:
        info = db.revoke_token(token_id)
    except AuthError as exc:
        fail(str(exc))
    db.audit("cli", "token.revoke", f"{info.username}/{info.name}", {"id": token_id})
    print(f"revoked token {token_id} ({info.username}/{info.name})")


@token_app.command("list")
def token_list(config: ConfigOption = None) -> None:
    """List tokens (never the tokens themselves)."""
    for t in _db(config).tokens():
        state = "revoked" if t.revoked_at else "active"
        print(f"{t.id}\t{t.username}\t{t.name}\t{state}")
