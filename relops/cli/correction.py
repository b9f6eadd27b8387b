"""``relops correction add|list``: leave a span of a flow's events out of its error budget, after the fact."""

from __future__ import annotations

import click


@click.group()
def correction() -> None:
    """One-off SLO corrections (events that should not count against a flow's budget)."""


@correction.command("add")
@click.option("--flow", required=True, help="The flow whose events to leave out.")
@click.option("--from", "start", required=True, help="ISO-8601 time with offset: the first moment left out.")
@click.option("--to", "end", required=True, help="ISO-8601 time with offset: the first moment counted again.")
@click.option("--reason", "-r", default="", help="Why these events do not count (required).")
def add(flow: str, start: str, end: str, reason: str) -> None:
    """Leave FROM..TO of a flow's events out of its burn rates and budget (the counters stay as they are)."""
    from relops.application.audit import cli_actor
    from relops.application.corrections import add_correction
    from relops.errors import InputRejected
    from relops.timeutil import parse_utc, utcnow
    from relops.wiring import engine, get_config

    try:
        starts_at, ends_at = parse_utc(start), parse_utc(end)
    except ValueError as exc:
        raise click.UsageError(f"--from/--to: {exc}; give ISO-8601 times with their offset") from None
    try:
        added = add_correction(
            engine(),
            get_config(),
            cli_actor(),
            flow=flow,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
            now=utcnow(),
        )
    except InputRejected as exc:
        raise click.UsageError(f"--{exc.field}: {exc.reason}") from None
    click.echo(
        f"correction {added.correction_id} added: {flow} from {starts_at.isoformat()} to {ends_at.isoformat()} "
        f"leaves out {added.excluded.total:,} events ({added.excluded.bad:,} bad) as counted now; "
        "the next evaluation recomputes the budget without them"
    )


@correction.command("list")
def list_() -> None:
    """The newest corrections first."""
    from relops.store.corrections import list_corrections
    from relops.wiring import engine

    with engine().connect() as conn:
        rows = list_corrections(conn)
    if not rows:
        click.echo("no corrections")
    for row in rows:
        click.echo(
            f"#{row['id']:<5} {row['flow']:<24} {row['starts_at']:%Y-%m-%d %H:%M} to {row['ends_at']:%Y-%m-%d %H:%M} "
            f"UTC by {row['created_by']}: {row['reason']}"
        )
