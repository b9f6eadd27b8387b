"""Running the intake: one uvicorn process (uvloop and httptools when installed, as they are with
relops), its access log redacted like the dashboard's, so a key in a ping URL is never written."""

from __future__ import annotations

import gc

from starlette.applications import Starlette
from starlette.routing import Route

from relops.intake.app import build_parts, create_intake_app
from relops.runtime import engine, get_config, redis
from relops.settings import get_settings


def intake_app(extra_routes: list[Route] | None = None) -> Starlette:
    """The intake of this process's settings and config."""
    settings = get_settings()
    parts = build_parts(get_config(), engine(), redis(), settings.broker_url)
    return create_intake_app(parts, extra_routes=extra_routes)


def serve(*, host: str, port: int, extra_routes: list[Route] | None = None) -> None:
    import uvicorn

    from relops.web.access_log import log_config

    app = intake_app(extra_routes)
    # What start-up built (config, modules, the key cache's engine) lives as long as the process;
    # left in the collector's generations, every full collection walks it again, which under load
    # cost more than decoding the requests that triggered it.
    gc.collect()
    gc.freeze()
    # A request allocates a few hundred objects and frees nearly all of them itself; collecting the
    # young generation every 700 allocations (the default) found nothing but cost about 8 % of a
    # batch's CPU. Fifty thousand bounds the garbage a cycle can hold to a few megabytes.
    gc.set_threshold(50_000, 20, 20)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        log_config=log_config(),
        server_header=False,
        # Services behind a proxy are told apart by key, not address; the proxy's headers are not needed.
        proxy_headers=False,
    )
