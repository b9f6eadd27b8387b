"""``relops services check|up|down``: the local Redis and PostgreSQL of a development run, and
RabbitMQ when it is the broker (checked, never started)."""

from __future__ import annotations

from pathlib import Path

import click
from relops_client.logs import kv

from relops.localdev.local_servers import Endpoint, endpoints, ensure_up, problem, stop_all, unique_by_server


def configured_endpoints(rabbitmq_urls: tuple[str, ...] = ()) -> list[Endpoint]:
    from relops.settings import get_settings

    settings = get_settings()
    # As the owner: the relops roles do not exist before the first migration.
    return endpoints(settings.redis_url, settings.broker_url, settings.admin_db_url, rabbitmq_urls)


#: The test suite runs its broker tests on a RabbitMQ too (RELOPS_TEST_AMQP_URL); `make test` names it.
_rabbitmq_option = click.option(
    "--rabbitmq",
    "rabbitmq_urls",
    multiple=True,
    metavar="URL",
    help="Also check this RabbitMQ (amqp://user:password@host:port), e.g. the test suite's. Repeatable.",
)


@click.group()
def services() -> None:
    """Check, start and stop the local Redis and PostgreSQL (data in ./var); check RabbitMQ."""


@services.command()
@_rabbitmq_option
def check(rabbitmq_urls: tuple[str, ...]) -> None:
    """Report whether Redis (and the broker) and PostgreSQL answer; exit 1 if one does not."""
    failed = []
    for endpoint in configured_endpoints(rabbitmq_urls):
        why = problem(endpoint)
        status = "reachable" if why is None else "unreachable"
        click.echo(kv(service=endpoint.label, url=endpoint.shown_url, status=status, error=why))
        if why is not None:
            failed.append(endpoint.label)
    if failed:
        raise click.ClickException(f"unreachable: {', '.join(failed)}")


@services.command()
@_rabbitmq_option
def up(rabbitmq_urls: tuple[str, ...]) -> None:
    """Use running servers, or start local ones under ./var when the URLs point at this machine
    (Redis, PostgreSQL; RabbitMQ must be running already)."""
    var = Path("var")
    failed = []
    for endpoint in unique_by_server(configured_endpoints(rabbitmq_urls)):
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
