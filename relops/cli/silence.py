"""``relops silence add|list|expire``: tell relops to be quiet, for a while, about some alerts."""

from __future__ import annotations

import click

#: The option of the command that gave each field a silence is refused for.
OPTION_OF = {
    "matchers": "--match",
    "starts_at": "--start",
    "ends_at": "--for/--end",
    "duration": "--for",
    "reason": "--reason",
}


@click.group()
def silence() -> None:
    """Silences: matching alerts are recorded but notify nobody until the silence ends."""


@silence.command("add")
@click.option("--match", "-m", "matches", multiple=True, help='flow=checkout, severity!=critical, job=~"nightly-.*"')
@click.option("--all", "match_all", is_flag=True, help="Mute every alert (only with no --match).")
@click.option("--for", "duration", help="How long, from the start: 90m, 2h, 1d.")
@click.option("--start", help="When it starts (ISO-8601 with offset); default now.")
@click.option("--end", help="When it ends (ISO-8601 with offset), instead of --for.")
@click.option("--reason", "-r", default="", help="Why (required): the deploy, the incident, the maintenance.")
def add(
    matches: tuple[str, ...], match_all: bool, duration: str | None, start: str | None, end: str | None, reason: str
) -> None:
    """Add a silence; prints its id and the open incidents it matches right now."""
    from relops.application.audit import cli_actor
    from relops.application.silences import add_requested_silence, read_silence_request
    from relops.errors import InputRejected
    from relops.timeutil import utcnow
    from relops.wiring import engine, get_config

    now = utcnow()
    try:
        request = read_silence_request(
            get_config(),
            now,
            matchers=list(matches),
            match_all=match_all,
            starts_at=start,
            ends_at=end,
            duration=duration,
            reason=reason,
        )
        added = add_requested_silence(engine(), get_config(), cli_actor(), request, now)
    except InputRejected as exc:
        raise click.UsageError(f"{OPTION_OF.get(exc.field, exc.field)}: {exc.reason}") from None
    click.echo(f"silence {added.silence_id} added, until {request.ends_at:%Y-%m-%d %H:%M:%S %Z}; it matches now:")
    for incident in added.matches_now or []:
        click.echo(
            f"  incident {incident['id']:>5} {incident['status']:<12} {incident['severity']:<8} {incident['title']}"
        )
    if not added.matches_now:
        click.echo("  no open incident (it will mute matching alerts as they come)")


@silence.command("list")
@click.option("--all", "include_past", is_flag=True, help="Ended and expired silences too.")
def list_(include_past: bool) -> None:
    """Active and pending silences (and past ones), with how many alerts each muted."""
    from relops.application.silences import silence_view
    from relops.store.silences import silence_rows
    from relops.timeutil import utcnow
    from relops.wiring import engine

    with engine().connect() as conn:
        rows = silence_rows(conn, include_past=include_past)
    if not rows:
        click.echo("no silences" if include_past else "no active silences (--all shows past ones)")
        return
    now = utcnow()
    for row in rows:
        view = silence_view(row, now)
        click.echo(
            f"#{view['id']:<5} {view['state']:<8} {view['describe']}  until {view['ends_at'][:19]}  "
            f"muted {view['muted']}  by {view['created_by']}: {view['reason']}"
        )


@silence.command("expire")
@click.argument("silence_id", type=int)
def expire_command(silence_id: int) -> None:
    """End a silence now: what it muted pages again at its next firing."""
    from relops.application.audit import cli_actor
    from relops.application.silences import expire
    from relops.timeutil import utcnow
    from relops.wiring import engine

    row = expire(engine(), cli_actor(), silence_id, utcnow())
    if row is None:
        raise click.ClickException(f"silence {silence_id} does not exist or is over already")
    click.echo(f"silence {silence_id} expired; it muted {row['muted']} alert event(s)")
