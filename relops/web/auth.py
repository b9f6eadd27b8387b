"""Who is asking: a bearer token (API clients) or a server-side session (the signed-in browser).

The session cookie carries only a random session id; ops_sessions keeps its hash, its user, and
its limits (an absolute lifetime and an idle timeout), checked on every request, so signing out,
revoking a user or changing their role ends a session on the server, whatever the browser kept.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from fastapi import Request
from relops_client.logs import log_event
from sqlalchemy import Engine

from relops.access.report_keys import hash_key
from relops.application.audit import Actor
from relops.settings import Settings
from relops.store.report_keys import scrape_key
from relops.store.sessions import (
    create_session,
    delete_expired_sessions,
    delete_session,
    live_session,
    touch_session,
)
from relops.store.users import User, user_by_token_hash
from relops.timeutil import utcnow
from relops.tokens import hash_token
from relops.web.protection import csrf_token

#: Over plain HTTP (development).
SESSION_COOKIE = "relops_session"
#: Over https: a __Host- cookie is Secure, host-only and for the whole path, so no sibling
#: subdomain can set one that shadows it.
SECURE_SESSION_COOKIE = "__Host-relops_session"
#: A session's last use is written at most this often: the idle timeout is exact to this much.
TOUCH_EVERY_S = 60
#: Longer credentials are refused unread (relops' tokens and session ids are 47 and 43 characters).
MAX_CREDENTIAL_CHARS = 200

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    user: User
    #: web: a signed-in browser (a session cookie); api: a bearer token.
    via: Literal["web", "api"]
    #: The session id (web only); the CSRF token of its forms derives from it.
    session_id: str | None = None

    @property
    def csrf(self) -> str:
        return csrf_token(self.session_id) if self.session_id else ""


@dataclass(frozen=True)
class Scraper:
    """A live key presented to /metrics: its name and scopes (whether it may read is decided by
    relops.access.report_keys.metrics_refusal)."""

    name: str
    scopes: frozenset[str]


class AmbiguousCookie(Exception):
    """The request carries the session cookie more than once: one may have been planted."""


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def cookie_values(request: Request, name: str) -> list[str]:
    """Every value the Cookie header gives ``name`` (Starlette keeps only one of duplicates)."""
    values = []
    for part in request.headers.get("cookie", "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            values.append(value.strip())
    return values


class Authenticator:
    def __init__(self, engine: Engine, settings: Settings, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock

    def secure(self, request: Request) -> bool:
        mode = self.settings.web_secure_cookies
        return mode == "true" or (mode == "auto" and request.url.scheme == "https")

    def cookie_name(self, request: Request) -> str:
        return SECURE_SESSION_COOKIE if self.secure(request) else SESSION_COOKIE

    def identify(self, request: Request) -> Principal | None:
        """The principal behind the request, or None. Raises the database's errors (the caller
        answers 503) and AmbiguousCookie."""
        token = bearer_token(request)
        if token is not None:
            if len(token) > MAX_CREDENTIAL_CHARS:
                return None
            with self.engine.connect() as conn:
                user = user_by_token_hash(conn, hash_token(token))
            return None if user is None else Principal(user, "api")
        values = cookie_values(request, self.cookie_name(request))
        if len(values) > 1:
            raise AmbiguousCookie
        if not values or not values[0] or len(values[0]) > MAX_CREDENTIAL_CHARS:
            return None
        session_id = values[0]
        now = self.clock()
        with self.engine.begin() as conn:
            live = live_session(
                conn, hash_token(session_id), now, now - timedelta(seconds=self.settings.web_session_idle_s)
            )
            if live is None:
                return None
            if (now - live.last_used_at).total_seconds() >= TOUCH_EVERY_S:
                touch_session(conn, live.session_id, now)
        return Principal(live.user, "web", session_id)

    def scraper(self, request: Request) -> Scraper | None:
        """The live key (metrics or report) the request's bearer credential is, or None. Only /metrics
        asks: everywhere else a key is no user's token and is refused as such. Raises the database's
        errors (the caller answers 503)."""
        token = bearer_token(request)
        if token is None or len(token) > MAX_CREDENTIAL_CHARS:
            return None
        with self.engine.connect() as conn:
            found = scrape_key(conn, hash_key(token))
        return None if found is None else Scraper(*found)

    def sign_in(self, name: str, token: str, client: str) -> Principal | None:
        """A new session for the user named ``name`` whose token is ``token``; None if they do not
        match (or the user is revoked)."""
        if not token or len(token) > MAX_CREDENTIAL_CHARS:
            return None
        now = self.clock()
        session_id = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            user = user_by_token_hash(conn, hash_token(token))
            if user is None or user.name != name:
                return None
            delete_expired_sessions(conn, now)  # sign-ins are rare: the table stays small
            expires_at = now + timedelta(seconds=self.settings.web_session_max_s)
            create_session(conn, hash_token(session_id), user.id, now, expires_at, client)
            Actor(user.name, "web", client).record(conn, "session.login", f"user {user.name}")
        log_event(logger, logging.INFO, "web.signed_in", user=user.name, client=client)
        return Principal(user, "web", session_id)

    def sign_out(self, principal: Principal) -> None:
        if principal.session_id:
            with self.engine.begin() as conn:
                delete_session(conn, hash_token(principal.session_id))
