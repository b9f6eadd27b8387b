"""``relops migrate``: create the database and the roles if missing, apply every migration."""

from __future__ import annotations

import click


@click.command()
def migrate() -> None:
    """Create the database if it is missing and apply every migration (idempotent)."""
    from relops.db import migrate as run_migrations
    from relops.settings import get_settings

    run_migrations(get_settings().admin_db_url)
    click.echo("database is at the latest migration")
