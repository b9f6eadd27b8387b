"""``relops intake``: serve the HTTP intake (report-only; the dashboard is `relops web`)."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default=None, help="Default RELOPS_INTAKE_HOST (127.0.0.1).")
@click.option("--port", type=int, default=None, help="Default RELOPS_INTAKE_PORT (8081).")
def intake(host: str | None, port: int | None) -> None:
    """Serve the HTTP intake: outcomes and cron pings from services, with report keys."""
    from relops.intake.server import serve
    from relops.settings import get_settings

    settings = get_settings()
    serve(host=host or settings.intake_host, port=port or settings.intake_port)
