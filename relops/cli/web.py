"""``relops web``: serve the dashboard and JSON API."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default=None, help="Default RELOPS_WEB_HOST (127.0.0.1).")
@click.option("--port", type=int, default=None, help="Default RELOPS_WEB_PORT (8080).")
def web(host: str | None, port: int | None) -> None:
    """Serve the ops dashboard and JSON API (admins only)."""
    import uvicorn

    from relops.server_log import log_config
    from relops.settings import get_settings
    from relops.web.app import create_app
    from relops.web.deps import build_web_deps

    settings = get_settings()
    uvicorn.run(
        create_app(build_web_deps(settings)),
        host=host or settings.web_host,
        port=port or settings.web_port,
        log_level=settings.log_level.lower(),
        log_config=log_config(level=settings.log_level),
        # X-Forwarded-For and -Proto are believed from these proxies only: the client address that
        # sign-ins are throttled by, and whether the request came over https (Secure cookies).
        proxy_headers=True,
        forwarded_allow_ips=settings.web_trusted_proxies,
        server_header=False,
    )
