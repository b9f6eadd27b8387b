"""``relops silence add|list|expire``: tell relops to be quiet, for a while, about some alerts."""

from __future__ import annotations

from datetime import datetime

import click


def _parse_time(text: str | None, option: str) -> datetime | None:
    from relops.timeutil import parse_utc

    if text is None:
        return None
    try:
        return parse_utc(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r}: {exc}; give an ISO-8601 time with its offset", param_hint=option) from None


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
    from relops.application.silences import add_silence
    from relops.errors import InputRejected
    from relops.matchers import parse_matcher
    from relops.silencing.silences import check_matcher_count
    from relops.timeutil import parse_duration, utcnow
    from relops.wiring import engine, get_config

    now = utcnow()
    starts_at = _parse_time(start, "--start") or now
    ends_at = _parse_time(end, "--end")
    if (duration is None) == (ends_at is None):
        raise click.UsageError("give exactly one of --for DURATION or --end TIME")
    if duration is not None:
        try:
            ends_at = starts_at + parse_duration(duration)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--for") from None
    assert ends_at is not None
    try:
        check_matcher_count(len(matches), get_config().silences.max_matchers)
        matchers = [parse_matcher(text, "--match") for text in matches]
        added = add_silence(
            engine(),
            get_config(),
            cli_actor(),
            matchers=matchers,
            match_all=match_all,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
            now=now,
        )
    except InputRejected as exc:
        flag = {"matchers": "--match", "ends_at": "--for/--end", "reason": "--reason"}.get(exc.field, exc.field)
        raise click.UsageError(f"{flag}: {exc.reason}") from None
    click.echo(f"silence {added.silence_id} added, until {ends_at:%Y-%m-%d %H:%M:%S %Z}; it matches now:")
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
