"""``relops incidents``: list open incidents, acknowledge or resolve one."""

from __future__ import annotations

import click

from relops.application.incidents import Action


@click.group(invoke_without_command=True)
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved incidents.")
@click.pass_context
def incidents(ctx: click.Context, include_resolved: bool) -> None:
    """List open (and acknowledged) incidents, worst first."""
    if ctx.invoked_subcommand is not None:
        return
    from relops.store.incidents import list_incidents
    from relops.wiring import engine

    with engine().connect() as conn:
        rows = list_incidents(conn, include_resolved=include_resolved)
    if not rows:
        click.echo("no open incidents")
        return
    click.echo(f"{'id':>6} {'status':<12} {'severity':<8} {'seen':>6} {'last seen':<19} title")
    for row in rows:
        click.echo(
            f"{row['id']:>6} {row['status']:<12} {row['severity']:<8} {row['occurrences']:>6} "
            f"{row['last_seen']:%Y-%m-%d %H:%M:%S} {row['title']}"
        )
        if row["runbook_url"]:
            click.echo(f"{'':>6} runbook: {row['runbook_url']}")
        muted = [f"silenced by {row['silenced_by']}"] if row["silenced_by"] else []
        if row["inhibited_by"]:
            muted.append(f"inhibited by {row['inhibited_by'].removeprefix('dependency:')} (its breaker is open)")
        if muted:
            click.echo(f"{'':>6} {'; '.join(muted)}")
        heard = ", ".join(sorted(row["notified"] or {}))
        if row["route"] or heard:
            click.echo(f"{'':>6} route: {row['route'] or '-'}; heard by: {heard or 'nobody yet'}")
        for step in row["escalations"] or ():
            when = step["at"][:19].replace("T", " ")
            click.echo(f"{'':>6} escalated to {step['to']} at {when} (after {step['after_s']}s unacknowledged)")


def _change(incident_id: int, action: Action) -> None:
    from relops_client.logs import kv

    from relops.application.audit import cli_actor
    from relops.application.incidents import STATUS_OF, change_incident, followers_of, unchanged_reason
    from relops.timeutil import utcnow
    from relops.wiring import engine, get_config, get_receivers, producer_publisher, redis, task_producer

    followers = followers_of(get_config(), producer_publisher(task_producer()))
    row = change_incident(
        engine(), redis(), list(get_receivers()), incident_id, action, utcnow(), cli_actor(), followers=followers
    )
    if row is None:
        raise click.ClickException(unchanged_reason(incident_id, action))
    click.echo(kv(incident=incident_id, fingerprint=row["fingerprint"], status=STATUS_OF[action]))


@incidents.command()
@click.argument("incident_id", type=int)
def ack(incident_id: int) -> None:
    """Acknowledge an open incident: its repeats stop notifying until it resolves."""
    _change(incident_id, "ack")


@incidents.command()
@click.argument("incident_id", type=int)
def resolve(incident_id: int) -> None:
    """Resolve an open or acknowledged incident by hand."""
    _change(incident_id, "resolve")
