"""``relops web``: serve the dashboard and JSON API."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default=None, help="Default RELOPS_WEB_HOST (127.0.0.1).")
@click.option("--port", type=int, default=None, help="Default RELOPS_WEB_PORT (8080).")
def web(host: str | None, port: int | None) -> None:
    """Serve the ops dashboard and JSON API (admins only)."""
    import uvicorn

    from relops.settings import get_settings
    from relops.web.app import create_app

    settings = get_settings()
    uvicorn.run(create_app(), host=host or settings.web_host, port=port or settings.web_port, log_level="info")
