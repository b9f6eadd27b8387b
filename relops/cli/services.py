"""``relops services check|up|down``: the local Redis and PostgreSQL of a development run."""

from __future__ import annotations

from pathlib import Path

import click

from relops.devtools.local_servers import Endpoint, endpoints, ensure_up, problem, stop_all, unique_by_server
from relops.logs import kv


def configured_endpoints() -> list[Endpoint]:
    from relops.settings import get_settings

    settings = get_settings()
    # As the owner: the relops roles do not exist before the first migration.
    return endpoints(settings.redis_url, settings.broker_url, settings.admin_db_url)


@click.group()
def services() -> None:
    """Check, start and stop the local Redis and PostgreSQL (data in ./var)."""


@services.command()
def check() -> None:
    """Report whether Redis (and the broker) and PostgreSQL answer; exit 1 if one does not."""
    failed = []
    for endpoint in configured_endpoints():
        why = problem(endpoint)
        status = "reachable" if why is None else "unreachable"
        click.echo(kv(service=endpoint.label, url=endpoint.shown_url, status=status, error=why))
        if why is not None:
            failed.append(endpoint.label)
    if failed:
        raise click.ClickException(f"unreachable: {', '.join(failed)}")


@services.command()
def up() -> None:
    """Use running servers, or start local ones under ./var when the URLs point at this machine."""
    var = Path("var")
    failed = []
    for endpoint in unique_by_server(configured_endpoints()):
        outcome = ensure_up(endpoint, var)
        click.echo(kv(service=endpoint.label, url=endpoint.shown_url, status=outcome.action))
        if outcome.action == "started":
            click.echo(f"  {endpoint.label}: started a local server, data in {outcome.detail}")
        elif outcome.action == "failed":
            click.echo(f"  {endpoint.label}: {outcome.detail}", err=True)
            failed.append(endpoint.label)
    if failed:
        raise click.ClickException(f"not available: {', '.join(failed)}")


@services.command()
def down() -> None:
    """Stop only the servers `relops services up` started (pid files in ./var)."""
    results = stop_all(Path("var"))
    if not results:
        click.echo("nothing to stop: relops started no server here")
    for what, result, _ok in results:
        click.echo(kv(service=what, status=result))
    failed = [what for what, _result, ok in results if not ok]
    if failed:
        raise click.ClickException(f"could not stop: {', '.join(failed)}")
