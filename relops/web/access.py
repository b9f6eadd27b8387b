"""The one middleware that decides before any route, parameter or body is looked at: who is asking
(a bearer token, or a server-side session), whether they may (admins only; a viewer may only sign
out), and, for a state-changing request made with the session cookie, whether it comes from this
origin (and, for the JSON API, carries the session's CSRF token; forms carry it as a field). Every
response gets the security headers, and everything but the static files ``Cache-Control: no-store``.

``/metrics`` takes one credential only: a metrics key (``relops keys add NAME --scope metrics``), a
bearer key that reads it and nothing else. A report key is refused there (403), and so is every
user's token and session (401): a scraper's config holds a credential that can change nothing.
Everywhere else a metrics key is no user's token, and is refused as one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from relops_client.logs import log_event
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware

from relops.access.report_keys import METRICS_SCOPE, metrics_refusal
from relops.web.auth import AmbiguousCookie, Authenticator
from relops.web.deps import client_address
from relops.web.protection import NO_STORE, SAFE_METHODS, SECURITY_HEADERS, csrf_matches, same_origin
from relops.web.responses import DATABASE_UNAVAILABLE, database_unavailable, plain_refusal, refusal

#: Routes anyone may reach: signing in, the health check, the stylesheet.
PUBLIC_PATHS = frozenset({"/login", "/healthz"})
PUBLIC_PREFIXES = ("/static/",)
#: A viewer may reach these and nothing else: they can sign out of their session.
VIEWER_PATHS = frozenset({"/logout"})
#: Read with a metrics key, and with nothing else.
METRICS_PATH = "/metrics"
NO_METRICS_KEY = (
    f"{METRICS_PATH} takes a metrics key as Authorization: Bearer <key> "
    f"(relops keys add NAME --scope {METRICS_SCOPE}); user tokens and sessions are not accepted here"
)

logger = logging.getLogger(__name__)


def own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def with_protection_headers(request: Request, response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    if not request.url.path.startswith(PUBLIC_PREFIXES):
        response.headers.update(NO_STORE)
    return response


class AccessControl(BaseHTTPMiddleware):
    """Authentication, authorization and cross-site checks for every route, before routing."""

    def __init__(self, app: Any, authenticator: Authenticator, password: str | None) -> None:
        super().__init__(app)
        self.authenticator = authenticator
        self.password = password

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        return with_protection_headers(request, await self._checked(request, call_next))

    async def _checked(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path, unsafe = request.url.path, request.method not in SAFE_METHODS
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            # Signing in from another site (login CSRF) would sign the victim in as the attacker.
            if unsafe and not same_origin(request.headers, own_origin(request)):
                return refusal(request, 403, "cross-site request refused")
            return await call_next(request)
        if path == METRICS_PATH:
            return await self._scrape(request, call_next)
        try:
            principal = await run_in_threadpool(self.authenticator.identify, request)
        except AmbiguousCookie:
            log_event(logger, logging.WARNING, "web.cookie_ambiguous", path=path, client=client_address(request))
            principal = None
        except DATABASE_UNAVAILABLE as exc:
            return database_unavailable(request, exc, self.password)
        if principal is None:
            return refusal(request, 401, "authentication required")
        if not principal.user.is_admin and path not in VIEWER_PATHS:
            return refusal(request, 403, "only admins may read ops data", principal)
        if unsafe and principal.via == "web":
            if not same_origin(request.headers, own_origin(request)):
                return refusal(request, 403, "cross-site request refused", principal)
            if path.startswith("/api/") and not csrf_matches(
                principal.session_id or "", request.headers.get("x-csrf-token")
            ):
                return refusal(request, 403, "missing or wrong X-CSRF-Token for a signed-in session", principal)
        request.state.principal = principal
        return await call_next(request)

    async def _scrape(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """/metrics: a live metrics key, or a refusal. An admin's token is refused too, so that no
        scraper's config ever holds a credential that can acknowledge, resolve or silence."""
        try:
            key = await run_in_threadpool(self.authenticator.scraper, request)
        except DATABASE_UNAVAILABLE as exc:
            return database_unavailable(request, exc, self.password)
        if key is None:
            return plain_refusal(401, NO_METRICS_KEY)
        reason = metrics_refusal(key.name, key.scopes)
        if reason is not None:
            return plain_refusal(403, reason)
        request.state.scraper = key.name
        return await call_next(request)
