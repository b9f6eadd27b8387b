"""Running the intake: one uvicorn process (uvloop and httptools when installed, as they are with
relops), its access log redacted like the dashboard's, so a key in a ping URL is never written, and
without refused requests, which the intake counts itself."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from relops.heap import settle_after_startup
from relops.http_log import mask_http_library_logs
from relops.intake.app import build_intake_deps, create_intake_app
from relops.intake.pagerduty import PagerDutyWebhooks
from relops.intake.slack import slack_interactions
from relops.redaction import known_secrets
from relops.settings import get_settings
from relops.wiring import engine, get_config, redis


def intake_app(extra_routes: list[Route] | None = None) -> Starlette:
    """The intake of this process's settings and config."""
    settings = get_settings()
    config, db, client = get_config(), engine(), redis()
    slack_clicks = slack_interactions(settings, config, db, client)
    hooks = PagerDutyWebhooks.from_settings(settings, config, db, client)
    parts = build_intake_deps(config, db, client, settings.broker_url, slack_clicks, hooks)
    return create_intake_app(parts, extra_routes=extra_routes)


def serve(*, host: str, port: int, extra_routes: list[Route] | None = None) -> None:
    import uvicorn

    from relops.server_log import log_config

    app = intake_app(extra_routes)
    # A Slack click's answer goes to its response_url, whose path is a token: never in a log line.
    mask_http_library_logs(known_secrets(get_settings()))
    settle_after_startup()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=get_settings().log_level.lower(),
        log_config=log_config(level=get_settings().log_level, skip_refusals=True),
        server_header=False,
        # Services behind a proxy are told apart by key, not address; the proxy's headers are not needed.
        proxy_headers=False,
    )
