"""The dashboard and JSON API. Every ops endpoint and page: anonymous 401, viewer 403, admin 200.

One middleware decides before any route, parameter or body is looked at: who is asking (a bearer
token, or a server-side session), whether they may (admins only; a viewer may only sign out), and,
for a state-changing request made with the session cookie, whether it comes from this origin (and,
for the JSON API, carries the session's CSRF token; forms carry it as a field). Every response
gets the security headers, and everything but the stylesheet ``Cache-Control: no-store``.

The service reads with the relops_web database role: it may read the ops tables, change an
incident's status, keep sessions and append audit rows, nothing else.

While PostgreSQL is unreachable, tokens and sessions cannot be checked: a request that carries
either gets a 503 that says so, never ops data and never a 500 with the driver's message; a request
with neither is still refused with a 401. The engine's pre-ping reconnects when the database is
back, so the process recovers without a restart.

This module only assembles the app: the middleware (relops.web.access), the routers of
relops.web.routes, the static files and the 503 handlers, around the one WebDeps of the process
(relops.web.deps) that every handler is given.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from relops import __version__
from relops.web.access import AccessControl, with_protection_headers
from relops.web.body_limit import MAX_BODY_BYTES, BodyLimit
from relops.web.deps import WebDeps
from relops.web.responses import DATABASE_UNAVAILABLE, database_unavailable
from relops.web.routes import api, auth, metrics, pages, public


def create_app(deps: WebDeps) -> FastAPI:
    """The dashboard and API of one process: its middleware, routers and static files, with ``deps``
    (build_web_deps) for every handler."""
    # The API's schema is served to admins; no docs pages (they would load scripts from a CDN).
    app = FastAPI(title="relops", version=__version__, docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.deps = deps
    # Inside AccessControl: a caller is identified (and refused) before any body is read, and the
    # 413 gets the security headers.
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    password = deps.engine.url.password
    app.add_middleware(AccessControl, authenticator=deps.authenticator, password=password)
    app.mount("/static", public.static_files(), name="static")

    def on_database_unavailable(request: Request, exc: Exception) -> Response:
        return with_protection_headers(request, database_unavailable(request, exc, password))

    for error in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error, on_database_unavailable)
    for router in (public.router, metrics.router, api.router, pages.router, auth.router):
        app.include_router(router)
    return app
