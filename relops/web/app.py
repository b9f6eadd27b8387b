"""The dashboard and JSON API. Every ops endpoint and page: anonymous 401, viewer 403, admin 200.

The service reads with the relops_web database role, which can read the ops tables and change an
incident's status, nothing else.

While PostgreSQL is unreachable, tokens cannot be checked: every request that needs the database
(any request with a token) gets a 503 that says so, never ops data, never a 500 with the driver's
message; a request without a token is still refused with a 401. The engine's pre-ping reconnects
when the database is back, so the process recovers without a restart.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from relops import __version__
from relops.alerting.incidents import Action, change_incident
from relops.breakers.client import process_breakers
from relops.db import CONNECT_TIMEOUT_S
from relops.logs import log_event
from relops.runtime import get_channels, get_config, redis
from relops.settings import get_settings
from relops.snapshot import collect_snapshot
from relops.store.users import User
from relops.timeutil import utcnow
from relops.tokens import csrf_token
from relops.web.auth import COOKIE, authenticate, request_token

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
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


def _safe_link(url: str) -> str | None:
    """Only absolute http(s) URLs become links; anything else is shown as text."""
    return url if url.startswith(("https://", "http://")) else None


def _when(iso: str | None) -> str:
    """2026-11-27 12:04:44 UTC from an ISO timestamp; "-" for none."""
    if not iso:
        return "-"
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _when_ms(epoch_ms: int | None) -> str:
    return "-" if not epoch_ms else datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


TEMPLATES.env.filters.update(safe_link=_safe_link, when=_when, when_ms=_when_ms)


def snapshot_now(engine: Engine) -> dict[str, Any]:
    return collect_snapshot(engine, redis(), get_config(), process_breakers())


def change(engine: Engine, incident_id: int, action: Action) -> bool:
    return change_incident(engine, redis(), list(get_channels()), incident_id, action, utcnow()) is not None


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
    headers = {"Retry-After": str(RETRY_AFTER_S), "Cache-Control": "no-store"}
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": UNAVAILABLE_DETAIL}, status_code=503, headers=headers)
    return TEMPLATES.TemplateResponse(
        request,
        "unavailable.html",
        {"detail": UNAVAILABLE_DETAIL, "refresh_s": RETRY_AFTER_S},
        status_code=503,
        headers=headers,
    )


def create_app(database_url: str | None = None) -> FastAPI:
    engine = create_engine(
        database_url or get_settings().web_db_url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
    )
    app = FastAPI(title="relops", version=__version__, docs_url="/api/docs", openapi_url="/api/openapi.json")

    def on_database_unavailable(request: Request, exc: Exception) -> Response:
        return database_unavailable(request, exc, engine.url.password)

    for error in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error, on_database_unavailable)

    def api_admin(request: Request) -> User:
        user = authenticate(engine, request_token(request))
        if user is None:
            raise HTTPException(401, "authentication required", headers={"WWW-Authenticate": "Bearer"})
        if not user.is_admin:
            raise HTTPException(403, "only admins may read ops data")
        return user

    def page_user(request: Request) -> tuple[User | None, Response | None]:
        user = authenticate(engine, request_token(request))
        if user is None:
            return None, TEMPLATES.TemplateResponse(request, "login.html", {"error": None}, status_code=401)
        if not user.is_admin:
            return user, TEMPLATES.TemplateResponse(request, "forbidden.html", {"user": user}, status_code=403)
        return user, None

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/api/v1/snapshot", summary="The reliability snapshot: burn rates, breakers, cron jobs, incidents")
    def snapshot(request: Request) -> JSONResponse:
        api_admin(request)
        return JSONResponse(snapshot_now(engine))

    @app.post("/api/v1/incidents/{incident_id}/{action}", summary="Acknowledge or resolve an incident")
    def incident_api(incident_id: int, action: str, request: Request) -> dict[str, Any]:
        api_admin(request)
        if action not in ("ack", "resolve"):
            raise HTTPException(404, "action must be ack or resolve")
        if not change(engine, incident_id, action):
            raise HTTPException(409, f"incident {incident_id} does not exist or cannot {action} from its status")
        return {"incident": incident_id, "action": action}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(request: Request) -> Response:
        user, refusal = page_user(request)
        if refusal is not None:
            return refusal
        snap = snapshot_now(engine)
        token = request_token(request) or ""
        return TEMPLATES.TemplateResponse(
            request,
            "dashboard.html",
            {"snap": snap, "user": user, "csrf": csrf_token(token), "refresh_s": REFRESH_S},
        )

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request) -> Response:
        return TEMPLATES.TemplateResponse(request, "login.html", {"error": None})

    @app.post("/login", include_in_schema=False)
    def login(request: Request, token: str = Form(...)) -> Response:
        if authenticate(engine, token) is None:
            return TEMPLATES.TemplateResponse(request, "login.html", {"error": "unknown token"}, status_code=401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https", max_age=12 * 3600
        )
        return response

    @app.post("/logout", include_in_schema=False)
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.post("/incidents/{incident_id}/{action}", include_in_schema=False)
    def incident_form(incident_id: int, action: str, request: Request, csrf: str = Form(...)) -> Response:
        _, refusal = page_user(request)
        if refusal is not None:
            return refusal
        if csrf != csrf_token(request_token(request) or "") or action not in ("ack", "resolve"):
            raise HTTPException(400, "bad form")
        change(engine, incident_id, action)
        return RedirectResponse("/", status_code=303)

    return app
