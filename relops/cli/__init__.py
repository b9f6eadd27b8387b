"""The ``relops`` command: one module per command group in this package, assembled here.

Each command imports what it needs when it runs, not when the command line is parsed: ``relops
cron exec`` wraps crontab lines, and importing the web and Celery stacks too would more than double
its start (measured: 0.6 s to import this package, 1.5 s with the dashboard and the worker app)."""

from __future__ import annotations

import sys

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from relops.cli.alerts import alerts, rejections
from relops.cli.audit import audit
from relops.cli.breakers import breakers
from relops.cli.config import config
from relops.cli.correction import correction
from relops.cli.cron import cron
from relops.cli.demo import demo
from relops.cli.evaluate import evaluate, tick
from relops.cli.incidents import incidents
from relops.cli.intake import intake
from relops.cli.keys import keys
from relops.cli.maintenance import maintenance
from relops.cli.migrate import migrate
from relops.cli.routes import routes
from relops.cli.services import services
from relops.cli.silence import silence
from relops.cli.slo import slo
from relops.cli.status import status
from relops.cli.users import users
from relops.cli.web import web
from relops.errors import RelopsError


@click.group()
def cli() -> None:
    """relops: SLO burn-rate alerting, cron health and dependency breakers."""


for _command in (
    alerts,
    audit,
    breakers,
    config,
    correction,
    cron,
    demo,
    evaluate,
    incidents,
    intake,
    keys,
    maintenance,
    migrate,
    rejections,
    routes,
    services,
    silence,
    slo,
    status,
    tick,
    users,
    web,
):
    cli.add_command(_command)


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
