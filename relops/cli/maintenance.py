"""``relops maintenance list``: the config file's maintenance windows and when each comes next."""

from __future__ import annotations

import click


@click.group()
def maintenance() -> None:
    """Recurring maintenance windows ([[maintenance]] in the config file)."""


@maintenance.command("list")
def list_() -> None:
    """Each window: its schedule, what it mutes, and its occurrence in progress or next."""
    from relops.silencing.maintenance import next_occurrence
    from relops.timeutil import utcnow
    from relops.wiring import get_config

    windows = get_config().maintenance
    if not windows:
        click.echo("no maintenance windows in the config file")
        return
    now = utcnow()
    for window in windows:
        start, end = next_occurrence(window, now)
        state = "NOW" if start <= now else "next"
        local = start.astimezone(window.zone)
        click.echo(
            f"{window.name:<24} {window.schedule!r} {window.timezone} for {window.duration_s // 60} min, "
            f"mutes {' '.join(window.matchers)}"
        )
        click.echo(
            f"{'':<24} {state}: {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC "
            f"({local:%Y-%m-%d %H:%M %Z} local){'  ' + window.description if window.description else ''}"
        )
