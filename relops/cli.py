"""The ``relops`` command."""

from __future__ import annotations

import sys

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from relops.errors import RelopsError


@click.group()
def cli() -> None:
    """relops: SLO burn-rate alerting, cron health and dependency breakers."""


@cli.command()
def migrate() -> None:
    """Create the database if it is missing and apply every migration (idempotent)."""
    from relops.db import migrate as run_migrations
    from relops.settings import get_settings

    settings = get_settings()
    run_migrations(settings.admin_db_url)
    click.echo("database is at the latest migration")


@cli.group()
def config() -> None:
    """Inspect the config file (RELOPS_CONFIG)."""


@config.command("check")
def config_check() -> None:
    """Load and validate the config file; print a summary."""
    from relops.settings import get_settings
    from relops.slo_config import load_config

    settings = get_settings()
    loaded = load_config(settings.config_path)
    windows = ", ".join(w.name for w in loaded.evaluation.windows)
    click.echo(
        f"{settings.config_path}: {len(loaded.flows)} flows, windows {windows}, "
        f"tick every {loaded.evaluation.tick_interval_s}s"
    )


def _register_subcommands() -> None:
    from relops.cli_alerts import alerts, rejections
    from relops.cli_breakers import breakers
    from relops.cli_cron import cron
    from relops.cli_demo import demo
    from relops.cli_evaluate import evaluate, tick
    from relops.cli_incidents import incidents
    from relops.cli_status import status
    from relops.cli_users import users
    from relops.cli_web import web
    from relops.services import services

    for command in (alerts, breakers, rejections, cron, demo, evaluate, incidents, status, tick, services, users, web):
        cli.add_command(command)


_register_subcommands()


def main() -> None:
    """Entry point: relops errors print as one clear line and exit 2, never a traceback."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except RelopsError as exc:
        click.echo(f"relops: {exc}", err=True)
        sys.exit(2)
    except OperationalError as exc:
        click.echo(
            f"relops: cannot reach PostgreSQL ({str(exc.orig).splitlines()[0][:200]}); "
            "is it running? `relops services check` says",
            err=True,
        )
        sys.exit(2)
    except ProgrammingError as exc:
        if "does not exist" not in str(exc.orig):
            raise
        click.echo(
            f"relops: {str(exc.orig).splitlines()[0]}: the database is not migrated; run `relops migrate`", err=True
        )
        sys.exit(2)
