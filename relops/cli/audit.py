"""``relops audit``: who acknowledged, resolved or changed what, when and from where."""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--limit", default=50, show_default=True, help="How many of the newest entries to show.")
def audit(limit: int) -> None:
    """The newest audit entries first: incident changes, user changes, sign-ins."""
    from relops.store.audit import recent_audit
    from relops.wiring import engine

    with engine().connect() as conn:
        rows = recent_audit(conn, limit)
    if not rows:
        click.echo("nothing audited yet")
    for row in rows:
        details = f" {json.dumps(row['details'], sort_keys=True)}" if row["details"] else ""
        click.echo(
            f"{row['at']:%Y-%m-%d %H:%M:%S} {row['actor']} via {row['via']} from {row['source']}: "
            f"{row['action']} {row['target']}{details}"
        )
