"""``manage.py watchkeeper <subcommand> ...``: the ``watchkeeper`` CLI with the site settings.

Every subcommand and option of the CLI works the same (``run``,
``collect --once``, ``status``, ``health``, ``query`` ...); the
configuration is ``settings.WATCHKEEPER`` (with the discovered databases
and caches) instead of ``--config``. Secrets stay on this machine: the
configuration is handed over in a private temporary file removed on exit.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from typing import Any

from django.core.management.base import BaseCommand, CommandError

__all__ = ["Command"]


class Command(BaseCommand):
    help = "Run a watchkeeper CLI command with this site's settings (try: watchkeeper --help)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("cli_args", nargs=argparse.REMAINDER, help="CLI arguments.")

    def run_from_argv(self, argv: list[str]) -> None:
        # Django's parser would take --help, -v ... for itself; everything after the
        # command name belongs to the watchkeeper CLI (except Django's --settings/--pythonpath,
        # which manage.py already applied).
        args = [a for a in argv[2:] if not a.startswith(("--settings=", "--pythonpath="))]
        try:
            self._run(args)
        except CommandError as exc:
            self.stderr.write(f"CommandError: {exc}")
            sys.exit(exc.returncode)

    def handle(self, *args: Any, **options: Any) -> None:  # call_command()
        self._run(list(options.get("cli_args") or []))

    def _run(self, args: list[str]) -> None:
        from django.core.exceptions import ImproperlyConfigured

        from watchkeeper.cli.app import app
        from watchkeeper.contrib.django.settings import ConfigError, get_site_settings

        try:
            site = get_site_settings()
            site.config  # noqa: B018 - validate the whole configuration now
        except (ImproperlyConfigured, ConfigError) as exc:
            raise CommandError(str(exc)) from None
        if any(a in ("--config", "-c") or a.startswith("--config=") for a in args):
            raise CommandError(
                "--config is not used here: the configuration is settings.WATCHKEEPER"
            )
        fd, path = tempfile.mkstemp(prefix="watchkeeper-", suffix=".yml")
        previous = os.environ.get("WATCHKEEPER_CONFIG")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(site.config_yaml())
            os.environ["WATCHKEEPER_CONFIG"] = path
            try:
                app(args=args, prog_name="manage.py watchkeeper", standalone_mode=True)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                if code:
                    sys.stdout.flush()
                    sys.exit(code)
        finally:
            if previous is None:
                os.environ.pop("WATCHKEEPER_CONFIG", None)
            else:
                os.environ["WATCHKEEPER_CONFIG"] = previous
            with contextlib.suppress(OSError):
                os.unlink(path)
