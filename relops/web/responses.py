"""The answers the dashboard gives outside its routes' own: a refusal (401, 403) and the 503 of an
unreachable database, in JSON for the API and as a page otherwise; never any ops data."""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from relops_client.logs import log_event
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from relops.web.auth import Principal
from relops.web.templating import TEMPLATES

#: How often the dashboard reloads itself.
REFRESH_S = 30
#: The database cannot be reached right now (refused, connection cut, pool exhausted): a later
#: request can succeed, so these are a 503, not a 500. Other database errors (a missing grant, a
#: bad query) are bugs and stay 500s.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError)
#: What a 503 tells clients to wait before trying again: the dashboard's own refresh interval.
RETRY_AFTER_S = REFRESH_S
UNAVAILABLE_DETAIL = (
    "The database is unavailable: ops data cannot be read and tokens cannot be checked right now. Try again shortly."
)

logger = logging.getLogger(__name__)


def database_unavailable(request: Request, exc: Exception, password: str | None = None) -> Response:
    """The 503 for a request that needed an unreachable database.

    The body is fixed text: the driver's message names the server, port and user, so it goes only
    to the log (its first line, with the connection's password masked should a message quote it).
    """
    cause = getattr(exc, "orig", None) or exc
    reason = (str(cause).strip().splitlines() or ["-"])[0]
    if password:
        reason = reason.replace(password, "***")
    log_event(
        logger,
        logging.ERROR,
        "web.database_unavailable",
        method=request.method,
        path=request.url.path,
        error=type(cause).__name__,
        reason=reason,
    )
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": UNAVAILABLE_DETAIL}, status_code=503, headers=headers)
    return TEMPLATES.TemplateResponse(
        request,
        "unavailable.html",
        {"detail": UNAVAILABLE_DETAIL, "refresh_s": RETRY_AFTER_S},
        status_code=503,
        headers=headers,
    )


def refusal(request: Request, status: int, detail: str, principal: Principal | None = None) -> Response:
    """401 or 403, in JSON for the API and as a page otherwise; never any ops data."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    if status == 401:
        return TEMPLATES.TemplateResponse(request, "login.html", {"error": None}, status_code=401, headers=headers)
    context = {
        "user": principal.user if principal else None,
        "detail": detail,
        "csrf": principal.csrf if principal else "",
    }
    return TEMPLATES.TemplateResponse(request, "forbidden.html", context, status_code=403)


def plain_refusal(status: int, detail: str) -> Response:
    """401 or 403 for a scraper: plain text, which Prometheus shows as the target's error."""
    headers = {"WWW-Authenticate": 'Bearer realm="metrics"'} if status == 401 else {}
    return PlainTextResponse(detail + "\n", status_code=status, headers=headers)
