"""``relops keys add|list|revoke``: report-only keys for the HTTP intake, and metrics keys for
Prometheus (``--scope metrics``: reads the dashboard's /metrics and nothing else).

Like users, keys are written by an owner (RELOPS_ADMIN_DATABASE_URL) and every change is audited.
A key is printed once; only its hash is stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from relops.access.report_keys import DEFAULT_BURST, DEFAULT_RATE_PER_S, METRICS_SCOPE, SCOPES, parse_scopes

if TYPE_CHECKING:
    from sqlalchemy import Engine


def _engine() -> Engine:
    from relops.db import get_engine
    from relops.settings import get_settings

    return get_engine(get_settings().admin_db_url)


def _names(text: str | None, known: set[str], kind: str) -> list[str] | None:
    if text is None:
        return None
    chosen = sorted({part.strip() for part in text.split(",") if part.strip()})
    unknown = [name for name in chosen if name not in known]
    if unknown or not chosen:
        raise click.BadParameter(
            f"{', '.join(unknown) or text!r}: not a {kind} in the relops config (known: {', '.join(sorted(known))})"
        )
    return chosen


@click.group()
def keys() -> None:
    """Report-only keys for the HTTP intake (relops intake), and metrics keys for Prometheus."""


@keys.command("add")
@click.argument("name")
@click.option(
    "--scope",
    "scope_text",
    required=True,
    help=f"Comma-separated: {', '.join(SCOPES)}. {METRICS_SCOPE} stands alone: a key that reads the dashboard's "
    "/metrics (for Prometheus) and nothing else.",
)
@click.option("--flows", default=None, help="Only these flows (comma-separated); default every flow.")
@click.option("--jobs", default=None, help="Only these jobs (comma-separated); default every job.")
@click.option(
    "--rate",
    type=click.FloatRange(min=0.1),
    default=DEFAULT_RATE_PER_S,
    show_default=True,
    help="Requests per second this key may send, shared by every intake process.",
)
@click.option(
    "--burst",
    type=click.IntRange(min=1),
    default=DEFAULT_BURST,
    show_default=True,
    help="Requests a quiet key may send at once.",
)
def add(name: str, scope_text: str, flows: str | None, jobs: str | None, rate: float, burst: int) -> None:
    """Create a report key (or a metrics key) and print it once (only a hash is stored)."""
    from relops.access.report_keys import hash_key, new_key
    from relops.application.audit import cli_actor
    from relops.store.report_keys import add_key, key_row
    from relops.wiring import get_config

    try:
        scopes = parse_scopes(scope_text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--scope") from None
    if METRICS_SCOPE in scopes and (flows is not None or jobs is not None):
        # /metrics shows every flow and job: a narrowed metrics key would promise what it cannot keep.
        raise click.BadParameter("a metrics key reads every flow and job: --flows and --jobs are for report keys")
    config = get_config()
    flow_names = _names(flows, set(config.flows_by_name), "flow")
    job_names = _names(jobs, set(config.jobs_by_name), "job")
    key = new_key()
    actor = cli_actor()
    with _engine().begin() as conn:
        if key_row(conn, name) is not None:
            raise click.ClickException(f"a key named {name!r} exists already (revoked keys keep their name)")
        add_key(
            conn,
            name=name,
            key_hash=hash_key(key),
            scopes=scopes,
            flows=flow_names,
            jobs=job_names,
            rate_per_s=rate,
            burst=burst,
            created_by=actor.name,
        )
        actor.record(conn, "key.add", f"key {name}", scopes=list(scopes), flows=flow_names, jobs=job_names, rate=rate)
    click.echo(f"key {name} ({','.join(scopes)}) created. Shown this once:\n{key}")


@keys.command("list")
def list_() -> None:
    """Every key: scopes, flows and jobs it is limited to, rate, live or revoked."""
    from relops.store.report_keys import list_keys

    with _engine().connect() as conn:
        rows = list_keys(conn)
    if not rows:
        click.echo("no keys yet: relops keys add NAME --scope outcomes,cron")
        return
    click.echo(f"{'name':<24} {'scopes':<14} {'flows':<20} {'jobs':<20} {'rate/s':>7} {'created':<19}  state")
    for row in rows:
        state = f"revoked {row['revoked_at']:%Y-%m-%d %H:%M:%S}" if row["revoked_at"] else "active"
        flows = ",".join(row["flows"]) if row["flows"] is not None else "all"
        jobs = ",".join(row["jobs"]) if row["jobs"] is not None else "all"
        click.echo(
            f"{row['name']:<24} {','.join(row['scopes']):<14} {flows:<20} {jobs:<20} {row['rate_per_s']:>7g} "
            f"{row['created_at']:%Y-%m-%d %H:%M:%S}  {state}"
        )


@keys.command("revoke")
@click.argument("name")
def revoke(name: str) -> None:
    """Revoke a key: every intake refuses it within a second."""
    from relops.application.audit import cli_actor
    from relops.store.report_keys import key_row, revoke_key

    with _engine().begin() as conn:
        row = key_row(conn, name)
        if row is None:
            raise click.ClickException(f"no key named {name!r} (relops keys list shows them)")
        if not revoke_key(conn, name):
            raise click.ClickException(f"key {name} was revoked already, at {row['revoked_at']:%Y-%m-%d %H:%M:%S}")
        cli_actor().record(conn, "key.revoke", f"key {name}")
    click.echo(f"key {name} revoked")
