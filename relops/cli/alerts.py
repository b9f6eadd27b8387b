"""``relops alerts``: the alert events the alert queue has received."""

from __future__ import annotations

import click


@click.group(invoke_without_command=True)
@click.option("--limit", default=20, show_default=True, help="How many of the newest to show.")
@click.pass_context
def alerts(ctx: click.Context, limit: int) -> None:
    """List the newest alert events received on the alerts queue."""
    if ctx.invoked_subcommand is not None:
        return
    from relops.store.alert_events import recent_alert_events
    from relops.wiring import engine

    with engine().connect() as conn:
        rows = recent_alert_events(conn, limit)
    if not rows:
        click.echo("no alert events yet")
        return
    for row in rows:
        click.echo(f"{row['received_at']:%Y-%m-%d %H:%M:%S} {row['severity']:<8} {row['fingerprint']}  {row['title']}")


@alerts.command()
@click.option("--limit", default=20, show_default=True, help="How many of the newest to show.")
def failed(limit: int) -> None:
    """Messages that could not be delivered after their last attempt (dead letters)."""
    from relops.store.notifications import dead_letters
    from relops.wiring import engine

    with engine().connect() as conn:
        rows = dead_letters(conn, limit)
    if not rows:
        click.echo("no failed deliveries")
    for row in rows:
        click.echo(
            f"{row['failed_at']:%Y-%m-%d %H:%M:%S} channel={row['channel']} receiver={row['receiver']} "
            f"alerts={row['notifications']} attempts={row['attempts']} reason={row['reason']}"
        )
        for alert in row["alerts"][:10]:
            click.echo(f"    {alert['kind']:<8} {alert['fingerprint']}  {alert['title']}")


@click.command()
@click.option("--limit", default=20, show_default=True, help="How many of the newest to show.")
def rejections(limit: int) -> None:
    """List the newest rejected inputs: task, field, reason."""
    from sqlalchemy import select

    from models import RejectedInput
    from relops.wiring import engine

    table = RejectedInput.__table__
    with engine().connect() as conn:
        rows = conn.execute(select(table).order_by(table.c.id.desc()).limit(limit)).mappings().all()
    if not rows:
        click.echo("no rejected inputs")
    for row in rows:
        where = f"item {row['item_index']} " if row["item_index"] is not None else ""
        click.echo(
            f"{row['received_at']:%Y-%m-%d %H:%M:%S} {row['task']} ref={row['reference']} "
            f"{where}field={row['field']}: {row['reason']}  {row['excerpt']}"
        )
