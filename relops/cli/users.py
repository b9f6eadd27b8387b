"""``relops users add NAME --role admin|viewer``: a new user and its token, printed once."""

from __future__ import annotations

import click

from relops.store.users import ROLES


@click.group()
def users() -> None:
    """Users of the dashboard and the JSON API."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="admin reads ops data; viewer reads nothing.")
def add(name: str, role: str) -> None:
    """Create a user and print its API token once (only a hash is stored)."""
    from sqlalchemy.exc import IntegrityError

    from relops.db import get_engine
    from relops.settings import get_settings
    from relops.store.users import add_user
    from relops.tokens import hash_token, new_token

    token = new_token()
    try:
        # Only an owner may write users: neither the workers' nor the web service's role can.
        with get_engine(get_settings().admin_db_url).begin() as conn:
            add_user(conn, name, role, hash_token(token))
    except IntegrityError:
        raise click.ClickException(f"a user named {name!r} exists already") from None
    click.echo(f"user {name} ({role}) created. Its token, shown this once:\n{token}")
